package io.jdl.nn;

import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;

/** y = x·Wᵀ + b with weight [out, in] and bias [out] (PyTorch's layout); Kaiming-uniform weights. */
public final class Linear extends Module {
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
    public String toString() {
        return "Linear(" + in + ", " + out + (param("bias") == null ? ", bias=false)" : ")");
    }
}
