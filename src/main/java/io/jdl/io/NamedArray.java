package io.jdl.io;

import io.jdl.backend.HalfPrecision;
import io.jdl.device.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * A named array with a shape and a safetensors element type: one tensor of a checkpoint, independent of the
 * tensor and nn layers. Float32 arrays hold a {@code float[]}; the other types hold their exact little-endian
 * bytes, so a file read and written again keeps every bit (NaN payloads, -0, int64 counters).
 *
 * <p>The arrays are held as given (no copy): the caller must not change them afterwards. {@link #equals}
 * compares contents bit for bit.
 */
public final class NamedArray {
    private final String name;
    private final DType dtype;
    private final int[] shape;
    private final int numel;
    private final float[] floats; // F32
    private final byte[] raw;     // every other dtype, little-endian

    /**
     * A float32 array.
     *
     * @param name  the tensor's name, PyTorch style ({@code fc1.weight})
     * @param shape the dimension sizes, outermost first; empty for a scalar
     * @param data  the values in row-major order, {@code product(shape)} of them
     * @throws IllegalArgumentException when the data length is not the product of the shape, a size is negative
     *                                  or the product overflows
     */
    public NamedArray(String name, int[] shape, float[] data) {
        this(name, DType.FLOAT32, shape, Objects.requireNonNull(data, "data"), null, data.length);
    }

    private NamedArray(String name, DType dtype, int[] shape, float[] floats, byte[] raw, long given) {
        this.name = Objects.requireNonNull(name, "name");
        this.dtype = Objects.requireNonNull(dtype, "dtype");
        this.shape = Objects.requireNonNull(shape, "shape");
        this.numel = numel(name, shape);
        if (given != numel) {
            throw new IllegalArgumentException(name + ": shape " + Arrays.toString(shape) + " has " + numel
                    + " elements but " + given + " values were given");
        }
        this.floats = floats;
        this.raw = raw;
    }

    /** Elements of {@code shape}, checked: no negative size, no overflow past {@code Integer.MAX_VALUE}. */
    static int numel(String name, int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException(name + ": negative dimension in shape " + Arrays.toString(shape));
            }
            try {
                n = Math.multiplyExact(n, d);
            } catch (ArithmeticException e) {
                n = Long.MAX_VALUE;
            }
            if (n > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(name + ": shape " + Arrays.toString(shape) + " has more than 2^31 - 1"
                        + " elements");
            }
        }
        return (int) n;
    }

    /**
     * An array of any dtype from its little-endian bytes (BOOL: one byte each, 0 or 1).
     *
     * @throws IllegalArgumentException when the byte count is not {@code product(shape) * dtype.bytes()}, or a BOOL
     *                                  byte is neither 0 nor 1
     */
    public static NamedArray ofBytes(String name, DType dtype, int[] shape, byte[] littleEndian) {
        Objects.requireNonNull(littleEndian, "littleEndian");
        if (dtype == DType.FLOAT32) {
            int n = numel(name, shape);
            if ((long) n * 4 != littleEndian.length) {
                throw new IllegalArgumentException(name + ": shape " + Arrays.toString(shape) + " of F32 needs " + 4L * n
                        + " bytes, got " + littleEndian.length);
            }
            float[] f = new float[n];
            ByteBuffer.wrap(littleEndian).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
            return new NamedArray(name, shape, f);
        }
        if (littleEndian.length % dtype.bytes() != 0) {
            throw new IllegalArgumentException(name + ": " + littleEndian.length + " bytes is not a whole number of "
                    + dtype.safetensorsName() + " elements");
        }
        if (dtype == DType.BOOL) {
            for (int i = 0; i < littleEndian.length; i++) {
                if (littleEndian[i] != 0 && littleEndian[i] != 1) {
                    throw new IllegalArgumentException(name + ": BOOL element " + i + " is " + littleEndian[i]
                            + ", not 0 or 1");
                }
            }
        }
        return new NamedArray(name, dtype, shape, null, littleEndian, littleEndian.length / dtype.bytes());
    }

    /** An I64 array (counters such as PyTorch's {@code num_batches_tracked}). */
    public static NamedArray ofLongs(String name, int[] shape, long... values) {
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(values.length, 8)).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(values);
        return ofBytes(name, DType.INT64, shape, b.array());
    }

    public String name() {
        return name;
    }

    /** The element type (float32 arrays are {@link DType#FLOAT32}). */
    public DType dtype() {
        return dtype;
    }

    /** The dimension sizes (the array itself, not a copy). */
    public int[] shape() {
        return shape;
    }

    public int numel() {
        return numel;
    }

    /**
     * The values as float32, row-major: for F32 the array itself (not a copy); for other dtypes a new array,
     * converted as PyTorch's {@code tensor.float()} does (exact for F16, BF16, U8, BOOL and integers up to 2^24;
     * larger integers round to the nearest float).
     */
    public float[] data() {
        if (floats != null) {
            return floats;
        }
        float[] out = new float[numel];
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < numel; i++) {
            out[i] = switch (dtype) {
                case FLOAT16 -> HalfPrecision.F16.toFloat(b.getShort(2 * i));
                case BFLOAT16 -> HalfPrecision.BF16.toFloat(b.getShort(2 * i));
                case INT64 -> (float) b.getLong(8 * i);
                case INT32 -> (float) b.getInt(4 * i);
                case UINT8, BOOL -> (float) (raw[i] & 0xff);
                case FLOAT32 -> throw new AssertionError();
            };
        }
        return out;
    }

    /**
     * The values of an integer or BOOL array exactly, as longs.
     *
     * @throws IllegalStateException for a floating-point dtype
     */
    public long[] longs() {
        long[] out = new long[numel];
        ByteBuffer b = ByteBuffer.wrap(raw == null ? new byte[0] : raw).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < numel; i++) {
            out[i] = switch (dtype) {
                case INT64 -> b.getLong(8 * i);
                case INT32 -> b.getInt(4 * i);
                case UINT8, BOOL -> raw[i] & 0xff;
                case FLOAT32, FLOAT16, BFLOAT16 -> throw new IllegalStateException(name + " is " + dtype.safetensorsName() + ", not an integer array");
            };
        }
        return out;
    }

    /** The values as little-endian bytes of this array's dtype (a new array for F32, else the held one). */
    public byte[] bytes() {
        if (raw != null) {
            return raw;
        }
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(floats.length, 4)).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(floats);
        return b.array();
    }

    /** Size of the values in bytes. */
    public long byteSize() {
        return (long) numel * dtype.bytes();
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof NamedArray a) || !name.equals(a.name) || dtype != a.dtype || !Arrays.equals(shape, a.shape)) {
            return false;
        }
        if (floats != null) {
            for (int i = 0; i < floats.length; i++) {
                if (Float.floatToRawIntBits(floats[i]) != Float.floatToRawIntBits(a.floats[i])) {
                    return false;
                }
            }
            return true;
        }
        return Arrays.equals(raw, a.raw);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), floats != null ? Arrays.hashCode(floats) : Arrays.hashCode(raw));
    }

    @Override
    public String toString() {
        return "NamedArray[" + name + " " + dtype.safetensorsName() + " " + Arrays.toString(shape) + "]";
    }
}
