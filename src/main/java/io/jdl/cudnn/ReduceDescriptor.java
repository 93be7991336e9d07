package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

/** A reduction for {@link Cudnn#reduce}: sum, mean (AVG), max, or the sum of squares' root (NORM2). */
public final class ReduceDescriptor extends Descriptor {

    public enum Op { SUM, MEAN, MAX, NORM2 }

    private final Op op;

    public ReduceDescriptor(Op op) {
        super(io.jdl.bindings.cudnn.cudnn_h::cudnnCreateReduceTensorDescriptor, "cudnnCreateReduceTensorDescriptor");
        this.op = op;
        int o = switch (op) {
            case SUM -> CUDNN_REDUCE_TENSOR_ADD();
            case MEAN -> CUDNN_REDUCE_TENSOR_AVG();
            case MAX -> CUDNN_REDUCE_TENSOR_MAX();
            case NORM2 -> CUDNN_REDUCE_TENSOR_NORM2();
        };
        // A NaN propagates, as on the CPU backend and in PyTorch (NOT_PROPAGATE would turn it into a number).
        configure(cudnnSetReduceTensorDescriptor(handle(), o, CUDNN_DATA_FLOAT(), CUDNN_PROPAGATE_NAN(),
                CUDNN_REDUCE_TENSOR_NO_INDICES(), CUDNN_32BIT_INDICES()), "cudnnSetReduceTensorDescriptor");
    }

    @Override
    protected void release() {
        Cudnn.check(cudnnDestroyReduceTensorDescriptor(rawHandle()), "cudnnDestroyReduceTensorDescriptor");
    }

    @Override
    protected String describe() {
        return "cuDNN reduce descriptor (" + op + ")";
    }
}
