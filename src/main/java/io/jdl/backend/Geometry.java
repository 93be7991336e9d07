package io.jdl.backend;

/** Sliding-window size arithmetic shared by {@link ConvShape} and {@link PoolShape}, in 64 bits. */
final class Geometry {
    private Geometry() {
    }

    static void atLeast(String op, String what, int value, int min) {
        if (value < min) {
            throw new IllegalArgumentException(op + ": " + what + " must be at least " + min + ", got " + value);
        }
    }

    /** The extent of a dilated kernel: dilation·(size − 1) + 1. */
    static long dilatedKernel(int size, int dilation) {
        return (long) dilation * (size - 1) + 1;
    }

    /**
     * Throws, naming {@code op} (which describes the call), unless a {@code window} fits the padded input
     * along this dimension (PyTorch refuses a larger one) and the number of positions fits an {@code int}.
     */
    static void checkFits(String op, String dimension, int size, int padding, long window, int stride) {
        if (fits(size, padding, window, stride)) {
            return;
        }
        long padded = size + 2L * padding;
        if (size < 0 || padded < window) {
            throw new IllegalArgumentException(op + ": input " + dimension + " " + size + " plus padding (" + padded
                    + ") is smaller than the window (" + window + ")");
        }
        long out = positions(size, padding, window, stride);
        if (out > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(op + ": output " + dimension + " " + out + " exceeds " + Integer.MAX_VALUE);
        }
    }

    /**
     * Whether {@link #checkFits} passes: the callers build their description of the call (a string) only when
     * it does not, since shapes are checked on every op of a training step.
     */
    static boolean fits(int size, int padding, long window, int stride) {
        long padded = size + 2L * padding;
        return size >= 0 && padded >= window && positions(size, padding, window, stride) <= Integer.MAX_VALUE;
    }

    /** ⌊(size + 2·padding − window) / stride⌋ + 1, for a window that fits (see {@link #checkFits}). */
    static long positions(int size, int padding, long window, int stride) {
        return (size + 2L * padding - window) / stride + 1;
    }
}
