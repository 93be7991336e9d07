package io.jdl.cuda;

import static io.jdl.bindings.cudart.cuda_runtime_api_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A CUDA event: a marker in a stream, used to time device work and to wait for it. */
public final class Event extends NativeResource {
    private final MemorySegment handle;

    private Event(MemorySegment handle) {
        this.handle = handle;
    }

    /** An event that can time work ({@link #elapsedMillisSince}). */
    public static Event create() {
        return create(0);
    }

    /** A lighter event for ordering and completion checks only (no timing). */
    public static Event createForSync() {
        return create(cudaEventDisableTiming());
    }

    private static Event create(int flags) {
        Cuda.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            Cuda.check(cudaEventCreateWithFlags(out, flags), "cudaEventCreateWithFlags");
            return new Event(out.get(ValueLayout.ADDRESS, 0));
        }
    }

    /** Whether the work recorded before this event has finished (never blocks). */
    public boolean isComplete() {
        int status = cudaEventQuery(handle());
        if (status == cudaErrorNotReady()) {
            return false;
        }
        Cuda.check(status, "cudaEventQuery");
        return true;
    }

    /** Marks the point in {@code stream} reached once all work queued before it has run. */
    public void record(Stream stream) {
        Cuda.check(cudaEventRecord(handle(), stream.handle()), "cudaEventRecord");
    }

    /** Blocks the host until the recorded work has finished. */
    public void synchronize() {
        Cuda.check(cudaEventSynchronize(handle()), "cudaEventSynchronize");
    }

    /** Milliseconds of device time between {@code start} and this event (both recorded and finished). */
    public float elapsedMillisSince(Event start) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_FLOAT);
            Cuda.check(cudaEventElapsedTime(out, start.handle(), handle()), "cudaEventElapsedTime");
            return out.get(ValueLayout.JAVA_FLOAT, 0);
        }
    }

    MemorySegment handle() {
        checkOpen();
        return handle;
    }

    @Override
    protected void release() {
        Cuda.check(cudaEventDestroy(handle), "cudaEventDestroy");
    }

    @Override
    protected String describe() {
        return "CUDA event";
    }
}
