package io.jdl.nn;

import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;

/** Layer norm over the last dimension with a learned scale {@code weight} (ones) and shift {@code bias} (zeros). */
public final class LayerNorm extends Module {
    private final int dim;
    private final float eps;

    public LayerNorm(int dim, float eps) {
        if (dim < 1) {
            throw new IllegalArgumentException("LayerNorm size must be >= 1, got " + dim);
        }
        this.dim = dim;
        this.eps = eps;
        registerParameter("weight", Tensor.full(Shape.of(dim), 1f, Device.CPU));
        registerParameter("bias", Tensor.zeros(Shape.of(dim), Device.CPU));
    }

    public LayerNorm(int dim) {
        this(dim, 1e-5f);
    }

    @Override
    protected Tensor compute(Tensor x) {
        return x.layerNorm(param("weight"), param("bias"), eps);
    }

    @Override
    public String toString() {
        return "LayerNorm(" + dim + ", eps=" + eps + ")";
    }
}
