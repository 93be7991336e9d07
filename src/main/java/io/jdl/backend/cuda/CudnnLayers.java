package io.jdl.backend.cuda;

import io.jdl.backend.Activation;
import io.jdl.backend.ConvShape;
import io.jdl.backend.PoolShape;
import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cudnn.ActivationDescriptor;
import io.jdl.cudnn.ConvolutionPlan;
import io.jdl.cudnn.Cudnn;
import io.jdl.cudnn.PoolingDescriptor;
import io.jdl.cudnn.TensorDescriptor;
import java.util.HashMap;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * The layers {@link CudaBackend} runs through cuDNN on device memory: activations, convolution (with its
 * bias), pooling and batch norm, all NCHW float32. Zero-element operands are handled here as on the CPU backend:
 * an empty output is left alone, an output reduced over an empty extent is zero.
 *
 * <p>Owned by one backend and used from one thread at a time, like the cuDNN handle.
 */
final class CudnnLayers {
    /** A convolution shape under one math mode: TF32 on and off choose (and run) different algorithms. */
    private record PlanKey(ConvShape shape, boolean tf32) {}

    private final Cudnn cudnn;
    private final CachingAllocator allocator;
    private final BooleanSupplier tf32;
    private final ActivationDescriptor relu = new ActivationDescriptor(ActivationDescriptor.Mode.RELU);
    private final ActivationDescriptor sigmoid = new ActivationDescriptor(ActivationDescriptor.Mode.SIGMOID);
    private final ActivationDescriptor tanh = new ActivationDescriptor(ActivationDescriptor.Mode.TANH);
    /** Convolution algorithms and descriptors, chosen once per shape and math mode. */
    private final Map<PlanKey, ConvolutionPlan> convPlans = new HashMap<>();

    CudnnLayers(Cudnn cudnn, CachingAllocator allocator, BooleanSupplier tf32) {
        this.cudnn = cudnn;
        this.allocator = allocator;
        this.tf32 = tf32;
    }

    /** Sets the first {@code n} floats of {@code m} to {@code value} (nothing for n = 0). */
    void fill(DeviceMemory m, long n, float value) {
        if (n > 0) {
            try (TensorDescriptor d = TensorDescriptor.of(Math.toIntExact(n))) {
                cudnn.setTensor(d, m, value);
            }
        }
    }

    /** A workspace block from the caching allocator (null for none); freed blocks are reused at once. */
    DeviceMemory workspace(long bytes) {
        return bytes > 0 ? allocator.allocate(bytes) : null;
    }

    // ---- activations cuDNN computes (the others are jdl's kernels) ----

    private ActivationDescriptor descriptor(Activation act) {
        return switch (act) {
            case RELU -> relu;
            case SIGMOID -> sigmoid;
            case TANH -> tanh;
            case LEAKY_RELU, GELU -> throw new IllegalArgumentException(act + " is not a cuDNN activation");
        };
    }

    /** y = act(x) over n > 0 elements. */
    void activation(Activation act, DeviceMemory x, DeviceMemory y, long n) {
        try (TensorDescriptor d = TensorDescriptor.of(Math.toIntExact(n))) {
            cudnn.activationForward(descriptor(act), 1f, d, x, 0f, d, y);
        }
    }

    /** dx = act'(x)·dy over n > 0 elements, given the forward output y. */
    void activationBackward(Activation act, DeviceMemory x, DeviceMemory y, DeviceMemory dy, DeviceMemory dx, long n) {
        try (TensorDescriptor d = TensorDescriptor.of(Math.toIntExact(n))) {
            cudnn.activationBackward(descriptor(act), 1f, d, y, dy, d, x, 0f, dx);
        }
    }

    // ---- convolution ----

    private ConvolutionPlan plan(ConvShape s) {
        boolean on = tf32.getAsBoolean();
        return convPlans.computeIfAbsent(new PlanKey(s, on), key -> new ConvolutionPlan(cudnn, s.n(), s.c(), s.h(),
                s.w(), s.k(), s.r(), s.s(), s.padH(), s.padW(), s.strideH(), s.strideW(), s.dilationH(), s.dilationW(),
                s.groups(), s.outH(), s.outW(), on));
    }

    void conv2d(ConvShape s, DeviceMemory x, DeviceMemory w, DeviceMemory y) {
        long outputs = (long) s.n() * s.k() * s.outH() * s.outW();
        if (outputs > 0 && s.c() == 0) {
            fill(y, outputs, 0f);
        } else if (outputs > 0) {
            plan(s).forward(cudnn, x, w, y, this::workspace);
        }
    }

    void conv2dBackwardData(ConvShape s, DeviceMemory w, DeviceMemory dy, DeviceMemory dx) {
        long inputs = (long) s.n() * s.c() * s.h() * s.w();
        if (inputs > 0 && s.k() == 0) {
            fill(dx, inputs, 0f);
        } else if (inputs > 0) {
            plan(s).backwardData(cudnn, w, dy, dx, this::workspace);
        }
    }

