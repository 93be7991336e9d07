package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

/** A binary pointwise operation for {@link Cudnn#opTensor}: add, mul, min, max. */
public final class OpTensorDescriptor extends Descriptor {

    public enum Op { ADD, MUL, MIN, MAX }

    private final Op op;

    public OpTensorDescriptor(Op op) {
        super(io.jdl.bindings.cudnn.cudnn_h::cudnnCreateOpTensorDescriptor, "cudnnCreateOpTensorDescriptor");
        this.op = op;
        int o = switch (op) {
            case ADD -> CUDNN_OP_TENSOR_ADD();
            case MUL -> CUDNN_OP_TENSOR_MUL();
            case MIN -> CUDNN_OP_TENSOR_MIN();
            case MAX -> CUDNN_OP_TENSOR_MAX();
        };
        // A NaN propagates, as on the CPU backend and in PyTorch (NOT_PROPAGATE would turn it into a number).
        configure(cudnnSetOpTensorDescriptor(handle(), o, CUDNN_DATA_FLOAT(), CUDNN_PROPAGATE_NAN()),
                "cudnnSetOpTensorDescriptor");
    }

    @Override
    protected void release() {
        Cudnn.check(cudnnDestroyOpTensorDescriptor(rawHandle()), "cudnnDestroyOpTensorDescriptor");
    }

    @Override
    protected String describe() {
        return "cuDNN op-tensor descriptor (" + op + ")";
    }
}
