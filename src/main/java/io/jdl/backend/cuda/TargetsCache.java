package io.jdl.backend.cuda;

import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.HostToDeviceStaging;

/**
 * The device copy of the last cross-entropy targets, uploaded only when a different array comes: the tensor
 * layer passes the same (private, never modified) array to forward and backward, so a training step uploads
 * its targets once. The last copy is kept until the next loss (one small block).
 */
final class TargetsCache {
    private final CachingAllocator allocator;
    private final HostToDeviceStaging staging;
    private int[] lastTargets;
    private DeviceMemory lastTargetsMemory;

    TargetsCache(CachingAllocator allocator, HostToDeviceStaging staging) {
        this.allocator = allocator;
        this.staging = staging;
    }

    DeviceMemory get(int[] targets) {
        if (targets != lastTargets) {
            lastTargets = null;
            if (lastTargetsMemory != null) {
                lastTargetsMemory.close();
                lastTargetsMemory = null;
            }
            lastTargetsMemory = DeviceInts.upload(allocator, staging, targets);
            lastTargets = targets;
        }
        return lastTargetsMemory;
    }
}
