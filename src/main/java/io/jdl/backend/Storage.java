package io.jdl.backend;

import io.jdl.device.Device;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The memory behind a tensor, owned by exactly one tensor and freed exactly once. Each backend has
 * its own kind; a backend only accepts its own storage.
 */
public abstract class Storage implements AutoCloseable {
    private final long numel;
    private final AtomicBoolean closed = new AtomicBoolean();

    protected Storage(long numel) {
        this.numel = numel;
    }

    /** Number of float32 elements. */
    public final long numel() {
        return numel;
    }

    public abstract Device device();

    protected abstract void release();

    public final boolean isClosed() {
        return closed.get();
    }

    public final void checkOpen() {
        if (closed.get()) {
            throw new IllegalStateException("storage of " + numel + " floats on " + device() + " is closed");
        }
    }

    @Override
    public final void close() {
        if (!closed.compareAndSet(false, true)) {
            throw new IllegalStateException("storage of " + numel + " floats on " + device() + " was already closed");
        }
        release();
    }
}
