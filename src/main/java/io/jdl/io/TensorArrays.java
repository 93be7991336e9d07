package io.jdl.io;

import io.jdl.device.DType;
import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;

/**
 * Tensors to and from {@link NamedArray}s (what {@link Safetensors} reads and writes), keeping the dtype bit for bit:
 * a bfloat16 tensor becomes a BF16 array of its exact bit patterns and back, an int64 one an I64 array. Stateless.
 */
public final class TensorArrays {
    private TensorArrays() {
    }

    /** {@code t}'s values (copied to the host, waiting for queued work) as an array of its dtype named {@code name}. */
    public static NamedArray of(String name, Tensor t) {
        int[] dims = t.shape().dims();
        if (t.dtype() == DType.FLOAT32) {
            return new NamedArray(name, dims, t.toArray());
        }
        return NamedArray.ofBytes(name, t.dtype(), dims, t.toBytes());
    }

    /** A new tensor on {@code device} with {@code a}'s dtype, shape and exact values. */
    public static Tensor toTensor(NamedArray a, Device device) {
        Shape shape = Shape.of(a.shape());
        if (a.dtype() == DType.FLOAT32) {
            return Tensor.of(a.data(), shape, device);
        }
        return Tensor.ofBytes(a.bytes(), shape, a.dtype(), device);
    }
}
