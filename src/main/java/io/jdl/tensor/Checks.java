package io.jdl.tensor;

/**
 * The argument checks every op family shares, so that each op states a check in one line; each names the op
 * and the arguments involved. A null argument is an {@link IllegalArgumentException} naming the operation and
 * the argument, never a {@link NullPointerException} from deep inside a kernel.
 */
final class Checks {
    private Checks() {
    }

    /** {@code value}, or an exception saying that {@code op}'s argument {@code name} is null. */
    static <T> T notNull(String op, String name, T value) {
        if (value == null) {
            throw new IllegalArgumentException(op + ": " + name + " is null");
        }
        return value;
    }

    static void sameDevice(String op, Tensor a, Tensor b) {
        notNull(op, "a tensor argument", a).checkOpen();
        notNull(op, "a tensor argument", b).checkOpen();
        if (!a.device().equals(b.device())) {
            throw new IllegalArgumentException(op + ": tensors on different devices: " + a.device() + " and "
                    + b.device() + " (shapes " + a.shape + " and " + b.shape + "); move one with to(device)");
        }
    }

    static void sameShape(String op, Tensor a, Tensor b) {
        sameDevice(op, a, b);
        if (!a.shape.equals(b.shape)) {
            throw new IllegalArgumentException(op + ": shapes " + a.shape + " and " + b.shape + " differ");
        }
    }

    /** Refuses a copy between dtypes: {@code op} converts nothing (PyTorch's copy_ would; jdl asks for to(DType)). */
    static void sameDType(String op, Tensor src, Tensor dst) {
        if (src.dtype() != dst.dtype()) {
            throw new IllegalArgumentException(op + ": source is " + src.dtype() + " but this tensor is " + dst.dtype()
                    + " (convert with to(DType) first)");
        }
    }

    /** In-place writes go to leaves only: a recorded result's values belong to its graph. */
    static void notRecorded(String op, Tensor t) {
        if (t.node != null) {
            throw new IllegalStateException(op + ": tensor " + t.shape + " is the recorded result of "
                    + t.node.op + "; in-place changes are allowed on leaves only (detach() it first)");
        }
    }

    /** The exception for using {@code t} after it was closed (by its owner or by backward()). */
    static IllegalStateException closed(Tensor t) {
        return new IllegalStateException("tensor " + t.shape() + " on " + t.device() + (t.releasedByGraph
                ? " was released by backward() (a graph's intermediates are freed with it; call retain() before"
                + " backward() to keep one)" : " is closed"));
    }
}
