package io.jdl.nn;

import io.jdl.tensor.Tensor;
import java.util.function.UnaryOperator;

/** Activation functions as modules (no parameters). */
public final class Activations {
    private Activations() {
    }

    private static final class Fn extends Module {
        private final String name;
        private final UnaryOperator<Tensor> f;

        Fn(String name, UnaryOperator<Tensor> f) {
            this.name = name;
            this.f = f;
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

    public static Module relu() {
        return new Fn("ReLU", Tensor::relu);
    }

    public static Module leakyRelu(float slope) {
        return new Fn("LeakyReLU(" + slope + ")", x -> x.leakyRelu(slope));
    }

    public static Module sigmoid() {
        return new Fn("Sigmoid", Tensor::sigmoid);
    }

    public static Module tanh() {
        return new Fn("Tanh", Tensor::tanh);
    }

    public static Module gelu() {
        return new Fn("GELU", Tensor::gelu);
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
