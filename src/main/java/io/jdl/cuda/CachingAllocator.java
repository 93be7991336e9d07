package io.jdl.cuda;

import static io.jdl.bindings.cudart.cuda_runtime_api_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Device memory with free lists by size class, so that a training step's allocations cost a map
 * lookup instead of a {@code cudaMalloc} (which synchronises the device).
 *
 * <p>Blocks are meant for work on one stream: a freed block is reused at once by the next request,
 * which is safe because every kernel on that stream runs after those queued before it (as in
 * PyTorch's allocator). Sizes round up to 512 bytes below 1 MiB and to 2 MiB above, and a cached
 * block is reused only for the same rounded size.
 *
 * <p>{@link #allocatedBytes()} counts blocks in use, {@link #reservedBytes()} all memory obtained from
 * CUDA (in use plus cached); {@link #emptyCache()} gives the cached part back.
 */
public final class CachingAllocator extends NativeResource {
    private static final long SMALL = 1L << 20;
    private static final long SMALL_ROUND = 512;
    private static final long LARGE_ROUND = 2L << 20;

    /** Where blocks come from: {@code cudaMalloc}/{@code cudaFree}, or a fake in tests. */
    public interface RawAllocator {
        /** Returns the address of {@code bytes} of device memory; throws {@link CudaException} on failure. */
        long malloc(long bytes);

        void free(long address);
    }

    /** The real one. */
    public static final RawAllocator CUDA = new RawAllocator() {
        @Override
        public long malloc(long bytes) {
            Cuda.ensureLoaded();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
                Cuda.check(cudaMalloc(out, bytes), "cudaMalloc(" + bytes + " bytes)");
                return out.get(ValueLayout.ADDRESS, 0).address();
            }
        }

        @Override
        public void free(long address) {
            Cuda.check(cudaFree(MemorySegment.ofAddress(address)), "cudaFree");
        }
    };

    private final RawAllocator raw;
    private final Map<Long, ArrayDeque<Long>> cached = new HashMap<>();
    private long allocated;
    private long reserved;
    private long peakAllocated;

    public CachingAllocator(RawAllocator raw) {
        this.raw = raw;
    }

    /** An allocator over {@code cudaMalloc} on the current device. */
    public CachingAllocator() {
        this(CUDA);
    }

    static long roundUp(long bytes) {
        long unit = bytes <= SMALL ? SMALL_ROUND : LARGE_ROUND;
        return Math.max(unit, (bytes + unit - 1) / unit * unit);
    }

    /** A block of at least {@code bytes}, uninitialised. */
    public synchronized DeviceMemory allocate(long bytes) {
        checkOpen();
        if (bytes < 0) {
            throw new IllegalArgumentException("negative allocation size: " + bytes);
        }
        long size = roundUp(bytes);
        ArrayDeque<Long> free = cached.get(size);
        long address = free != null && !free.isEmpty() ? free.pop() : cudaMallocRetrying(size);
        allocated += size;
        peakAllocated = Math.max(peakAllocated, allocated);
        return new DeviceMemory(address, bytes, size, this);
    }

    private long cudaMallocRetrying(long size) {
        long address;
        try {
            address = raw.malloc(size);
        } catch (CudaException e) {
            if (cached.isEmpty()) {
                throw outOfMemory(size, e);
            }
            // Give the cache back and try once more before reporting out-of-memory.
            freeCached();
            try {
                address = raw.malloc(size);
            } catch (CudaException again) {
                throw outOfMemory(size, again);
            }
        }
        reserved += size;
        return address;
    }

    /** A {@link DeviceOutOfMemoryException} when CUDA ran out of memory, else {@code cause} itself. */
    private CudaException outOfMemory(long size, CudaException cause) {
        if (cause.status() != cudaErrorMemoryAllocation()) {
            return cause;
        }
        return new DeviceOutOfMemoryException(size, allocated, reserved, cause);
    }

    synchronized void free(DeviceMemory block) {
        allocated -= block.blockBytes();
        if (isClosed()) {
            // The allocator is gone: give the block straight back to CUDA.
            raw.free(block.address());
            reserved -= block.blockBytes();
            return;
        }
        cached.computeIfAbsent(block.blockBytes(), k -> new ArrayDeque<>()).push(block.address());
    }

    /** Bytes in blocks handed out and not yet closed (rounded to size classes). */
    public synchronized long allocatedBytes() {
        return allocated;
    }

    /** Bytes obtained from CUDA: in use plus cached. */
    public synchronized long reservedBytes() {
        return reserved;
    }

    /** The highest {@link #allocatedBytes()} since creation or {@link #resetPeak()}. */
    public synchronized long peakAllocatedBytes() {
        return peakAllocated;
    }

    public synchronized void resetPeak() {
        peakAllocated = allocated;
    }

    /** Returns every cached (free) block to CUDA. */
    public synchronized void emptyCache() {
        checkOpen();
        freeCached();
    }

    private void freeCached() {
        for (Map.Entry<Long, ArrayDeque<Long>> e : cached.entrySet()) {
            for (long address : e.getValue()) {
                raw.free(address);
                reserved -= e.getKey();
            }
        }
        cached.clear();
    }

    @Override
    protected synchronized void release() {
        freeCached();
    }

    @Override
    protected String describe() {
        return "caching allocator";
    }
}
