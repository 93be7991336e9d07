package io.jdl.optim;

import io.jdl.tensor.CudaGraphStep;
import io.jdl.tensor.OptimizerSteps;
import io.jdl.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * torch.optim.SGD: momentum (with dampening), Nesterov momentum, L2 weight decay added to the gradient.
 * As in PyTorch, the first update of a parameter sets its momentum buffer to the gradient.
 *
 * <pre>{@code
 * Sgd sgd = Sgd.builder().lr(0.1f).momentum(0.9f).nesterov(true).weightDecay(5e-4f).build(model.parameters());
 * }</pre>
 *
 * <p>Differences from PyTorch: the learning rate has no default (recent PyTorch versions default to 1e-3); no
 * {@code maximize} or {@code foreach} options; one parameter group.
 */
public final class Sgd extends Optimizer {
    private final float momentum, dampening, weightDecay;
    private final boolean nesterov;

    /**
     * @throws IllegalArgumentException naming the argument when lr, momentum, dampening or weightDecay is negative
     *                                  or not finite, or Nesterov lacks momentum or has dampening
     */
    public Sgd(List<Tensor> params, float lr, float momentum, float dampening, float weightDecay, boolean nesterov) {
        super(params, lr);
        checkRange("momentum", momentum, 0, Float.MAX_VALUE, false);
        checkRange("dampening", dampening, 0, Float.MAX_VALUE, false);
        checkRange("weightDecay", weightDecay, 0, Float.MAX_VALUE, false);
        if (nesterov && (momentum <= 0 || dampening != 0)) {
            throw new IllegalArgumentException("Nesterov momentum needs momentum > 0 and no dampening");
        }
        this.momentum = momentum;
        this.dampening = dampening;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
    }

    public Sgd(List<Tensor> params, float lr) {
        this(params, lr, 0f, 0f, 0f, false);
    }

    public Sgd(List<Tensor> params, float lr, float momentum) {
        this(params, lr, momentum, 0f, 0f, false);
    }

    /** Options with PyTorch's SGD defaults (no momentum, dampening or weight decay); the learning rate must be set. */
    public static Builder builder() {
        return new Builder();
    }

    /** SGD's options by name; {@link #build} checks them. */
    public static final class Builder {
        private float lr = Float.NaN, momentum, dampening, weightDecay;
        private boolean nesterov;

        private Builder() {
        }

        public Builder lr(float lr) {
            this.lr = lr;
            return this;
        }

        public Builder momentum(float momentum) {
            this.momentum = momentum;
            return this;
        }

        public Builder dampening(float dampening) {
            this.dampening = dampening;
            return this;
        }

        public Builder weightDecay(float weightDecay) {
            this.weightDecay = weightDecay;
            return this;
        }

        public Builder nesterov(boolean nesterov) {
            this.nesterov = nesterov;
            return this;
        }

        /** @throws IllegalArgumentException naming the first option out of range (lr when it was never set) */
        public Sgd build(List<Tensor> params) {
            return new Sgd(params, lr, momentum, dampening, weightDecay, nesterov);
        }
    }

    @Override
    protected List<String> stateNames() {
        return momentum == 0 ? List.of() : List.of("momentum_buffer");
    }

    /**
     * Updates every parameter that has a gradient: one multi-tensor launch for those whose momentum buffer
     * is new (initialised from the gradient) and one for the rest, as PyTorch's {@code foreach} implementation.
     */
    @Override
    public void step() {
        checkParameters();
        CudaGraphStep.bakesIn("SGD learning rate", this::lr); // a constant of a captured step's kernels
        List<List<Tensor>> params2 = List.of(new ArrayList<>(), new ArrayList<>());
        List<List<Tensor>> grads2 = List.of(new ArrayList<>(), new ArrayList<>());
        List<List<Tensor>> bufs2 = List.of(new ArrayList<>(), new ArrayList<>());
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i), g = p.grad();
            if (g == null) {
                continue;
            }
            int first = hasState(i) ? 0 : 1;
            Tensor buf = stateFor(i).get("momentum_buffer");
            params2.get(first).add(p);
            grads2.get(first).add(g);
            bufs2.get(first).add(buf);
        }
        for (int first = 0; first < 2; first++) {
            if (!params2.get(first).isEmpty()) {
                OptimizerSteps.sgdForeach(params2.get(first), grads2.get(first), momentum == 0 ? null : bufs2.get(first),
                        lr, momentum, dampening, weightDecay, nesterov, first == 1 && momentum != 0);
            }
        }
    }
}
