package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

/** Convolution weights, float32, [out channels, in channels / groups, kernel height, kernel width]. */
public final class FilterDescriptor extends Descriptor {
    private final int k, c, h, w;

    public FilterDescriptor(int k, int c, int h, int w) {
        super(io.jdl.bindings.cudnn.cudnn_h::cudnnCreateFilterDescriptor, "cudnnCreateFilterDescriptor");
        this.k = k;
        this.c = c;
        this.h = h;
        this.w = w;
        configure(cudnnSetFilter4dDescriptor(handle(), CUDNN_DATA_FLOAT(), CUDNN_TENSOR_NCHW(), k, c, h, w),
                "cudnnSetFilter4dDescriptor(" + k + ", " + c + ", " + h + ", " + w + ")");
    }

    public long elements() {
        return (long) k * c * h * w;
    }

    @Override
    protected void release() {
        Cudnn.check(cudnnDestroyFilterDescriptor(rawHandle()), "cudnnDestroyFilterDescriptor");
    }

    @Override
    protected String describe() {
        return "cuDNN filter descriptor [" + k + ", " + c + ", " + h + ", " + w + "]";
    }
}
