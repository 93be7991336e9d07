package io.jdl.cuda;

import static io.jdl.bindings.cudart.cuda_runtime_api_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Page-locked host memory ({@code cudaMallocHost}): the staging area that makes host-device copies
 * asynchronous and fast.
 *
 * <p>The {@link #segment()} is an ordinary host segment of {@link #bytes()} bytes, valid until
 * {@link #close()}; closing frees it with {@code cudaFreeHost} and any later access through the
 * segment throws {@link IllegalStateException}.
 */
public final class PinnedBuffer implements AutoCloseable {
    private final Arena arena;
    private final MemorySegment segment;

    private PinnedBuffer(Arena arena, MemorySegment segment) {
        this.arena = arena;
        this.segment = segment;
    }

    public static PinnedBuffer allocate(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("pinned buffer size must be positive: " + bytes);
        }
        Cuda.ensureLoaded();
        MemorySegment raw;
        try (Arena call = Arena.ofConfined()) {
            MemorySegment out = call.allocate(ValueLayout.ADDRESS);
            Cuda.check(cudaMallocHost(out, bytes), "cudaMallocHost(" + bytes + " bytes)");
            raw = out.get(ValueLayout.ADDRESS, 0);
        }
        Arena arena = Arena.ofShared();
        MemorySegment segment = raw.reinterpret(bytes, arena, s -> Cuda.check(cudaFreeHost(s), "cudaFreeHost"));
        return new PinnedBuffer(arena, segment);
    }

    public MemorySegment segment() {
        return segment;
    }

    public long bytes() {
        return segment.byteSize();
    }

    /** Frees the memory; throws {@link IllegalStateException} when already closed. */
    @Override
    public void close() {
        arena.close();
    }
}
