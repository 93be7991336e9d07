package io.jdl.nn;

import io.jdl.tensor.Tensor;

/** A skip connection: y = x + inner(x), where inner keeps the shape (named "inner" in the state dict). */
public final class Residual extends Module {
    private final Module inner;

    public Residual(Module inner) {
        this.inner = registerModule("inner", inner);
    }

    @Override
    protected Tensor compute(Tensor x) {
        Tensor f = inner.forward(x);
        if (!f.shape().equals(x.shape())) {
            throw new IllegalArgumentException("Residual: inner module maps " + x.shape() + " to " + f.shape()
                    + "; a skip connection needs the same shape");
        }
        return x.add(f);
    }
}
