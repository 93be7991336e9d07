package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

/** A pointwise activation cuDNN computes: relu, sigmoid, tanh, clipped relu, elu. */
public final class ActivationDescriptor extends Descriptor {

    public enum Mode { RELU, SIGMOID, TANH, CLIPPED_RELU, ELU, IDENTITY }

    private final Mode mode;

    /** {@code coef} is the clipping threshold (CLIPPED_RELU) or alpha (ELU); ignored otherwise. */
    public ActivationDescriptor(Mode mode, double coef) {
        super(io.jdl.bindings.cudnn.cudnn_h::cudnnCreateActivationDescriptor, "cudnnCreateActivationDescriptor");
        this.mode = mode;
        int m = switch (mode) {
            case RELU -> CUDNN_ACTIVATION_RELU();
            case SIGMOID -> CUDNN_ACTIVATION_SIGMOID();
            case TANH -> CUDNN_ACTIVATION_TANH();
            case CLIPPED_RELU -> CUDNN_ACTIVATION_CLIPPED_RELU();
            case ELU -> CUDNN_ACTIVATION_ELU();
            case IDENTITY -> CUDNN_ACTIVATION_IDENTITY();
        };
        // A NaN propagates, as on the CPU backend and in PyTorch (NOT_PROPAGATE would turn it into a number).
        configure(cudnnSetActivationDescriptor(handle(), m, CUDNN_PROPAGATE_NAN(), coef), "cudnnSetActivationDescriptor");
    }

    public ActivationDescriptor(Mode mode) {
        this(mode, 0.0);
    }

    @Override
    protected void release() {
        Cudnn.check(cudnnDestroyActivationDescriptor(rawHandle()), "cudnnDestroyActivationDescriptor");
    }

    @Override
    protected String describe() {
        return "cuDNN activation descriptor (" + mode + ")";
    }
}
