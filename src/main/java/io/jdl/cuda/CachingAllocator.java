package io.jdl.cuda;

import static io.jdl.bindings.cudart.cuda_runtime_api_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

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
 *
 * <p><b>Graph pools.</b> While a CUDA graph is captured ({@link #beginGraphPool}), every block handed out
 * and every block freed belongs to that graph's {@link GraphPool}: the graph replays kernels that read and
 * write those addresses, so no one else may get them until the graph is gone. A block freed during the
 * capture may be reused by a later allocation of the same capture (the replay runs in the same order, as
 * the eager step did). After the capture the pool's free blocks stay reserved for the graph; blocks still
 * in use (the step's outputs, gradients) return to the pool when closed. {@link GraphPool#close()} gives the
 * free blocks back to CUDA, and blocks closed after that go to the ordinary cache.
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
    private final FreeLists cached = new FreeLists();
    private long allocated;
    private long reserved;
    private long peakAllocated;
    /** The pool of the graph being captured, or null. */
    private GraphPool capturing;

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
        GraphPool pool = capturing;
        long address;
        if (pool != null) {
            // A block of the ordinary cache is not used by any graph (graphs keep theirs): it may join this one.
            address = pool.free.pop(size);
            if (address == 0) {
                address = cached.pop(size);
            }
            if (address == 0) {
                address = pool.cudaMalloc(size);
            }
        } else {
            address = cached.pop(size);
            if (address == 0) {
                address = cudaMallocRetrying(size);
            }
        }
        allocated += size;
        peakAllocated = Math.max(peakAllocated, allocated);
        DeviceMemory block = new DeviceMemory(address, bytes, size, this);
        block.pool = pool;
        return block;
    }

    private long cudaMallocRetrying(long size) {
        // (Only outside captures: emptying the cache calls cudaFree, which would invalidate one.)
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
        GraphPool pool = capturing != null ? capturing : block.pool;
        if (pool != null && !pool.closed) {
            // During a capture even a block from before it joins the graph: a recorded kernel may read it.
            pool.free.push(block.blockBytes(), block.address());
            return;
        }
        if (isClosed()) {
            // The allocator is gone: give the block straight back to CUDA.
            raw.free(block.address());
            reserved -= block.blockBytes();
            return;
        }
        cached.push(block.blockBytes(), block.address());
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

    /** Returns every cached (free) block to CUDA; not while a graph is captured (cudaFree would end it). */
    public synchronized void emptyCache() {
        checkOpen();
        if (capturing != null) {
            throw new GraphCaptureException("emptyCache() inside CUDA graph capture: cudaFree synchronises the device");
        }
        freeCached();
    }

    /**
     * Starts routing allocations and frees to a new pool for the graph about to be captured, until
     * {@link GraphPool#endCapture()}.
     *
     * @throws IllegalStateException when a capture pool is active already
     */
    public synchronized GraphPool beginGraphPool() {
        checkOpen();
        if (capturing != null) {
            throw new IllegalStateException("a CUDA graph is already being captured with this allocator");
        }
        capturing = new GraphPool();
        return capturing;
    }

    /**
     * The device memory of one CUDA graph (see the class comment). Owned by the graph's owner: close it after
     * the graph. Not closing it keeps its blocks reserved until the allocator is closed.
     */
    public final class GraphPool implements AutoCloseable {
        private final FreeLists free = new FreeLists();
        private long poolBytes;
        private long mallocs;
        private boolean closed;

        private GraphPool() {
        }

        /** New memory during a capture: relaxed capture mode (allowed, not recorded), no cache-emptying retry. */
        private long cudaMalloc(long size) {
            long address;
            try {
                address = CudaGraph.relaxed(() -> raw.malloc(size));
            } catch (CudaException e) {
                throw outOfMemory(size, e);
            }
            reserved += size;
            poolBytes += size;
            mallocs++;
            return address;
        }

        /** Stops taking this thread's allocations; the blocks stay the graph's. Idempotent. */
        public void endCapture() {
            synchronized (CachingAllocator.this) {
                if (capturing == this) {
                    capturing = null;
                }
            }
        }

        /** Bytes obtained from CUDA for this graph during its capture (the rest came from the cache). */
        public long newBytes() {
            synchronized (CachingAllocator.this) {
                return poolBytes;
            }
        }

        /** {@code cudaMalloc} calls made for this graph. */
        public long mallocCount() {
            synchronized (CachingAllocator.this) {
                return mallocs;
            }
        }

        /** Bytes of free blocks held for the graph (what {@link #close()} gives back to CUDA). */
        public long heldFreeBytes() {
            synchronized (CachingAllocator.this) {
                return free.bytes();
            }
        }

        /** Gives the free blocks back to CUDA; blocks still in use go to the ordinary cache when closed. Idempotent. */
        @Override
        public void close() {
            synchronized (CachingAllocator.this) {
                endCapture();
                if (closed) {
                    return;
                }
                closed = true;
                free.drain(CachingAllocator.this::giveBack);
            }
        }
    }

    private void freeCached() {
        cached.drain(this::giveBack);
    }

    /** Returns one block to CUDA. */
    private void giveBack(long size, long address) {
        raw.free(address);
        reserved -= size;
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
