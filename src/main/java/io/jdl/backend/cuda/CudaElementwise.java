package io.jdl.backend.cuda;

import io.jdl.backend.Activation;
import io.jdl.backend.Storage;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.MixedPrecisionKernels.Element;
import io.jdl.cuda.NativeKernels;
import io.jdl.cuda.PointwiseKernels;
import io.jdl.cuda.Stream;
import java.util.function.Function;

/**
 * The pointwise family of {@link CudaBackend}: fill, axpby, products, biases, broadcast, the activations with their
 * backward, dropout and the sums over one axis, each one launch of a jdl kernel (no cuDNN descriptor, no per-call
 * native set-up). Callers have checked sizes; zero elements queue nothing.
 *
 * <p>Every storage operand may be float32, bfloat16 or float16, each its own ({@link PointwiseKernels}' element
 * types): the kernels widen what they read to float32 and round what they write once, so a half op costs the one
 * launch of its float32 form, not a cast in and out around it. Integer and bool storages throw
 * {@link IllegalStateException} naming the primitive and the dtype. Dropout's mask and {@code mulScalar}'s scalar
 * stay float32.
 *
 * <p>Owned by one backend and used from one thread at a time, like its stream.
 */
final class CudaElementwise {
    private final Stream stream;
    /** The backend's storage-to-memory lookup, which checks the storage's device. */
    private final Function<Storage, DeviceMemory> memory;

    CudaElementwise(Stream stream, Function<Storage, DeviceMemory> memory) {
        this.stream = stream;
        this.memory = memory;
    }

    private static PointwiseKernels kernels() {
        return NativeKernels.get().pointwise();
    }

    /** The element type of a pointwise operand; integer and bool storages have no pointwise kernel. */
    static Element type(String primitive, Storage s) {
        return switch (s.dtype()) {
            case FLOAT32, BFLOAT16, FLOAT16 -> CudaCasts.element(s.dtype());
            default -> throw new IllegalStateException("CUDA " + primitive + " takes float32, bfloat16 or float16"
                    + " storages, got " + s.dtype());
        };
    }

    /** The memory of a storage that stays float32 whatever the operands (a mask, a device scalar). */
    private DeviceMemory float32(String primitive, String operand, Storage s) {
        if (type(primitive, s) != Element.F32) {
            throw new IllegalStateException("CUDA " + primitive + ": " + operand + " must be float32, got " + s.dtype());
        }
        return memory.apply(s);
    }

    private DeviceMemory mem(Storage s) {
        return memory.apply(s);
    }

    /** The first {@code n} floats of float32 memory set to {@code value} (the cuDNN and cuBLAS wrappers' zeroing). */
    void fill(DeviceMemory out, long n, float value) {
        kernels().fill(stream, out, n, value);
    }

    void fill(Storage out, float value) {
        kernels().fill(stream, mem(out), type("fill", out), out.numel(), value);
    }

    /** The first {@code bytes} of out set to zero bits: +0 in every float dtype. */
    void zeroBytes(DeviceMemory out, long bytes) {
        if (bytes > 0) {
            stream.memset(out, 0, 0, bytes);
        }
    }

    void axpby(float alpha, Storage a, float beta, Storage b, Storage out, long n) {
        kernels().axpby(stream, alpha, mem(a), type("axpby", a), beta, mem(b), type("axpby", b), mem(out),
                type("axpby", out), n);
    }

    void mul(Storage a, Storage b, Storage out, long n) {
        kernels().mul(stream, mem(a), type("mul", a), mem(b), type("mul", b), mem(out), type("mul", out), n);
    }

    /** out [rows, cols] = x + bias[col]. */
    void addBias(Storage x, Storage bias, Storage out, int rows, int cols) {
        biasActivation("addBias", PointwiseKernels.Epilogue.IDENTITY, 0f, x, bias, null, out, rows, cols, 1);
    }

    /** out [n, c, hw] = x + bias[channel]. */
    void addChannelBias(Storage x, Storage bias, Storage out, int n, int c, int hw) {
        biasActivation("addChannelBias", PointwiseKernels.Epilogue.IDENTITY, 0f, x, bias, null, out, n, c, hw);
    }

    void broadcastBinary(boolean multiply, float alpha, float beta, Storage a, int[] aStrides, Storage b,
                         int[] bStrides, Storage out, int[] dims) {
        kernels().broadcastBinary(stream, mem(a), type("broadcastBinary", a), aStrides, mem(b),
                type("broadcastBinary", b), bStrides, mem(out), type("broadcastBinary", out), dims, multiply, alpha,
                beta);
    }

    void broadcast(Storage x, Storage out, int outer, int dim, int inner) {
        kernels().broadcast(stream, mem(x), type("broadcast", x), mem(out), type("broadcast", out), outer, dim, inner);
    }

