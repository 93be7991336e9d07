package io.jdl.optim;

import io.jdl.tensor.Tensor;
import java.util.List;

/**
 * torch.optim.SGD: momentum (with dampening), Nesterov momentum, L2 weight decay added to the gradient.
 * As in PyTorch, the first update of a parameter sets its momentum buffer to the gradient.
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

    @Override
    protected List<String> stateNames() {
        return momentum == 0 ? List.of() : List.of("momentum_buffer");
    }

    @Override
    public void step() {
        checkParameters();
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i), g = p.grad();
            if (g == null) {
                continue;
            }
            boolean first = !hasState(i);
            Tensor buf = stateFor(i).get("momentum_buffer");
            p.backendOf().sgdStep(p.storage(), g.storage(), buf == null ? null : buf.storage(), p.numel(),
                    lr, momentum, dampening, weightDecay, nesterov, first && buf != null);
        }
    }
}
