package io.jdl.backend.cpu;

import io.jdl.backend.Storage;
import io.jdl.device.DType;
import io.jdl.device.Device;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A Java array on the heap, shared by the handles of its views, one array type per dtype: {@code float[]} for
 * FLOAT32, {@code short[]} bit patterns for BFLOAT16 and FLOAT16 (so a stored half is a half, bit for bit, NaN
 * payloads included: the CPU emulates the GPU's storage exactly), {@code int[]} for INT32, {@code long[]} for
 * INT64, {@code byte[]} for UINT8 and BOOL (0 or 1).
 */
public final class CpuStorage extends Storage {
    /** Arrays allocated and not yet freed: the CPU's analogue of the allocator's in-use bytes, for leak tests. */
    private static final AtomicLong LIVE = new AtomicLong();
    /** Arrays allocated since the start, for tests that count copies. */
    private static final AtomicLong ALLOCATED = new AtomicLong();

    /** The array of the dtype (see the class comment); null once this handle is closed. */
    private Object array;
    /** The array all handles share, kept past this handle's close to give it back to {@link CpuArrayPool}. */
    private final Object memory;

    CpuStorage(float[] data) {
        this(data, data.length, DType.FLOAT32);
    }

    private CpuStorage(Object array, int length, DType dtype) {
        super(length, dtype);
        this.array = array;
        this.memory = array;
        LIVE.incrementAndGet();
        ALLOCATED.incrementAndGet();
    }

    /**
     * Storage of {@code numel} elements of {@code dtype}: zeroed, except that a float32 array may be a released one
     * from {@link CpuArrayPool} with its old contents ({@code Backend.allocate} promises uninitialised memory).
     */
    static CpuStorage allocate(int numel, DType dtype) {
        Object array = switch (dtype) {
            case FLOAT32 -> CpuArrayPool.take(numel);
            case BFLOAT16, FLOAT16 -> new short[numel];
            case INT32 -> new int[numel];
            case INT64 -> new long[numel];
            case UINT8, BOOL -> new byte[numel];
        };
        return new CpuStorage(array, numel, dtype);
    }

    /** Storage of {@code dtype} holding the elements of {@code littleEndian} (see {@code Backend#uploadBytes}). */
    static CpuStorage ofBytes(byte[] littleEndian, DType dtype) {
        if (littleEndian.length % dtype.bytes() != 0) {
            throw new IllegalArgumentException(littleEndian.length + " bytes is not a whole number of " + dtype
                    + " elements");
        }
        CpuStorage s = allocate(littleEndian.length / dtype.bytes(), dtype);
        try {
            CpuCasts.fromBytes(littleEndian, dtype, s.array);
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
        return s;
    }

    private CpuStorage(CpuStorage base) {
        super(base);
        this.array = base.array;
        this.memory = base.memory;
    }

    /** How many CPU arrays are allocated now (all threads); views of one array count once. */
    public static long liveCount() {
        return LIVE.get();
    }

    /** How many CPU arrays were allocated since the start (all threads); a view allocates none. */
    public static long allocationCount() {
        return ALLOCATED.get();
    }

    /** The float32 elements; throws once closed, and for another dtype (a float kernel must never see one). */
    float[] data() {
        checkOpen();
        if (dtype() != DType.FLOAT32) {
            throw new IllegalStateException("a float32 CPU kernel got a storage of " + dtype() + " (the tensor layer"
                    + " must convert or refuse it)");
        }
        return (float[]) array;
    }

    /** The array of any dtype (see the class comment); throws once closed. */
    Object array() {
        checkOpen();
        return array;
    }

    @Override
    public Device device() {
        return Device.CPU;
    }

    @Override
    public CpuStorage share() {
        return new CpuStorage(this);
    }

    @Override
    protected void closeHandle() {
        array = null; // the array lives on while another handle references it
    }

    @Override
    protected void release() {
        LIVE.decrementAndGet();
        if (memory instanceof float[] floats) {
            CpuArrayPool.give(floats); // the last handle closed: nothing reaches the array any more
        }
    }
}
