package io.jdl.autograd;

/** A scope without gradient recording, from {@link Autograd#noGrad()}; close it on the same thread. */
public final class NoGrad implements AutoCloseable {
    private boolean closed;

    NoGrad() {
    }

    @Override
    public void close() {
        if (closed) {
            throw new IllegalStateException("no-grad scope closed twice");
        }
        closed = true;
        Autograd.restore();
    }
}
