package io.jdl.nn;

import io.jdl.tensor.FusedActivation;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;

/**
 * y = x·Wᵀ + b with weight [out, in] and bias [out] (PyTorch's layout); Kaiming-uniform weights.
 * {@link #forward(Tensor, FusedActivation)} applies an activation in the bias pass ({@link Sequential} does so
 * for a Linear directly followed by an activation module).
 */
public final class Linear extends Module implements ActivationFusing {
    private final int in, out;

    public Linear(int in, int out, boolean bias, Random rng) {
        this.in = in;
        this.out = out;
        registerParameter("weight", Init.kaimingUniform(rng, Shape.of(out, in), in));
        if (bias) {
            registerParameter("bias", Init.pytorchDefault(rng, Shape.of(out), in));
        }
    }

    public Linear(int in, int out, Random rng) {
        this(in, out, true, rng);
    }

    @Override
    protected Tensor compute(Tensor x) {
        return x.linear(param("weight"), param("bias"));
    }

    @Override
    public Tensor forward(Tensor x, FusedActivation act) {
        return scoped(() -> x.linear(param("weight"), param("bias"), act));
    }

    @Override
    public String toString() {
        return "Linear(" + in + ", " + out + (param("bias") == null ? ", bias=false)" : ")");
    }
}
