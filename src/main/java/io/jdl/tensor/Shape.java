package io.jdl.tensor;

import java.math.BigInteger;
import java.util.Arrays;

/**
 * The sizes of a tensor's dimensions, outermost first. Immutable.
 *
 * <p>Every element of a tensor is addressed with an {@code int} (a CPU tensor is one Java array), so a
 * shape holds at most {@link #MAX_ELEMENTS} elements. The limit applies to the product of the non-zero
 * dimensions too: an empty [0, 2^30, 2^30] would otherwise flatten or reduce to a dimension no
 * {@code int} holds. A shape outside these limits is refused here, naming it, rather than overflowing in
 * an operation later.
 */
public final class Shape {
    /** The most elements a tensor holds: the largest Java array the JVM reliably allocates. */
    public static final int MAX_ELEMENTS = Integer.MAX_VALUE - 8;

    private final int[] dims;
    private final long numel;

    private Shape(int[] dims) {
        long nonZero = 1;
        boolean empty = false;
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] < 0) {
                throw new IllegalArgumentException("shape " + Arrays.toString(dims) + ": dimension " + i + " is negative ("
                        + dims[i] + ")");
            }
            if (dims[i] == 0) {
                empty = true;
            } else {
                // Saturates instead of overflowing: past MAX_ELEMENTS the exact value no longer matters.
                nonZero = Math.min((long) MAX_ELEMENTS + 1, nonZero * dims[i]);
            }
        }
        if (nonZero > MAX_ELEMENTS) {
            throw new IllegalArgumentException("shape " + Arrays.toString(dims) + " has " + describeSize(dims)
                    + (empty ? " in its non-zero dimensions" : "") + "; a tensor holds at most " + MAX_ELEMENTS
                    + " elements");
        }
        this.dims = dims;
        this.numel = empty ? 0 : nonZero;
    }

    /** The product of the non-zero dimensions, exactly where a long holds it. */
    private static String describeSize(int[] dims) {
        BigInteger p = BigInteger.ONE;
        for (int d : dims) {
            if (d != 0) {
                p = p.multiply(BigInteger.valueOf(d));
            }
        }
        return p + " elements";
    }

    /**
     * The shape with these dimensions.
     *
     * @throws IllegalArgumentException when {@code dims} is null, a dimension is negative, or the shape
     *         holds more than {@link #MAX_ELEMENTS} elements
     */
    public static Shape of(int... dims) {
        if (dims == null) {
            throw new IllegalArgumentException("shape dimensions are null");
        }
        return new Shape(dims.clone());
    }

    public int rank() {
        return dims.length;
    }

    /** Size of dimension {@code i}; negative {@code i} counts from the end. */
    public int dim(int i) {
        return dims[axis(i)];
    }

    /** Normalises a possibly negative axis, or throws naming the shape. */
    public int axis(int i) {
        int a = i < 0 ? i + dims.length : i;
        if (a < 0 || a >= dims.length) {
            throw new IllegalArgumentException("axis " + i + " out of range for shape " + this);
        }
        return a;
    }

    public int[] dims() {
        return dims.clone();
    }

    public long numel() {
        return numel;
    }

    /** This shape with dimension {@code axis} removed. */
    public Shape without(int axis) {
        int a = axis(axis);
        int[] d = new int[dims.length - 1];
        for (int i = 0, j = 0; i < dims.length; i++) {
            if (i != a) {
                d[j++] = dims[i];
            }
        }
        return new Shape(d);
    }

    /** Product of the dimensions in [from, to); it fits an int, since the non-zero dimensions' product does. */
    public int product(int from, int to) {
        if (from < 0 || to > dims.length || from > to) {
            throw new IllegalArgumentException("dimensions [" + from + ", " + to + ") out of range for shape " + this);
        }
        long p = 1;
        for (int i = from; i < to; i++) {
            p *= dims[i];
        }
        return (int) p;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        return Arrays.toString(dims);
    }
}