    void mulScalar(Storage x, Storage s, Storage out, long n) {
        kernels().mulScalar(stream, mem(x), type("mulScalar", x), float32("mulScalar", "s", s), mem(out),
                type("mulScalar", out), n);
    }

    void activation(Activation act, float param, Storage x, Storage y, long n) {
        kernels().activation(stream, pointwise(act), param, mem(x), type("activation", x), mem(y),
                type("activation", y), n);
    }

    /** y = act(x + bias[channel]) for x [n, c, hw], pre (may be null) = x + bias: one launch. */
    void biasActivation(Activation act, float param, Storage x, Storage bias, Storage pre, Storage y, int n, int c,
                        int hw) {
        PointwiseKernels.Epilogue epilogue = switch (act) {
            case RELU -> PointwiseKernels.Epilogue.RELU;
            case LEAKY_RELU -> PointwiseKernels.Epilogue.LEAKY_RELU;
            case SIGMOID -> PointwiseKernels.Epilogue.SIGMOID;
            case TANH -> PointwiseKernels.Epilogue.TANH;
            case GELU -> PointwiseKernels.Epilogue.GELU;
        };
        biasActivation("biasActivation", epilogue, param, x, bias, pre, y, n, c, hw);
    }

    private void biasActivation(String primitive, PointwiseKernels.Epilogue epilogue, float param, Storage x,
                                Storage bias, Storage pre, Storage y, int n, int c, int hw) {
        kernels().biasActivation(stream, epilogue, param, mem(x), type(primitive, x), mem(bias), type(primitive, bias),
                pre == null ? null : mem(pre), pre == null ? Element.F32 : type(primitive, pre), mem(y),
                type(primitive, y), n, c, hw);
    }

    /** dx = act'(·)·dy, from y for sigmoid and tanh, from x for the others (the one not read may be null). */
    void activationBackward(Activation act, float param, Storage x, Storage y, Storage dy, Storage dx, long n) {
        PointwiseKernels.Activation kernel = pointwise(act);
        Storage from = kernel.backwardReadsOutput() ? y : x;
        kernels().activationBackward(stream, kernel, param, mem(from), type("activationBackward", from), mem(dy),
                type("activationBackward", dy), mem(dx), type("activationBackward", dx), n);
    }

    private static PointwiseKernels.Activation pointwise(Activation act) {
        return switch (act) {
            case RELU -> PointwiseKernels.Activation.RELU;
            case LEAKY_RELU -> PointwiseKernels.Activation.LEAKY_RELU;
            case SIGMOID -> PointwiseKernels.Activation.SIGMOID;
            case TANH -> PointwiseKernels.Activation.TANH;
            case GELU -> PointwiseKernels.Activation.GELU;
        };
    }

    /**
     * Inverted dropout, y = x·mask with the float32 mask of {@link NativeKernels#dropout}; while a CUDA graph is
     * captured ({@code replayCounter} not null), the seed becomes seed + replays on the device.
     */
    void dropout(Storage x, Storage y, Storage mask, long n, float p, long seed, DeviceMemory replayCounter) {
        Element xType = type("dropout", x);
        Element yType = type("dropout", y);
        DeviceMemory maskMemory = float32("dropout", "mask", mask);
        if (n == 0) {
            return;
        }
        if (replayCounter != null) {
            NativeKernels.get().dropoutCounted(stream, mem(x), xType, mem(y), yType, maskMemory, n, p, seed,
                    replayCounter);
        } else {
            NativeKernels.get().dropout(stream, mem(x), xType, mem(y), yType, maskMemory, n, p, seed);
        }
    }

    /**
     * For x [outer, dim, inner]: out[o, i] = Σ_d x[o, d, i], summed in float32 and rounded once into out's dtype;
     * dim 1 is a copy (a cast when the dtypes differ), dim 0 gives zeros.
     */
    void sum(Storage x, Storage out, int outer, int dim, int inner) {
        Element xType = type("sum", x);
        Element outType = type("sum", out);
        if (dim == 1) {
            CudaCasts.cast(stream, mem(x), x.dtype(), mem(out), out.dtype(), (long) outer * inner);
        } else {
            kernels().sum(stream, mem(x), xType, mem(out), outType, outer, dim, inner);
        }
    }

    /** A convolution's bias gradient: db[c] = Σ over n, i of dy[n, c, i]. */
    void channelBiasBackward(Storage dy, Storage db, int n, int c, int hw) {
        kernels().channelBiasBackward(stream, mem(dy), type("channelBiasBackward", dy), mem(db),
                type("channelBiasBackward", db), n, c, hw);
    }
}
