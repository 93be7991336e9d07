package io.jdl.nn;

import io.jdl.tensor.Tensor;

/** A skip connection: y = x + inner(x), where inner keeps the shape (named "inner" in the state dict). */
public final class Residual extends Module {
    private final Module inner;

    public Residual(Module inner) {
        this.inner = registerModule("inner", inner);
    }

    @Override
    public Tensor forward(Tensor x) {
        Tensor f = inner.forward(x);
        if (!f.shape().equals(x.shape())) {
            if (f != x) {
                f.close();
            }
            throw new IllegalArgumentException("Residual: inner module maps " + x.shape() + " to " + f.shape()
                    + "; a skip connection needs the same shape");
        }
        Tensor y = x.add(f);
        if (f != x && !f.needsGrad()) {
            f.close();
        }
        return y;
    }
}
