package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

/** 2-d max or average pooling; average pooling either counts the padding in the window (PyTorch's default) or not. */
public final class PoolingDescriptor extends Descriptor {

    public enum Mode { MAX, AVERAGE_INCLUDE_PADDING, AVERAGE_EXCLUDE_PADDING }

    public PoolingDescriptor(Mode mode, int windowH, int windowW, int padH, int padW, int strideH, int strideW) {
        super(io.jdl.bindings.cudnn.cudnn_h::cudnnCreatePoolingDescriptor, "cudnnCreatePoolingDescriptor");
        int m = switch (mode) {
            // Deterministic max pooling: ties go to one input, as on the CPU reference.
            case MAX -> CUDNN_POOLING_MAX_DETERMINISTIC();
            case AVERAGE_INCLUDE_PADDING -> CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING();
            case AVERAGE_EXCLUDE_PADDING -> CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING();
        };
        // A NaN propagates, as on the CPU backend and in PyTorch (NOT_PROPAGATE would turn it into a number).
        configure(cudnnSetPooling2dDescriptor(handle(), m, CUDNN_PROPAGATE_NAN(), windowH, windowW, padH, padW,
                strideH, strideW), "cudnnSetPooling2dDescriptor");
    }

    @Override
    protected void release() {
        Cudnn.check(cudnnDestroyPoolingDescriptor(rawHandle()), "cudnnDestroyPoolingDescriptor");
    }

    @Override
    protected String describe() {
        return "cuDNN pooling descriptor";
    }
}
