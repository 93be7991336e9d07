package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

import java.util.Objects;

/** Convolution weights, NCHW: [out channels, in channels / groups, kernel height, kernel width]. */
public final class FilterDescriptor extends Descriptor {
    private final CudnnDataType type;
    private final int k, c, h, w;

    /** Float32 weights. */
    public FilterDescriptor(int k, int c, int h, int w) {
        this(CudnnDataType.FLOAT, k, c, h, w);
    }

    public FilterDescriptor(CudnnDataType type, int k, int c, int h, int w) {
        super(io.jdl.bindings.cudnn.cudnn_h::cudnnCreateFilterDescriptor, "cudnnCreateFilterDescriptor");
        this.type = Objects.requireNonNull(type, "type");
        this.k = k;
        this.c = c;
        this.h = h;
        this.w = w;
        configure(cudnnSetFilter4dDescriptor(handle(), type.code(), CUDNN_TENSOR_NCHW(), k, c, h, w),
                "cudnnSetFilter4dDescriptor(" + type + ", " + k + ", " + c + ", " + h + ", " + w + ")");
    }

    public long elements() {
        return (long) k * c * h * w;
    }

    public CudnnDataType type() {
        return type;
    }

    /** Bytes the weights take. */
    public long bytes() {
        return elements() * type.bytes();
    }

    @Override
    protected void release() {
        Cudnn.check(cudnnDestroyFilterDescriptor(rawHandle()), "cudnnDestroyFilterDescriptor");
    }

    @Override
    protected String describe() {
        return "cuDNN filter descriptor [" + k + ", " + c + ", " + h + ", " + w + "] " + type;
    }
}
