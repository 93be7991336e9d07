package io.jdl.backend.cpu;

import io.jdl.backend.HalfPrecision;
import io.jdl.device.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Dtype conversions of the CPU reference, element by element, with the rules of {@link DType}'s class comment
 * (PyTorch's results on the CPU), and the arrays of {@link CpuStorage} to and from their little-endian bytes (the
 * safetensors layout). The CUDA kernel {@code jdl_cast} implements the same rules; the parity tests hold them
 * together. Stateless.
 */
final class CpuCasts {
    private static final float TWO_31 = 0x1p31f;
    private static final float TWO_63 = 0x1p63f;

    private CpuCasts() {
    }

    /** dst[i] = src[i] converted from {@code from} to {@code to}, for i < n. */
    static void cast(Object src, DType from, Object dst, DType to, int n) {
        if (from == to) {
            System.arraycopy(src, 0, dst, 0, n);
        } else if (from.isFloatingPoint()) {
            for (int i = 0; i < n; i++) {
                storeFloat(dst, to, i, loadFloat(src, from, i));
            }
        } else {
            for (int i = 0; i < n; i++) {
                storeLong(dst, to, i, loadLong(src, from, i));
            }
        }
    }

    /** Element i of a float-typed array, exactly. */
    private static float loadFloat(Object a, DType t, int i) {
        return switch (t) {
            case FLOAT32 -> ((float[]) a)[i];
            case BFLOAT16 -> HalfPrecision.BF16.toFloat(((short[]) a)[i]);
            case FLOAT16 -> HalfPrecision.F16.toFloat(((short[]) a)[i]);
            default -> throw new IllegalStateException(t + " is not a float dtype");
        };
    }

    /** Element i of an integer-typed array (uint8 unsigned, bool 0 or 1). */
    private static long loadLong(Object a, DType t, int i) {
        return switch (t) {
            case INT32 -> ((int[]) a)[i];
            case INT64 -> ((long[]) a)[i];
            case UINT8 -> ((byte[]) a)[i] & 0xff;
            case BOOL -> ((byte[]) a)[i] != 0 ? 1 : 0;
            default -> throw new IllegalStateException(t + " is not an integer dtype");
        };
    }

    private static void storeFloat(Object a, DType t, int i, float v) {
        switch (t) {
            case FLOAT32 -> ((float[]) a)[i] = v;
            case BFLOAT16 -> ((short[]) a)[i] = HalfPrecision.BF16.fromFloat(v);
            case FLOAT16 -> ((short[]) a)[i] = HalfPrecision.F16.fromFloat(v);
            case INT32 -> ((int[]) a)[i] = floatToInt32(v);
            case INT64 -> ((long[]) a)[i] = floatToInt64(v);
            case UINT8 -> ((byte[]) a)[i] = (byte) floatToInt64(v);
            case BOOL -> ((byte[]) a)[i] = (byte) (v != 0f ? 1 : 0); // NaN != 0 is true
        }
    }

    private static void storeLong(Object a, DType t, int i, long v) {
        switch (t) {
            case FLOAT32, BFLOAT16, FLOAT16 -> storeFloat(a, t, i, (float) v); // (float) of a long rounds to nearest even
            case INT32 -> ((int[]) a)[i] = (int) v;
            case INT64 -> ((long[]) a)[i] = v;
            case UINT8 -> ((byte[]) a)[i] = (byte) v;
            case BOOL -> ((byte[]) a)[i] = (byte) (v != 0 ? 1 : 0);
        }
    }

    /** Truncation toward zero; NaN, infinities and values outside int32 give -2^31 (x86's "integer indefinite"). */
    static int floatToInt32(float v) {
        return v >= -TWO_31 && v < TWO_31 ? (int) v : Integer.MIN_VALUE; // false for NaN
    }

    /** Truncation toward zero; NaN, infinities and values outside int64 give -2^63. */
    static long floatToInt64(float v) {
        return v >= -TWO_63 && v < TWO_63 ? (long) v : Long.MIN_VALUE;
    }

    /** The first n elements of a storage array as little-endian bytes (bool 0 or 1, halves as bit patterns). */
    static byte[] toBytes(Object a, DType t, int n) {
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(n, t.bytes())).order(ByteOrder.LITTLE_ENDIAN);
        switch (t) {
            case FLOAT32 -> b.asFloatBuffer().put((float[]) a, 0, n);
            case BFLOAT16, FLOAT16 -> b.asShortBuffer().put((short[]) a, 0, n);
            case INT32 -> b.asIntBuffer().put((int[]) a, 0, n);
            case INT64 -> b.asLongBuffer().put((long[]) a, 0, n);
            case UINT8, BOOL -> b.put((byte[]) a, 0, n);
        }
        return b.array();
    }

    /** Fills a storage array of {@code t} from little-endian bytes ({@code bytes.length / t.bytes()} elements). */
    static void fromBytes(byte[] bytes, DType t, Object a) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        switch (t) {
            case FLOAT32 -> b.asFloatBuffer().get((float[]) a);
            case BFLOAT16, FLOAT16 -> b.asShortBuffer().get((short[]) a);
            case INT32 -> b.asIntBuffer().get((int[]) a);
            case INT64 -> b.asLongBuffer().get((long[]) a);
            case UINT8 -> b.get((byte[]) a);
            case BOOL -> {
                byte[] out = (byte[]) a;
                b.get(out);
                for (byte v : out) {
                    if (v != 0 && v != 1) {
                        throw new IllegalArgumentException("a BOOL element is " + v + ", not 0 or 1");
                    }
                }
            }
        }
    }
}
