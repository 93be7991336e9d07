package io.jdl.backend.cpu;

import io.jdl.backend.Device;
import io.jdl.backend.Storage;

/** A float array on the Java heap. */
public final class CpuStorage extends Storage {
    private float[] data;

    CpuStorage(float[] data) {
        super(data.length);
        this.data = data;
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
    }
}
