package io.jdl.backend;

import io.jdl.device.DType;
import io.jdl.device.Device;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A handle on the memory behind a tensor: {@link #numel()} elements of one {@link #dtype()}. Each backend has its
 * own kind; a backend only accepts its own storage, and its float32 kernels only float32 storage (the tensor layer
 * converts or refuses the other dtypes before calling them).
 *
 * <p><b>Lifetime.</b> A storage made by {@link Backend#allocate} or {@link Backend#upload} is the first
 * handle on a new block of memory; {@link #share()} makes another handle on the same block (a tensor
 * view, see {@code io.jdl.tensor.Tensor#reshape}). Each handle is closed exactly once, by its one owner,
 * and is unusable afterwards ({@link #checkOpen()} throws); the memory itself is freed when the last
 * handle on it closes, in whatever order the handles close. So closing a view never frees memory its base
 * still uses, and closing the base leaves the view's values intact. {@link #share()} on a closed handle
 * throws, so no handle can revive freed memory.
 */
public abstract class Storage implements AutoCloseable {
    private final long numel;
    private final DType dtype;
    /** Set once by {@link #close()}, atomically: a volatile field with a VarHandle, not an AtomicBoolean object per handle. */
    private volatile boolean closed;
    private static final VarHandle CLOSED;

    static {
        try {
            CLOSED = MethodHandles.lookup().findVarHandle(Storage.class, "closed", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
    /** Open handles on this block, shared by every handle on it. */
    private final AtomicInteger handles;

    /** The first handle on a new block of {@code numel} elements of {@code dtype}. */
    protected Storage(long numel, DType dtype) {
        this.numel = numel;
        this.dtype = dtype;
        this.handles = new AtomicInteger(1);
    }

    /** Another handle on {@code base}'s block; {@code base} must be open (see {@link #share()}). */
    protected Storage(Storage base) {
        this.numel = base.numel;
        this.dtype = base.dtype;
        this.handles = base.handles;
        base.checkOpen();
        if (handles.getAndIncrement() <= 0) { // a racing close freed the block in between
            handles.decrementAndGet();
            throw new IllegalStateException(base.describe() + " is closed");
        }
    }

    /** Number of elements. */
    public final long numel() {
        return numel;
    }

    /** The element type. */
    public final DType dtype() {
        return dtype;
    }

    /** The size in bytes: {@code numel() * dtype().bytes()}. */
    public final long byteSize() {
        return numel * dtype.bytes();
    }

    /** "storage of 12 BFLOAT16 elements on cuda:0", for messages. */
    private String describe() {
        return "storage of " + numel + " " + dtype + " elements on " + device();
    }

    public abstract Device device();

    /** A new open handle on the same memory (see the class comment); throws when this one is closed. */
    public abstract Storage share();

    /** Whether {@code other} is a handle on the same memory as this one. */
    public final boolean sharesMemoryWith(Storage other) {
        return other != null && other.handles == handles;
    }

    /** Whether other open handles share this memory (an in-place write here is visible through them). */
    public final boolean isShared() {
        return handles.get() > 1;
    }

    /** Frees the memory; called once, when the last handle on it closes. */
    protected abstract void release();

    /** This handle is closed: drop what it references (the memory may live on through other handles). */
    protected void closeHandle() {
    }

    public final boolean isClosed() {
        return closed;
    }

    public final void checkOpen() {
        if (closed) {
            throw new IllegalStateException(describe() + " is closed");
        }
    }

    /** Closes this handle; frees the memory when it was the last open one. */
    @Override
    public final void close() {
        if (!CLOSED.compareAndSet(this, false, true)) {
            throw new IllegalStateException(describe() + " was already closed");
        }
        try {
            closeHandle();
        } finally {
            if (handles.decrementAndGet() == 0) {
                release();
            }
        }
    }
}
