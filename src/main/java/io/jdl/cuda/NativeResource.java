package io.jdl.cuda;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A native resource (device memory, handle, descriptor, stream) released exactly once.
 *
 * <p>Every use checks that the resource is open, so that a closed handle is never passed to a native
 * function: using it after {@link #close()}, or closing it twice, throws {@link IllegalStateException}
 * instead of crashing the JVM.
 */
public abstract class NativeResource implements AutoCloseable {
    /** Set once by {@link #close()}, atomically: a volatile field with a VarHandle, not an AtomicBoolean object per resource. */
    private volatile boolean closed;
    private static final VarHandle CLOSED;

    static {
        try {
            CLOSED = MethodHandles.lookup().findVarHandle(NativeResource.class, "closed", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Frees the native resource; called once, by {@link #close()}. */
    protected abstract void release();

    /** What this resource is, for error messages (e.g. "cuBLAS handle"). */
    protected abstract String describe();

    /** Throws {@link IllegalStateException} if closed. */
    protected final void checkOpen() {
        if (closed) {
            throw new IllegalStateException(describe() + " is closed");
        }
    }

    public final boolean isClosed() {
        return closed;
    }

    @Override
    public final void close() {
        if (!CLOSED.compareAndSet(this, false, true)) {
            throw new IllegalStateException(describe() + " was already closed");
        }
        release();
    }
}
