package io.jdl.backend.cuda;

import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.HostToDeviceStaging;

/** Int32 index arrays (targets, token ids) copied to the device for jdl's kernels. */
final class DeviceInts {
    private DeviceInts() {
    }

    /** {@code values} as int32 in a new block, copied asynchronously (the tensor layer validated them). */
    static DeviceMemory upload(CachingAllocator allocator, HostToDeviceStaging staging, int[] values) {
        DeviceMemory d = allocator.allocate((long) values.length * Integer.BYTES);
        try {
            staging.upload(values, d);
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
        return d;
    }
}
