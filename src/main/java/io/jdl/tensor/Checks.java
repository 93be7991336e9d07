package io.jdl.tensor;

/**
 * Argument checks shared by the tensor operations, outside the op code so that each op states its check in
 * one line: a null argument is an {@link IllegalArgumentException} naming the operation and the argument,
 * never a {@link NullPointerException} from deep inside a kernel.
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
}
