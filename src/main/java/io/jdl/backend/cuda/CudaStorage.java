package io.jdl.backend.cuda;

import io.jdl.backend.Storage;
import io.jdl.device.DType;
import io.jdl.device.Device;
import io.jdl.cuda.DeviceMemory;

/**
 * Device memory from the owning backend's caching allocator, shared by the handles of its views: {@code numel}
 * elements of the dtype in its safetensors layout ({@code numel * dtype.bytes()} bytes; halves as bit patterns, bool
 * as bytes 0 or 1).
 */
public final class CudaStorage extends Storage {
    private final Device device;
    private final DeviceMemory memory;

    CudaStorage(Device device, DeviceMemory memory, long numel, DType dtype) {
        super(numel, dtype);
        this.device = device;
        this.memory = memory;
    }

    private CudaStorage(CudaStorage base) {
        super(base);
        this.device = base.device;
        this.memory = base.memory;
    }

    /** The device block; throws once this handle is closed. */
    public DeviceMemory memory() {
        checkOpen();
        return memory;
    }

    @Override
    public Device device() {
        return device;
    }

    @Override
    public CudaStorage share() {
        return new CudaStorage(this);
    }

    @Override
    protected void release() {
        memory.close(); // back to the caching allocator, on the stream order of the work queued on it
    }
}
