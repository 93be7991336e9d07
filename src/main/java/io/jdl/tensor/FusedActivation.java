package io.jdl.tensor;

import io.jdl.backend.Activation;

/**
 * A pointwise activation that {@link Tensor#linear(Tensor, Tensor, FusedActivation)} and
 * {@link Tensor#conv2d(Tensor, Tensor, int, int, int, int, FusedActivation)} apply in their bias pass (one kernel
 * on CUDA where PyTorch eager runs two): {@code x.linear(w, b, FusedActivation.relu())} equals
 * {@code x.linear(w, b).relu()}. Immutable.
 */
public final class FusedActivation {
    final Activation kind;
    /** Leaky ReLU's negative slope; 0 for the others. */
    final float slope;

    /** No activation: the plain op (its kind is null, which the op families read as "none"). */
    static final FusedActivation NONE = new FusedActivation(null, 0f);

    private FusedActivation(Activation kind, float slope) {
        this.kind = kind;
        this.slope = slope;
    }

    public static FusedActivation relu() {
        return new FusedActivation(Activation.RELU, 0f);
    }

    /** x for x > 0, else {@code slope}·x, as {@link Tensor#leakyRelu}. */
    public static FusedActivation leakyRelu(float slope) {
        return new FusedActivation(Activation.LEAKY_RELU, slope);
    }

    public static FusedActivation sigmoid() {
        return new FusedActivation(Activation.SIGMOID, 0f);
    }

    public static FusedActivation tanh() {
        return new FusedActivation(Activation.TANH, 0f);
    }

    /** The exact (erf) GELU, as {@link Tensor#gelu}. */
    public static FusedActivation gelu() {
        return new FusedActivation(Activation.GELU, 0f);
    }

    @Override
    public String toString() {
        return kind == null ? "NONE" : kind == Activation.LEAKY_RELU ? "LEAKY_RELU(" + slope + ")" : kind.toString();
    }
}
