package io.jdl.cuda;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A native resource (device memory, handle, descriptor, stream) released exactly once.
 *
 * <p>Every use checks that the resource is open, so that a closed handle is never passed to a native
 * function: using it after {@link #close()}, or closing it twice, throws {@link IllegalStateException}
 * instead of crashing the JVM.
 */
public abstract class NativeResource implements AutoCloseable {
    private final AtomicBoolean closed = new AtomicBoolean();

    /** Frees the native resource; called once, by {@link #close()}. */
    protected abstract void release();

    /** What this resource is, for error messages (e.g. "cuBLAS handle"). */
    protected abstract String describe();

    /** Throws {@link IllegalStateException} if closed. */
    protected final void checkOpen() {
        if (closed.get()) {
            throw new IllegalStateException(describe() + " is closed");
        }
    }

    public final boolean isClosed() {
        return closed.get();
    }

    @Override
    public final void close() {
        if (!closed.compareAndSet(false, true)) {
            throw new IllegalStateException(describe() + " was already closed");
        }
        release();
    }
}
