package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import io.jdl.backend.Backend;
import io.jdl.backend.Backends;
import io.jdl.device.DType;
import io.jdl.device.Device;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

/**
 * Dtype conversions ({@link Tensor#to(DType)}, forward and backward) and the host data of every dtype: creation
 * from Java arrays or raw bytes, and reading back. The conversion rules are {@link DType}'s.
 */
final class Conversions {
    private Conversions() {
    }

    /**
     * {@code x} converted to {@code dtype}, always a new tensor. Between float dtypes the conversion is recorded:
     * its backward converts the gradient back to x's dtype (PyTorch's {@code to} backward). A conversion to or from
     * an integer or bool dtype is not differentiable: its result needs no gradient, as in PyTorch.
     */
    static Tensor to(Tensor x, DType dtype) {
        Checks.notNull("to", "x", x).checkOpen();
        Checks.notNull("to", "dtype", dtype);
        Tensor out = empty(x, dtype);
        x.backend.cast(x.dense(), out.dense(), x.numel());
        if (!dtype.isFloatingPoint() || !x.dtype().isFloatingPoint()) {
            return out;
        }
        DType from = x.dtype();
        return record("to(" + dtype + ")", out, g -> accumulate(x, () -> to(g, from)), x);
    }

    /** A tensor of {@code dtype} on {@code device} from its elements in the layout of {@link #toBytes}. */
    static Tensor ofBytes(byte[] littleEndian, Shape shape, DType dtype, Device device) {
        Checks.notNull("Tensor.ofBytes", "littleEndian", littleEndian);
        Checks.notNull("Tensor.ofBytes", "dtype", dtype);
        if (littleEndian.length != Checks.notNull("Tensor.ofBytes", "shape", shape).numel() * dtype.bytes()) {
            throw new IllegalArgumentException("Tensor.ofBytes: shape " + shape + " of " + dtype + " needs "
                    + shape.numel() * dtype.bytes() + " bytes but " + littleEndian.length + " were given");
        }
        Backend b = Backends.of(Checks.notNull("Tensor.ofBytes", "device", device));
        return Tensor.wrap(shape, b, b.uploadBytes(littleEndian, dtype));
    }

    /** An INT64 tensor of {@code values}. */
    static Tensor ofLongs(long[] values, Shape shape, Device device) {
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(Checks.notNull("Tensor.of", "data", values).length, 8));
        b.order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().put(values);
        return ofBytes(b.array(), shape, DType.INT64, device);
    }

    /** An INT32 tensor of {@code values}. */
    static Tensor ofInts(int[] values, Shape shape, Device device) {
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(Checks.notNull("Tensor.of", "data", values).length, 4));
        b.order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().put(values);
        return ofBytes(b.array(), shape, DType.INT32, device);
    }

    /** A float32 tensor on {@code device} holding a copy of {@code data}, whose length must match the shape. */
    static Tensor ofFloats(float[] data, Shape shape, Device device) {
        if (Checks.notNull("Tensor.of", "data", data).length != Checks.notNull("Tensor.of", "shape", shape).numel()) {
            throw new IllegalArgumentException("shape " + shape + " has " + shape.numel() + " elements but " + data.length
                    + " values were given");
        }
        Backend b = Backends.of(Checks.notNull("tensor creation", "device", device));
        return Tensor.wrap(shape, b, b.upload(data));
    }

    /** Standard normal values from {@code random}, one per element of {@code shape}, in order. */
    static float[] gaussians(Random random, Shape shape) {
        Checks.notNull("randn", "random", random);
        float[] data = new float[Math.toIntExact(Checks.notNull("randn", "shape", shape).numel())];
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) random.nextGaussian();
        }
        return data;
    }

    /** A float32 tensor of {@code shape} on {@code device} with every element {@code value}. */
    static Tensor full(Shape shape, float value, Device device) {
        return full(shape, value, DType.FLOAT32, device);
    }

    /** {@code value} converted to {@code dtype} (the rules of {@link DType}) in every element. */
    static Tensor full(Shape shape, float value, DType dtype, Device device) {
        Checks.notNull("Tensor.full", "dtype", dtype);
        if (dtype.isFloatingPoint()) {
            Backend b = Backends.of(Checks.notNull("tensor creation", "device", device));
            Tensor t = Tensor.wrap(shape, b, b.allocate(Checks.notNull("Tensor.full", "shape", shape).numel(), dtype));
            b.fill(t.dense(), value);  // a half value rounded once
            return t;
        }
        try (Tensor f = Tensor.full(shape, value, device)) {
            Tensor out = empty(f, dtype);
            f.backend.cast(f.dense(), out.dense(), f.numel());
            return out;
        }
    }

    /** Sets every element of {@code t} (any dtype) to {@code value} converted to its dtype. */
    static void fill(Tensor t, float value) {
        if (t.dtype().isFloatingPoint()) {
            t.backend.fill(t.written("fill"), value);  // a half value rounded once
            return;
        }
        try (Tensor f = Tensor.full(t.shape, value, t.device())) {
            t.backend.cast(f.dense(), t.written("fill"), t.numel());
        }
    }

    /** The elements as little-endian bytes: halves as bit patterns, bool as 0 or 1 (the safetensors layout). */
    static byte[] toBytes(Tensor t) {
        t.checkOpen();
        return t.backend.downloadBytes(t.dense(), t.numel());
    }

    /** The elements as float32, converted by the rules of {@link DType} (exact but for large integers). */
    /** The value of a one-element tensor as float32 (waits for queued work). */
    static float item(Tensor t) {
        if (t.shape().numel() != 1) {
            throw new IllegalArgumentException("item() needs a tensor with one element, not shape " + t.shape());
        }
        return toFloats(t)[0];
    }

    static float[] toFloats(Tensor t) {
        t.checkOpen();
        if (t.dtype() == DType.FLOAT32) {
            return t.backend.download(t.dense(), t.numel());
        }
        try (Tensor f = converted(t, DType.FLOAT32)) {
            return f.backend.download(f.dense(), f.numel());
        }
    }

    /** The elements of an integer or bool tensor as int64. */
    static long[] toLongs(Tensor t) {
        t.checkOpen();
        if (t.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("toLongArray() reads integer and bool tensors; this one is " + t.dtype()
                    + " (convert it first with to(DType.INT64), which truncates toward zero)");
        }
        try (Tensor l = converted(t, DType.INT64)) {
            long[] out = new long[Math.toIntExact(t.numel())];
            ByteBuffer.wrap(toBytes(l)).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(out);
            return out;
        }
    }

    /** A new uninitialised tensor of {@code dtype} with t's shape and device. */
    private static Tensor empty(Tensor t, DType dtype) {
        return empty(t, t.shape, dtype);
    }

    /** A new uninitialised tensor of {@code shape} and {@code dtype} on t's device. */
    static Tensor empty(Tensor t, Shape shape, DType dtype) {
        return Tensor.wrap(shape, t.backend, t.backend.allocate(shape.numel(), dtype));
    }

    /** An unrecorded converted copy (the source itself is not kept). */
    static Tensor converted(Tensor t, DType dtype) {
        Tensor out = empty(t, dtype);
        t.backend.cast(t.dense(), out.dense(), t.numel());
        return out;
    }
}
