package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

import io.jdl.cuda.DeviceMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Objects;

/**
 * A tensor of up to 8 dimensions, float32 unless a {@link CudnnDataType} says otherwise: packed (row-major)
 * strides, or explicit ones for a strided float32 view.
 */
public final class TensorDescriptor extends Descriptor {
    private final CudnnDataType type;
    private final int[] dims;
    private final long elements;

    private static int[] packedStrides(int[] dims) {
        int[] strides = new int[dims.length];
        long n = 1;
        for (int i = dims.length - 1; i >= 0; i--) {
            strides[i] = Math.toIntExact(n);
            n *= dims[i];
        }
        return strides;
    }

    private TensorDescriptor(CudnnDataType type, int[] dims, int[] givenStrides) {
        super(io.jdl.bindings.cudnn.cudnn_h::cudnnCreateTensorDescriptor, "cudnnCreateTensorDescriptor");
        // cuDNN's Nd calls want at least 4 dimensions: pad with leading 1s, which changes nothing.
        int[] padded = new int[Math.max(4, dims.length)];
        int[] strides = new int[padded.length];
        Arrays.fill(padded, 1);
        System.arraycopy(dims, 0, padded, padded.length - dims.length, dims.length);
        System.arraycopy(givenStrides, 0, strides, padded.length - dims.length, dims.length);
        // The span: one past the farthest element the strides reach.
        long span = 1;
        for (int i = 0; i < dims.length; i++) {
            span += (long) (dims[i] - 1) * givenStrides[i];
        }
        for (int i = padded.length - dims.length - 1; i >= 0; i--) {
            strides[i] = Math.toIntExact(span);
        }
        this.type = type;
        this.dims = padded;
        this.elements = span;
        try (Arena arena = Arena.ofConfined()) {
            configure(cudnnSetTensorNdDescriptor(handle(), type.code(), padded.length,
                    arena.allocateFrom(ValueLayout.JAVA_INT, padded), arena.allocateFrom(ValueLayout.JAVA_INT, strides)),
                    "cudnnSetTensorNdDescriptor" + Arrays.toString(padded));
        }
    }

    /** A float32 tensor with these dimensions (outermost first). */
    public static TensorDescriptor of(int... dims) {
        return of(CudnnDataType.FLOAT, dims);
    }

    /** A packed tensor of {@code type} with these dimensions (outermost first). */
    public static TensorDescriptor of(CudnnDataType type, int... dims) {
        Objects.requireNonNull(type, "type");
        if (dims.length == 0 || dims.length > 8) {
            throw new IllegalArgumentException("cuDNN tensors have 1 to 8 dimensions, got " + dims.length);
        }
        for (int d : dims) {
            if (d <= 0) {
                throw new IllegalArgumentException("cuDNN tensor dimensions must be positive: " + Arrays.toString(dims));
            }
        }
        return new TensorDescriptor(type, dims.clone(), packedStrides(dims));
    }

    /**
     * A float32 view with explicit strides (in elements), for {@link Cudnn#transformTensor}: permuted
     * or sliced layouts. {@link #elements()} is then the span the view reaches.
     */
    public static TensorDescriptor strided(int[] dims, int[] strides) {
        if (dims.length == 0 || dims.length > 8 || strides.length != dims.length) {
            throw new IllegalArgumentException("cuDNN tensors have 1 to 8 dimensions with one stride each, got "
                    + Arrays.toString(dims) + " / " + Arrays.toString(strides));
        }
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] <= 0 || strides[i] <= 0) {
                throw new IllegalArgumentException("cuDNN tensor dimensions and strides must be positive: "
                        + Arrays.toString(dims) + " / " + Arrays.toString(strides));
            }
        }
        return new TensorDescriptor(CudnnDataType.FLOAT, dims.clone(), strides.clone());
    }

    /** Dimensions as given to cuDNN (padded to at least 4). */
    public int[] dims() {
        return dims.clone();
    }

    public long elements() {
        return elements;
    }

    public CudnnDataType type() {
        return type;
    }

    /** Bytes the layout spans. */
    public long bytes() {
        return elements * type.bytes();
    }

    void checkFits(DeviceMemory m, String name) {
        checkFits(m, 0, name);
    }

    /** Throws unless the view, starting {@code offset} bytes into {@code m}, stays inside it. */
    void checkFits(DeviceMemory m, long offset, String name) {
        if (offset < 0 || m.bytes() - offset < bytes()) {
            throw new IllegalArgumentException("cuDNN operand " + name + " of shape " + Arrays.toString(dims) + " " + type
                    + " needs " + bytes() + " bytes at offset " + offset + " but its device block has " + m.bytes());
        }
    }

    @Override
    protected void release() {
        Cudnn.check(cudnnDestroyTensorDescriptor(rawHandle()), "cudnnDestroyTensorDescriptor");
    }

    @Override
    protected String describe() {
        return "cuDNN tensor descriptor " + Arrays.toString(dims) + " " + type;
    }
}
