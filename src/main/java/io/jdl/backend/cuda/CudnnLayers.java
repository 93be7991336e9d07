package io.jdl.backend.cuda;

import io.jdl.backend.ConvShape;
import io.jdl.backend.PoolShape;
import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.NativeKernels;
import io.jdl.device.DType;
import io.jdl.cudnn.ConvolutionPlan;
import io.jdl.cudnn.Cudnn;
import io.jdl.cudnn.CudnnDataType;
import io.jdl.cudnn.FlashAttention;
import io.jdl.cudnn.FlashAttentionPlan;
import io.jdl.cudnn.FlashAttentionPlans;
import java.util.HashMap;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * The layers {@link CudaBackend} runs through cuDNN on device memory: convolution, pooling and batch norm,
 * all NCHW float32, with their descriptors from the backend's {@link DescriptorCache} and convolution plans
 * cached per shape, data type and math mode.
 *
 * <p>Half precision: the convolutions take float32, bfloat16 or float16 device memory (the three operands of one
 * {@link #convType}; cuDNN's PSEUDO_HALF / PSEUDO_BFLOAT16 configurations: float32 compute, outputs rounded once),
 * and {@link #flashAttentionForward} / {@link #flashAttentionBackward} run cuDNN's fused attention,
 * answering false where cuDNN declines the configuration so that the caller runs its GEMM attention instead. Zero-element operands are handled here as on the CPU backend:
 * an empty output is left alone, an output reduced over an empty extent is zero.
 *
 * <p>Owned by one backend and used from one thread at a time, like the cuDNN handle.
 */
final class CudnnLayers {
    /**
     * A convolution shape, data type and math mode: TF32 on and off choose (and run) different algorithms;
     * half data always allows tensor cores.
     */
    private record PlanKey(ConvShape shape, CudnnDataType type, boolean tensorOps) {}

    private final Cudnn cudnn;
    private final CachingAllocator allocator;
    private final BooleanSupplier tf32;
    private final DescriptorCache descriptors;
    private final CudaElementwise elementwise;
    /** Convolution algorithms and descriptors, chosen once per shape and math mode. */
    private final Map<PlanKey, ConvolutionPlan> convPlans = new HashMap<>();
    private final FlashAttentionPlans attentionPlans;

    /** {@code tf32}: whether convolutions may use TF32 now ({@code Precision::cudnnAllowTf32}), read per call. */
    CudnnLayers(Cudnn cudnn, CachingAllocator allocator, BooleanSupplier tf32, DescriptorCache descriptors,
                CudaElementwise elementwise) {
        this.cudnn = cudnn;
        this.allocator = allocator;
        this.tf32 = tf32;
        this.descriptors = descriptors;
        this.elementwise = elementwise;
        this.attentionPlans = new FlashAttentionPlans(cudnn);
    }

    /** Sets the first {@code n} floats of {@code m} to {@code value} (nothing for n = 0). */
    private void fill(DeviceMemory m, long n, float value) {
        elementwise.fill(m, n, value);
    }

    /** Sets the first {@code n} elements of {@code type} to +0 (all-zero bits in each of the three formats). */
    private void zero(DeviceMemory m, long n, CudnnDataType type) {
        if (type == CudnnDataType.FLOAT) {
            fill(m, n, 0f);
        } else if (n > 0) {
            cudnn.stream().memset(m, 0, 0, n * type.bytes());
        }
    }

    /** A workspace block from the caching allocator (null for none); freed blocks are reused at once. */
    DeviceMemory workspace(long bytes) {
        return bytes > 0 ? allocator.allocate(bytes) : null;
    }

    // ---- convolution ----

    private ConvolutionPlan plan(ConvShape s, CudnnDataType type) {
        boolean tensorOps = type != CudnnDataType.FLOAT || tf32.getAsBoolean();
        return convPlans.computeIfAbsent(new PlanKey(s, type, tensorOps), key -> new ConvolutionPlan(cudnn, type, s.n(),
                s.c(), s.h(), s.w(), s.k(), s.r(), s.s(), s.padH(), s.padW(), s.strideH(), s.strideW(), s.dilationH(),
                s.dilationW(), s.groups(), s.outH(), s.outW(), tensorOps));
    }

    /** cuDNN's type for a convolution's three operands, which must share one float dtype (float32 compute). */
    static CudnnDataType convType(DType a, DType b, DType c) {
        if (b != a || c != a || !a.isFloatingPoint()) {
            throw new IllegalStateException("a CUDA convolution takes three operands of one float dtype, got " + a + ", "
                    + b + " and " + c + " (the tensor layer must convert)");
        }
        return switch (a) {
            case BFLOAT16 -> CudnnDataType.BFLOAT16;
            case FLOAT16 -> CudnnDataType.HALF;
            default -> CudnnDataType.FLOAT;
        };
    }

    /** y = conv(x, w) with every operand of {@code type}, computed in float32. */
    void conv2d(ConvShape s, CudnnDataType type, DeviceMemory x, DeviceMemory w, DeviceMemory y) {
        long outputs = (long) s.n() * s.k() * s.outH() * s.outW();
        if (outputs > 0 && s.c() == 0) {
            zero(y, outputs, type);
        } else if (outputs > 0) {
            plan(s, type).forward(cudnn, x, w, y, this::workspace);
        }
    }

    void conv2dBackwardData(ConvShape s, CudnnDataType type, DeviceMemory w, DeviceMemory dy, DeviceMemory dx) {
        long inputs = (long) s.n() * s.c() * s.h() * s.w();
        if (inputs > 0 && s.k() == 0) {
            zero(dx, inputs, type);
        } else if (inputs > 0) {
            plan(s, type).backwardData(cudnn, w, dy, dx, this::workspace);
        }
    }

    void conv2dBackwardFilter(ConvShape s, CudnnDataType type, DeviceMemory x, DeviceMemory dy, DeviceMemory dw) {
        long weights = (long) s.k() * (s.c() / s.groups()) * s.r() * s.s();
        if (weights > 0 && s.n() == 0) {
            zero(dw, weights, type);
        } else if (weights > 0) {
            plan(s, type).backwardFilter(cudnn, x, dy, dw, this::workspace);
        }
    }

    // ---- fused attention (16-bit [B, H, T, D] operands, float32 statistics) ----

    /**
     * Whether cuDNN runs {@code config}'s forward graph, and its backward graph too when {@code withBackward}:
     * answered once per configuration (the plans and the refusals are cached).
     */
    boolean flashAttentionRuns(FlashAttention.Config config, boolean withBackward) {
        return attentionPlans.get(config, FlashAttention.Direction.FORWARD) instanceof FlashAttention.Build.Ready
                && (!withBackward || attentionPlans.get(config, FlashAttention.Direction.BACKWARD)
                        instanceof FlashAttention.Build.Ready);
    }

    /**
     * O and the log-sum-exp statistics through cuDNN's flash attention; false (nothing written) when cuDNN declines
     * {@code config} (or its backward, when {@code withBackward}), and the caller runs its GEMM attention.
     * {@code keyMask} [B, T] float32 (non-zero keeps) when {@code config.keyBias()}, else null: it becomes the
     * graph's additive bias, and the output rows of queries that see no key are zeroed after. {@code dropoutMask}
     * [B, H, T, T] float32 when {@code config.dropoutMask()}, else null.
     */
    boolean flashAttentionForward(FlashAttention.Config config, boolean withBackward, FlashAttention.Operand q,
                                  FlashAttention.Operand k, FlashAttention.Operand v, FlashAttention.Operand o,
                                  DeviceMemory stats, DeviceMemory keyMask, DeviceMemory dropoutMask) {
        if (!flashAttentionRuns(config, withBackward)) {
            return false;
        }
        FlashAttentionPlan plan = ((FlashAttention.Build.Ready) attentionPlans.get(config,
                FlashAttention.Direction.FORWARD)).plan();
        try (DeviceMemory bias = keyBias(config, keyMask)) {
            plan.forward(cudnn, q, k, v, o, stats, bias, dropoutMask, this::workspace);
        }
        zeroUnattended(config, keyMask, o, config.o());
        return true;
    }

    /**
     * dQ, dK, dV through cuDNN's flash attention from the forward's O and statistics; false when declined.
     * With a key mask, the incoming gradient's rows of queries that see no key are zeroed (in a copy) first, so
     * those queries, whose forward output jdl zeroed, pass no gradient back.
     */
    boolean flashAttentionBackward(FlashAttention.Config config, FlashAttention.Operand q, FlashAttention.Operand k,
                                   FlashAttention.Operand v, FlashAttention.Operand o, FlashAttention.Operand dO,
                                   DeviceMemory stats, DeviceMemory keyMask, DeviceMemory dropoutMask,
                                   FlashAttention.Operand dQ,
                                   FlashAttention.Operand dK, FlashAttention.Operand dV) {
        if (!(attentionPlans.get(config, FlashAttention.Direction.BACKWARD)
                instanceof FlashAttention.Build.Ready(FlashAttentionPlan plan))) {
            return false;
        }
        try (DeviceMemory bias = keyBias(config, keyMask);
             DeviceMemory dOCopy = keyMask == null ? null : allocator.allocate(dO.memory().bytes())) {
            FlashAttention.Operand gradient = dO;
            if (dOCopy != null) {
                cudnn.stream().copyOnDevice(dO.memory(), 0, dOCopy, 0, dO.memory().bytes());
                gradient = new FlashAttention.Operand(dOCopy, dO.offset());
                zeroUnattended(config, keyMask, gradient, config.o());
            }
            plan.backward(cudnn, q, k, v, o, gradient, stats, bias, dropoutMask, dQ, dK, dV, this::workspace);
        }
        return true;
    }

    /** The [B, 1, Tq, Tk] additive bias of {@code keyMask} in the config's type, or null without a mask. */
    private DeviceMemory keyBias(FlashAttention.Config config, DeviceMemory keyMask) {
        if (config.keyBias() != (keyMask != null)) {
            throw new IllegalArgumentException("flash attention: the configuration " + (config.keyBias() ? "adds a key"
                    + " bias but no key mask was given" : "adds no key bias but a key mask was given"));
        }
        if (keyMask == null) {
            return null;
        }
        int tq = config.seqQ(), tk = config.seqKV();
        DeviceMemory bias = allocator.allocate((long) config.batch() * tq * tk * config.type().bytes());
        try {
            NativeKernels.get().attentionMasks().keyBias(cudnn.stream(), keyMask, bias, config.batch(), tq, tk,
                    config.type() == CudnnDataType.BFLOAT16);
            return bias;
        } catch (RuntimeException e) {
            bias.close();
            throw e;
        }
    }

    private void zeroUnattended(FlashAttention.Config c, DeviceMemory keyMask, FlashAttention.Operand x,
                                FlashAttention.Layout layout) {
        if (keyMask != null) {
            NativeKernels.get().attentionMasks().zeroUnattended(cudnn.stream(), keyMask, x.memory(), x.offset(),
                    c.batch(), c.heads(), c.seqQ(), c.seqKV(), c.headDim(), c.causal(), layout.batch(),
                    layout.head(), layout.row());
        }
    }

    // ---- pooling ----

    void pool2d(PoolShape s, DeviceMemory x, DeviceMemory y) {
        if ((long) s.n() * s.c() * s.outH() * s.outW() == 0) {
            return;
        }
        cudnn.poolingForward(descriptors.pooling(s), descriptors.tensor(s.n(), s.c(), s.h(), s.w()), x,
                descriptors.tensor(s.n(), s.c(), s.outH(), s.outW()), y);
    }

    void pool2dBackward(PoolShape s, DeviceMemory x, DeviceMemory y, DeviceMemory dy, DeviceMemory dx) {
        if ((long) s.n() * s.c() * s.outH() * s.outW() == 0) {
            fill(dx, (long) s.n() * s.c() * s.h() * s.w(), 0f);
            return;
        }
        cudnn.poolingBackward(descriptors.pooling(s), descriptors.tensor(s.n(), s.c(), s.outH(), s.outW()), y, dy,
                descriptors.tensor(s.n(), s.c(), s.h(), s.w()), x, dx);
    }

    // ---- batch norm: x [n, c, hw, 1], per-channel parameters [1, c, 1, 1] ----

    void batchNormTrain(int n, int c, int hw, DeviceMemory x, DeviceMemory gamma, DeviceMemory beta, DeviceMemory y,
                        DeviceMemory runningMean, DeviceMemory runningVar, DeviceMemory saveMean,
                        DeviceMemory saveInvStd, float momentum, float eps) {
        if ((long) n * c * hw == 0) {
            return;  // no batch statistics: the running ones stay as they are
        }
        cudnn.batchNormForwardTraining(descriptors.tensor(n, c, hw, 1), x, y, descriptors.tensor(1, c, 1, 1), gamma,
                beta, momentum, runningMean, runningVar, eps, saveMean, saveInvStd);
    }

    void batchNormInference(int n, int c, int hw, DeviceMemory x, DeviceMemory gamma, DeviceMemory beta,
                            DeviceMemory runningMean, DeviceMemory runningVar, DeviceMemory y, float eps) {
        if ((long) n * c * hw == 0) {
            return;
        }
        cudnn.batchNormForwardInference(descriptors.tensor(n, c, hw, 1), x, y, descriptors.tensor(1, c, 1, 1), gamma,
                beta, runningMean, runningVar, eps);
    }

    void batchNormBackward(int n, int c, int hw, DeviceMemory x, DeviceMemory dy, DeviceMemory gamma,
                           DeviceMemory saveMean, DeviceMemory saveInvStd, DeviceMemory dx, DeviceMemory dGamma,
                           DeviceMemory dBeta, float eps) {
        if (c > 0 && (long) n * hw == 0) {
            fill(dGamma, c, 0f);
            fill(dBeta, c, 0f);
        } else if (c > 0) {
            cudnn.batchNormBackward(descriptors.tensor(n, c, hw, 1), x, dy, dx, descriptors.tensor(1, c, 1, 1), gamma,
                    dGamma, dBeta, eps, saveMean, saveInvStd);
        }
    }
}
