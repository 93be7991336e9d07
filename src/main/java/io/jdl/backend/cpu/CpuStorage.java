package io.jdl.backend.cpu;

import io.jdl.device.Device;
import io.jdl.backend.Storage;
import java.util.concurrent.atomic.AtomicLong;

/** A float array on the Java heap, shared by the handles of its views. */
public final class CpuStorage extends Storage {
    /** Arrays allocated and not yet freed: the CPU's analogue of the allocator's in-use bytes, for leak tests. */
    private static final AtomicLong LIVE = new AtomicLong();
    /** Arrays allocated since the start, for tests that count copies. */
    private static final AtomicLong ALLOCATED = new AtomicLong();

    private float[] data;

    CpuStorage(float[] data) {
        super(data.length);
        this.data = data;
        LIVE.incrementAndGet();
        ALLOCATED.incrementAndGet();
    }

    private CpuStorage(CpuStorage base) {
        super(base);
        this.data = base.data;
    }

    /** How many CPU arrays are allocated now (all threads); views of one array count once. */
    public static long liveCount() {
        return LIVE.get();
    }

    /** How many CPU arrays were allocated since the start (all threads); a view allocates none. */
    public static long allocationCount() {
        return ALLOCATED.get();
    }

    /** The elements; throws once closed. */
    float[] data() {
        checkOpen();
        return data;
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
        data = null; // the array lives on while another handle references it
    }

    @Override
    protected void release() {
        LIVE.decrementAndGet();
    }
}
