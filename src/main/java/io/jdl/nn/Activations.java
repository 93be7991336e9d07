package io.jdl.nn;

import io.jdl.tensor.FusedActivation;
import io.jdl.tensor.Tensor;
import java.util.function.UnaryOperator;

/** Activation functions as modules (no parameters). */
public final class Activations {
    private Activations() {
    }

    private static final class Fn extends Module {
        private final String name;
        private final UnaryOperator<Tensor> f;
        /** The pointwise activation this module applies, which a preceding layer may fuse; null for others. */
        private final FusedActivation fusable;

        Fn(String name, UnaryOperator<Tensor> f) {
            this(name, f, null);
        }

        Fn(String name, UnaryOperator<Tensor> f, FusedActivation fusable) {
            this.name = name;
            this.f = f;
            this.fusable = fusable;
        }

        @Override
        protected Tensor compute(Tensor x) {
            return f.apply(x);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /**
     * The activation {@code m} applies, when it is one of the pointwise activations above (ReLU, leaky ReLU,
     * sigmoid, tanh, GELU) that {@link Linear} and {@link Conv2d} can fuse into their bias pass; else null.
     */
    static FusedActivation fusable(Module m) {
        return m instanceof Fn fn ? fn.fusable : null;
    }

    public static Module relu() {
        return new Fn("ReLU", Tensor::relu, FusedActivation.relu());
    }

    public static Module leakyRelu(float slope) {
        return new Fn("LeakyReLU(" + slope + ")", x -> x.leakyRelu(slope), FusedActivation.leakyRelu(slope));
    }

    public static Module sigmoid() {
        return new Fn("Sigmoid", Tensor::sigmoid, FusedActivation.sigmoid());
    }

    public static Module tanh() {
        return new Fn("Tanh", Tensor::tanh, FusedActivation.tanh());
    }

    public static Module gelu() {
        return new Fn("GELU", Tensor::gelu, FusedActivation.gelu());
    }

    /** Softmax over the last dimension. */
    public static Module softmax() {
        return new Fn("Softmax", Tensor::softmax);
    }

    public static Module logSoftmax() {
        return new Fn("LogSoftmax", Tensor::logSoftmax);
    }

    /** [n, ...] to [n, rest]: flattens every dimension after the first. */
    public static Module flatten() {
        return new Flatten();
    }
}
