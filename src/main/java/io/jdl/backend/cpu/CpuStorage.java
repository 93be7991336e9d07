package io.jdl.backend.cpu;

import io.jdl.device.Device;
import io.jdl.backend.Storage;

/** A float array on the Java heap. */
public final class CpuStorage extends Storage {
    /** Storages created and not yet closed: the CPU's analogue of the allocator's in-use bytes, for leak tests. */
    private static final java.util.concurrent.atomic.AtomicLong LIVE = new java.util.concurrent.atomic.AtomicLong();

    private float[] data;

    CpuStorage(float[] data) {
        super(data.length);
        this.data = data;
        LIVE.incrementAndGet();
    }

    /** How many CPU storages are open now (all threads). */
    public static long liveCount() {
        return LIVE.get();
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
    protected void release() {
        data = null;
        LIVE.decrementAndGet();
    }
}
