package io.jdl.cudnn;

import io.jdl.cuda.NativeResource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.ToIntFunction;

/** A cuDNN descriptor: created, configured once, destroyed exactly once on {@link #close()}. */
abstract class Descriptor extends NativeResource {
    private final MemorySegment handle;

    /** Calls {@code create} (a {@code cudnnCreate*Descriptor}) and keeps the handle it writes. */
    Descriptor(ToIntFunction<MemorySegment> create, String call) {
        Cudnn.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            Cudnn.check(create.applyAsInt(out), call);
            handle = out.get(ValueLayout.ADDRESS, 0);
        }
    }

    /** Runs a {@code cudnnSet*} call; on failure destroys the descriptor before rethrowing. */
    final void configure(int status, String call) {
        try {
            Cudnn.check(status, call);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    final MemorySegment handle() {
        checkOpen();
        return handle;
    }

    /** The raw handle, for {@link #release()} (no open check: it runs while closing). */
    final MemorySegment rawHandle() {
        return handle;
    }
}
