package io.jdl.nn;

import io.jdl.tensor.Tensor;

/** [n, d1, d2, ...] to [n, d1·d2·...] (PyTorch's nn.Flatten with start_dim=1). */
public final class Flatten extends Module {
    @Override
    protected Tensor compute(Tensor x) {
        return x.flatten(1);
    }

    @Override
    public String toString() {
        return "Flatten";
    }
}
