package io.jdl.optim;

import io.jdl.tensor.Tensor;
import java.util.List;

/** torch.optim.SGD: momentum (with dampening), Nesterov momentum, L2 weight decay added to the gradient. */
public final class Sgd extends Optimizer {
    private final float momentum, dampening, weightDecay;
    private final boolean nesterov;
    private final Tensor[] buffers;

    public Sgd(List<Tensor> params, float lr, float momentum, float dampening, float weightDecay, boolean nesterov) {
        super(params, lr);
        if (nesterov && (momentum <= 0 || dampening != 0)) {
            throw new IllegalArgumentException("Nesterov momentum needs momentum > 0 and no dampening");
        }
        this.momentum = momentum;
        this.dampening = dampening;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
        this.buffers = new Tensor[params.size()];
    }

    public Sgd(List<Tensor> params, float lr) {
        this(params, lr, 0f, 0f, 0f, false);
    }

    public Sgd(List<Tensor> params, float lr, float momentum) {
        this(params, lr, momentum, 0f, 0f, false);
    }

    @Override
    public void step() {
        checkParameters();
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i), g = p.grad();
            if (g == null) {
                continue;
            }
            boolean first = momentum != 0 && buffers[i] == null;
            if (first) {
                buffers[i] = zerosLike(p);
            }
            if (buffers[i] != null) {
                checkSameDevice(p, buffers[i]);
            }
            p.backendOf().sgdStep(p.storage(), g.storage(), buffers[i] == null ? null : buffers[i].storage(), p.numel(),
                    lr, momentum, dampening, weightDecay, nesterov, first);
        }
    }

    @Override
    public void close() {
        for (int i = 0; i < buffers.length; i++) {
            if (buffers[i] != null) {
                buffers[i].close();
                buffers[i] = null;
            }
        }
    }
}
