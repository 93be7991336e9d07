package io.jdl.tensor;

import java.util.Arrays;

/** The sizes of a tensor's dimensions, outermost first. Immutable. */
public final class Shape {
    private final int[] dims;
    private final long numel;

    private Shape(int[] dims) {
        long n = 1;
        for (int d : dims) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(dims));
            }
            n = Math.multiplyExact(n, d);
        }
        this.dims = dims;
        this.numel = n;
    }

    public static Shape of(int... dims) {
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

    /** Product of the dimensions in [from, to). */
    public int product(int from, int to) {
        long p = 1;
        for (int i = from; i < to; i++) {
            p *= dims[i];
        }
        return Math.toIntExact(p);
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
