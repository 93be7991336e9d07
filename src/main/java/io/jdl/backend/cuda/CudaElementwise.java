package io.jdl.backend.cuda;

import io.jdl.backend.Activation;
import io.jdl.cublas.Cublas;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.NativeKernels;
import io.jdl.cuda.Stream;
import io.jdl.cudnn.Cudnn;
import io.jdl.cudnn.OpTensorDescriptor;
import io.jdl.cudnn.TensorDescriptor;

/**
 * The pointwise family of {@link CudaBackend} on device memory: fill, axpby, products, biases, broadcast and
 * the activations with their backward. Callers have checked sizes; {@code n == 0} queues nothing.
 *
 * <p>Owned by one backend and used from one thread at a time, like its stream and handles.
 */
final class CudaElementwise {
    private final Stream stream;
    private final Cublas cublas;
    private final Cudnn cudnn;
    private final CudnnLayers layers;
    private final OpTensorDescriptor mulDescriptor = new OpTensorDescriptor(OpTensorDescriptor.Op.MUL);

    CudaElementwise(Stream stream, Cublas cublas, Cudnn cudnn, CudnnLayers layers) {
        this.stream = stream;
        this.cublas = cublas;
        this.cudnn = cudnn;
        this.layers = layers;
    }

    void fill(DeviceMemory out, long n, float value) {
        layers.fill(out, n, value);
    }

    void axpby(float alpha, DeviceMemory a, float beta, DeviceMemory b, DeviceMemory out, long n) {
        if (n == 0) {
            return;
        }
        cublas.geam(false, false, 1, Math.toIntExact(n), alpha, a, beta, b, out);
    }

    void mul(DeviceMemory a, DeviceMemory b, DeviceMemory out, long n) {
        if (n == 0) {
            return;
        }
        // cudnnOpTensor computes in place on A but not on B alone: with out == b, swap (a·b = b·a).
        DeviceMemory first = out == b && out != a ? b : a, second = first == a ? b : a;
        try (TensorDescriptor d = vector(n)) {
            cudnn.opTensor(mulDescriptor, 1f, d, first, 1f, d, second, 0f, d, out);
        }
    }

    void addBias(DeviceMemory x, DeviceMemory bias, DeviceMemory out, int rows, int cols) {
        if ((long) rows * cols == 0) {
            return;
        }
        if (x != out) {
            stream.copyOnDevice(x, 0, out, 0, (long) rows * cols * Float.BYTES);
        }
        try (TensorDescriptor b = TensorDescriptor.of(1, cols); TensorDescriptor o = TensorDescriptor.of(rows, cols)) {
            cudnn.addTensor(1f, b, bias, 1f, o, out);
        }
    }

    void broadcast(DeviceMemory x, DeviceMemory out, int outer, int dim, int inner) {
        if ((long) outer * dim * inner == 0) {
            return;
        }
        // cudnnAddTensor broadcasts A's size-1 dimensions over C's; beta = 0 overwrites C.
        try (TensorDescriptor a = TensorDescriptor.of(outer, 1, inner);
             TensorDescriptor c = TensorDescriptor.of(outer, dim, inner)) {
            cudnn.addTensor(1f, a, x, 0f, c, out);
        }
    }

    void mulScalar(DeviceMemory x, DeviceMemory s, DeviceMemory out, long n) {
        if (n == 0) {
            return;
        }
        try (TensorDescriptor d = vector(n); TensorDescriptor one = vector(1)) {
            cudnn.opTensor(mulDescriptor, 1f, d, x, 1f, one, s, 0f, d, out);
        }
    }

    void activation(Activation act, float param, DeviceMemory x, DeviceMemory y, long n) {
        if (n == 0) {
            return;
        }
        switch (act) {
            case LEAKY_RELU -> NativeKernels.get().leakyRelu(stream, x, y, n, param);
            case GELU -> NativeKernels.get().gelu(stream, x, y, n);
            default -> layers.activation(act, x, y, n);
        }
    }

    void activationBackward(Activation act, float param, DeviceMemory x, DeviceMemory y, DeviceMemory dy,
                            DeviceMemory dx, long n) {
        if (n == 0) {
            return;
        }
        switch (act) {
            case LEAKY_RELU -> NativeKernels.get().leakyReluBackward(stream, x, dy, dx, n, param);
            case GELU -> NativeKernels.get().geluBackward(stream, x, dy, dx, n);
            default -> layers.activationBackward(act, x, y, dy, dx, n);
        }
    }

    private static TensorDescriptor vector(long n) {
        return TensorDescriptor.of(Math.toIntExact(n));
    }
}
