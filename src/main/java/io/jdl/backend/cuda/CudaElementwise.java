package io.jdl.backend.cuda;

import io.jdl.backend.Activation;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.NativeKernels;
import io.jdl.cuda.PointwiseKernels;
import io.jdl.cuda.Stream;

/**
 * The pointwise family of {@link CudaBackend} on device memory: fill, axpby, products, biases, broadcast and
 * the activations with their backward, each one launch of a jdl kernel (no cuDNN descriptor, no per-call
 * native set-up). Callers have checked sizes; zero elements queue nothing.
 *
 * <p>Owned by one backend and used from one thread at a time, like its stream.
 */
final class CudaElementwise {
    private final Stream stream;

    CudaElementwise(Stream stream) {
        this.stream = stream;
    }

    private static PointwiseKernels kernels() {
        return NativeKernels.get().pointwise();
    }

    void fill(DeviceMemory out, long n, float value) {
        kernels().fill(stream, out, n, value);
    }

    /** The first {@code bytes} of out set to zero bits: +0 in every float dtype. */
    void zeroBytes(DeviceMemory out, long bytes) {
        if (bytes > 0) {
            stream.memset(out, 0, 0, bytes);
        }
    }

    void axpby(float alpha, DeviceMemory a, float beta, DeviceMemory b, DeviceMemory out, long n) {
        kernels().axpby(stream, alpha, a, beta, b, out, n);
    }

    void mul(DeviceMemory a, DeviceMemory b, DeviceMemory out, long n) {
        kernels().mul(stream, a, b, out, n);
    }

    /** out [rows, cols] = x + bias[col]. */
    void addBias(DeviceMemory x, DeviceMemory bias, DeviceMemory out, int rows, int cols) {
        kernels().addBias(stream, x, bias, out, rows, cols, 1);
    }

    /** out [n, c, hw] = x + bias[channel]. */
    void addChannelBias(DeviceMemory x, DeviceMemory bias, DeviceMemory out, int n, int c, int hw) {
        kernels().addBias(stream, x, bias, out, n, c, hw);
    }

    void broadcastBinary(boolean multiply, float alpha, float beta, DeviceMemory a, int[] aStrides, DeviceMemory b,
                         int[] bStrides, DeviceMemory out, int[] dims) {
        kernels().broadcastBinary(stream, a, aStrides, b, bStrides, out, dims, multiply, alpha, beta);
    }

    void broadcast(DeviceMemory x, DeviceMemory out, int outer, int dim, int inner) {
        kernels().broadcast(stream, x, out, outer, dim, inner);
    }

    void mulScalar(DeviceMemory x, DeviceMemory s, DeviceMemory out, long n) {
        kernels().mulScalar(stream, x, s, out, n);
    }

    void activation(Activation act, float param, DeviceMemory x, DeviceMemory y, long n) {
        if (n == 0) {
            return;
        }
        switch (act) {
            case LEAKY_RELU -> NativeKernels.get().leakyRelu(stream, x, y, n, param);
            case GELU -> NativeKernels.get().gelu(stream, x, y, n);
            default -> kernels().activation(stream, pointwise(act), x, y, n);
        }
    }

    /** y = act(x + bias[channel]) for x [n, c, hw], pre (may be null) = x + bias: one launch. */
    void biasActivation(Activation act, float param, DeviceMemory x, DeviceMemory bias, DeviceMemory pre,
                        DeviceMemory y, int n, int c, int hw) {
        PointwiseKernels.Epilogue epilogue = switch (act) {
            case RELU -> PointwiseKernels.Epilogue.RELU;
            case LEAKY_RELU -> PointwiseKernels.Epilogue.LEAKY_RELU;
            case SIGMOID -> PointwiseKernels.Epilogue.SIGMOID;
            case TANH -> PointwiseKernels.Epilogue.TANH;
            case GELU -> PointwiseKernels.Epilogue.GELU;
        };
        kernels().biasActivation(stream, epilogue, param, x, bias, pre, y, n, c, hw);
    }

    void activationBackward(Activation act, float param, DeviceMemory x, DeviceMemory y, DeviceMemory dy,
                            DeviceMemory dx, long n) {
        if (n == 0) {
            return;
        }
        switch (act) {
            case LEAKY_RELU -> NativeKernels.get().leakyReluBackward(stream, x, dy, dx, n, param);
            case GELU -> NativeKernels.get().geluBackward(stream, x, dy, dx, n);
            default -> kernels().activationBackward(stream, pointwise(act), x, y, dy, dx, n);
        }
    }

    private static PointwiseKernels.Activation pointwise(Activation act) {
        return switch (act) {
            case RELU -> PointwiseKernels.Activation.RELU;
            case SIGMOID -> PointwiseKernels.Activation.SIGMOID;
            case TANH -> PointwiseKernels.Activation.TANH;
            case LEAKY_RELU, GELU -> throw new IllegalArgumentException(act + " has its own kernel");
        };
    }

    /** For x [outer, dim, inner]: out[o, i] = Σ_d x[o, d, i]; dim 1 is a copy, dim 0 gives zeros. */
    void sum(DeviceMemory x, DeviceMemory out, int outer, int dim, int inner) {
        if (dim == 1 && (long) outer * inner > 0) {
            stream.copyOnDevice(x, 0, out, 0, (long) outer * inner * Float.BYTES);
        } else {
            kernels().sum(stream, x, out, outer, dim, inner);
        }
    }

    /** A convolution's bias gradient: db[c] = Σ over n, i of dy[n, c, i]. */
    void channelBiasBackward(DeviceMemory dy, DeviceMemory db, int n, int c, int hw) {
        kernels().channelBiasBackward(stream, dy, db, n, c, hw);
    }
}
