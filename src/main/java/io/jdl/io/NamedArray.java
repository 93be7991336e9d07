package io.jdl.io;

import java.util.Arrays;
import java.util.Objects;

/**
 * A named float32 array with a shape: one tensor of a checkpoint, independent of the tensor and nn layers.
 * The arrays are held as given (no copy); the record's {@code equals} compares contents.
 *
 * @param name  the tensor's name, PyTorch style ({@code fc1.weight})
 * @param shape the dimension sizes, outermost first; empty for a scalar
 * @param data  the values in row-major order, {@code product(shape)} of them
 */
public record NamedArray(String name, int[] shape, float[] data) {
    /** @throws IllegalArgumentException when the data length is not the product of the shape, or a size is negative */
    public NamedArray {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(data, "data");
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException(name + ": negative dimension in shape " + Arrays.toString(shape));
            }
            n *= d;
        }
        if (n != data.length) {
            throw new IllegalArgumentException(name + ": shape " + Arrays.toString(shape) + " has " + n
                    + " elements but " + data.length + " values were given");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NamedArray a && name.equals(a.name) && Arrays.equals(shape, a.shape) && Arrays.equals(data, a.data);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, Arrays.hashCode(shape), Arrays.hashCode(data));
    }

    @Override
    public String toString() {
        return "NamedArray[" + name + " " + Arrays.toString(shape) + "]";
    }
}
