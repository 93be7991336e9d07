package io.jdl.optim;

import io.jdl.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Updates parameters in place from their gradients. On a GPU every update is a fused kernel on the
 * device: parameters, gradients and optimizer state never travel to the host. Parameters without a
 * gradient (unused in the last backward) are skipped. The optimizer owns its state tensors; close it.
 */
public abstract class Optimizer implements AutoCloseable {
    protected final List<Tensor> params;
    protected float lr;

    protected Optimizer(List<Tensor> params, float lr) {
        if (!(lr >= 0)) {
            throw new IllegalArgumentException("learning rate must be >= 0, got " + lr);
        }
        for (Tensor p : params) {
            if (!p.requiresGrad()) {
                throw new IllegalArgumentException("optimizer parameter " + p + " does not require grad");
            }
        }
        this.params = new ArrayList<>(params);
        this.lr = lr;
    }

    /** Applies one update to every parameter that has a gradient. */
    public abstract void step();

    /** Frees every parameter's gradient. */
    public void zeroGrad() {
        params.forEach(Tensor::zeroGrad);
    }

    public float lr() {
        return lr;
    }

    public void setLr(float lr) {
        this.lr = lr;
    }

    /**
     * Throws when a parameter was closed: typically the module was moved with {@code to(device)}, which
     * replaces its parameters, after this optimizer was made. Without this check the update would skip
     * them (they never get a gradient) and training would silently stop.
     */
    protected final void checkParameters() {
        for (Tensor p : params) {
            if (p.isClosed()) {
                throw new IllegalStateException("optimizer parameter " + p.shape() + " was closed: create the optimizer"
                        + " after moving the model to its device (Module.to replaces the parameters)");
            }
        }
    }

    /** A zero-filled state tensor shaped and placed like {@code p}. */
    protected static Tensor zerosLike(Tensor p) {
        return Tensor.zeros(p.shape(), p.device());
    }

    /** Frees the optimizer's state (momentum, moments); the parameters stay with their owner. */
    @Override
    public abstract void close();

    protected static void checkSameDevice(Tensor p, Tensor state) {
        if (!p.device().equals(state.device())) {
            throw new IllegalStateException("parameter " + p + " moved to another device after the optimizer was made;"
                    + " create the optimizer after model.to(device)");
        }
    }
}