    void conv2dBackwardFilter(ConvShape s, DeviceMemory x, DeviceMemory dy, DeviceMemory dw) {
        long weights = (long) s.k() * (s.c() / s.groups()) * s.r() * s.s();
        if (weights > 0 && s.n() == 0) {
            fill(dw, weights, 0f);
        } else if (weights > 0) {
            plan(s).backwardFilter(cudnn, x, dy, dw, this::workspace);
        }
    }

    /** out[n, c, :] += bias[c]; {@code out} already holds x. */
    void addChannelBias(DeviceMemory bias, DeviceMemory out, int n, int c, int hw) {
        if ((long) n * c * hw == 0) {
            return;
        }
        try (TensorDescriptor b = TensorDescriptor.of(1, c, 1, 1); TensorDescriptor o = TensorDescriptor.of(n, c, hw, 1)) {
            cudnn.addTensor(1f, b, bias, 1f, o, out);
        }
    }

    void channelBiasBackward(DeviceMemory dy, DeviceMemory db, int n, int c, int hw) {
        if (c > 0 && (long) n * hw == 0) {
            fill(db, c, 0f);
        } else if (c > 0) {
            try (TensorDescriptor d = TensorDescriptor.of(n, c, hw, 1); TensorDescriptor b = TensorDescriptor.of(1, c, 1, 1)) {
                cudnn.convolutionBackwardBias(d, dy, b, db);
            }
        }
    }

    // ---- pooling ----

    private static PoolingDescriptor poolingDescriptor(PoolShape s) {
        return new PoolingDescriptor(s.max() ? PoolingDescriptor.Mode.MAX : PoolingDescriptor.Mode.AVERAGE_INCLUDE_PADDING,
                s.kh(), s.kw(), s.padH(), s.padW(), s.strideH(), s.strideW());
    }

    void pool2d(PoolShape s, DeviceMemory x, DeviceMemory y) {
        if ((long) s.n() * s.c() * s.outH() * s.outW() == 0) {
            return;
        }
        try (PoolingDescriptor p = poolingDescriptor(s);
             TensorDescriptor xd = TensorDescriptor.of(s.n(), s.c(), s.h(), s.w());
             TensorDescriptor yd = TensorDescriptor.of(s.n(), s.c(), s.outH(), s.outW())) {
            cudnn.poolingForward(p, xd, x, yd, y);
        }
    }

    void pool2dBackward(PoolShape s, DeviceMemory x, DeviceMemory y, DeviceMemory dy, DeviceMemory dx) {
        if ((long) s.n() * s.c() * s.outH() * s.outW() == 0) {
            fill(dx, (long) s.n() * s.c() * s.h() * s.w(), 0f);
            return;
        }
        try (PoolingDescriptor p = poolingDescriptor(s);
             TensorDescriptor xd = TensorDescriptor.of(s.n(), s.c(), s.h(), s.w());
             TensorDescriptor yd = TensorDescriptor.of(s.n(), s.c(), s.outH(), s.outW())) {
            cudnn.poolingBackward(p, yd, y, dy, xd, x, dx);
        }
    }

    // ---- batch norm: x [n, c, hw, 1], per-channel parameters [1, c, 1, 1] ----

    void batchNormTrain(int n, int c, int hw, DeviceMemory x, DeviceMemory gamma, DeviceMemory beta, DeviceMemory y,
                        DeviceMemory runningMean, DeviceMemory runningVar, DeviceMemory saveMean,
                        DeviceMemory saveInvStd, float momentum, float eps) {
        if ((long) n * c * hw == 0) {
            return;  // no batch statistics: the running ones stay as they are
        }
        try (TensorDescriptor xd = TensorDescriptor.of(n, c, hw, 1); TensorDescriptor pd = TensorDescriptor.of(1, c, 1, 1)) {
            cudnn.batchNormForwardTraining(xd, x, y, pd, gamma, beta, momentum, runningMean, runningVar, eps, saveMean,
                    saveInvStd);
        }
    }

    void batchNormInference(int n, int c, int hw, DeviceMemory x, DeviceMemory gamma, DeviceMemory beta,
                            DeviceMemory runningMean, DeviceMemory runningVar, DeviceMemory y, float eps) {
        if ((long) n * c * hw == 0) {
            return;
        }
        try (TensorDescriptor xd = TensorDescriptor.of(n, c, hw, 1); TensorDescriptor pd = TensorDescriptor.of(1, c, 1, 1)) {
            cudnn.batchNormForwardInference(xd, x, y, pd, gamma, beta, runningMean, runningVar, eps);
        }
    }

    void batchNormBackward(int n, int c, int hw, DeviceMemory x, DeviceMemory dy, DeviceMemory gamma,
                           DeviceMemory saveMean, DeviceMemory saveInvStd, DeviceMemory dx, DeviceMemory dGamma,
                           DeviceMemory dBeta, float eps) {
        if (c > 0 && (long) n * hw == 0) {
            fill(dGamma, c, 0f);
            fill(dBeta, c, 0f);
        } else if (c > 0) {
            try (TensorDescriptor xd = TensorDescriptor.of(n, c, hw, 1);
                 TensorDescriptor pd = TensorDescriptor.of(1, c, 1, 1)) {
                cudnn.batchNormBackward(xd, x, dy, dx, pd, gamma, dGamma, dBeta, eps, saveMean, saveInvStd);
            }
        }
    }
}
