package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

import io.jdl.cuda.DeviceMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/** A dense float32 tensor of up to 8 dimensions, row-major (packed) strides. */
public final class TensorDescriptor extends Descriptor {
    private final int[] dims;
    private final long elements;

    private TensorDescriptor(int[] dims) {
        super(io.jdl.bindings.cudnn.cudnn_h::cudnnCreateTensorDescriptor, "cudnnCreateTensorDescriptor");
        // cuDNN's Nd calls want at least 4 dimensions: pad with leading 1s, which changes nothing.
        int[] padded = new int[Math.max(4, dims.length)];
        Arrays.fill(padded, 1);
        System.arraycopy(dims, 0, padded, padded.length - dims.length, dims.length);
        this.dims = padded;
        long n = 1;
        int[] strides = new int[padded.length];
        for (int i = padded.length - 1; i >= 0; i--) {
            strides[i] = (int) n;
            n *= padded[i];
        }
        this.elements = n;
        try (Arena arena = Arena.ofConfined()) {
            configure(cudnnSetTensorNdDescriptor(handle(), CUDNN_DATA_FLOAT(), padded.length,
                    arena.allocateFrom(ValueLayout.JAVA_INT, padded), arena.allocateFrom(ValueLayout.JAVA_INT, strides)),
                    "cudnnSetTensorNdDescriptor" + Arrays.toString(padded));
        }
    }

    /** A float32 tensor with these dimensions (outermost first). */
    public static TensorDescriptor of(int... dims) {
        if (dims.length == 0 || dims.length > 8) {
            throw new IllegalArgumentException("cuDNN tensors have 1 to 8 dimensions, got " + dims.length);
        }
        for (int d : dims) {
            if (d <= 0) {
                throw new IllegalArgumentException("cuDNN tensor dimensions must be positive: " + Arrays.toString(dims));
            }
        }
        return new TensorDescriptor(dims.clone());
    }

    /** Dimensions as given to cuDNN (padded to at least 4). */
    public int[] dims() {
        return dims.clone();
    }

    public long elements() {
        return elements;
    }

    void checkFits(DeviceMemory m, String name) {
        if (m.bytes() < elements * Float.BYTES) {
            throw new IllegalArgumentException("cuDNN operand " + name + " of shape " + Arrays.toString(dims) + " needs "
                    + elements * Float.BYTES + " bytes but its device block has " + m.bytes());
        }
    }

    @Override
    protected void release() {
        Cudnn.check(cudnnDestroyTensorDescriptor(rawHandle()), "cudnnDestroyTensorDescriptor");
    }

    @Override
    protected String describe() {
        return "cuDNN tensor descriptor " + Arrays.toString(dims);
    }
}
