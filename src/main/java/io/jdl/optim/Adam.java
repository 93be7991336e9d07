package io.jdl.optim;

import io.jdl.tensor.Tensor;
import java.util.List;

/**
 * torch.optim.Adam (weight decay added to the gradient) and, with {@code decoupled}, torch.optim.AdamW
 * (weight decay applied to the parameter directly). Bias-corrected; the step counts from 1.
 */
public final class Adam extends Optimizer {
    private final float beta1, beta2, eps, weightDecay;
    private final boolean decoupled;
    private final Tensor[] m, v;
    private int step;

    public Adam(List<Tensor> params, float lr, float beta1, float beta2, float eps, float weightDecay, boolean decoupled) {
        super(params, lr);
        if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("Adam betas must be in [0, 1), got " + beta1 + ", " + beta2);
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.decoupled = decoupled;
        this.m = new Tensor[params.size()];
        this.v = new Tensor[params.size()];
    }

    /** Adam with PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, no weight decay. */
    public Adam(List<Tensor> params, float lr) {
        this(params, lr, 0.9f, 0.999f, 1e-8f, 0f, false);
    }

    /** AdamW with PyTorch's defaults (weight decay 0.01). */
    public static Adam adamW(List<Tensor> params, float lr) {
        return new Adam(params, lr, 0.9f, 0.999f, 1e-8f, 0.01f, true);
    }

    public static Adam adamW(List<Tensor> params, float lr, float weightDecay) {
        return new Adam(params, lr, 0.9f, 0.999f, 1e-8f, weightDecay, true);
    }

    @Override
    public void step() {
        checkParameters();
        step++;
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i), g = p.grad();
            if (g == null) {
                continue;
            }
            if (m[i] == null) {
                m[i] = zerosLike(p);
                v[i] = zerosLike(p);
            }
            checkSameDevice(p, m[i]);
            p.backendOf().adamStep(p.storage(), g.storage(), m[i].storage(), v[i].storage(), p.numel(), lr, beta1, beta2,
                    eps, weightDecay, decoupled, step);
        }
    }

    @Override
    public void close() {
        for (int i = 0; i < m.length; i++) {
            if (m[i] != null) {
                m[i].close();
                v[i].close();
                m[i] = null;
                v[i] = null;
            }
        }
    }
}
