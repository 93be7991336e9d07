package io.jdl.backend.cuda;

import io.jdl.device.Device;
import io.jdl.backend.Storage;
import io.jdl.cuda.DeviceMemory;

/** Device memory from the owning backend's caching allocator. */
public final class CudaStorage extends Storage {
    private final Device device;
    private final DeviceMemory memory;

    CudaStorage(Device device, DeviceMemory memory, long numel) {
        super(numel);
        this.device = device;
        this.memory = memory;
    }

    /** The device block; throws once closed. */
    public DeviceMemory memory() {
        checkOpen();
        return memory;
    }

    @Override
    public Device device() {
        return device;
    }

    @Override
    protected void release() {
        memory.close();
    }
}
