package io.jdl.tensor;

/**
 * The fused, in-place optimizer updates (PyTorch semantics), checked: every tensor open, on the parameter's
 * device, of its shape, and a leaf. Each call raises the {@link Tensor#version()} of what it writes, so a
 * graph recorded before the step and back-propagated after it throws instead of using the new values.
 */
public final class OptimizerSteps {
    private OptimizerSteps() {
    }

    /**
     * One SGD step: {@code param -= lr·update}, where update is the gradient with weight decay, momentum
     * (in {@code momentumBuf}, null when momentum is 0; {@code firstStep} initialises it), dampening and
     * Nesterov as {@code torch.optim.SGD}.
     */
    public static void sgd(Tensor param, Tensor grad, Tensor momentumBuf, float lr, float momentum, float dampening,
                           float weightDecay, boolean nesterov, boolean firstStep) {
        check("sgd", param, grad, momentumBuf);
        param.backend.sgdStep(param.storage, grad.storage, momentumBuf == null ? null : momentumBuf.storage,
                param.numel(), lr, momentum, dampening, weightDecay, nesterov, firstStep);
        param.bumpVersion();
        if (momentumBuf != null) {
            momentumBuf.bumpVersion();
        }
    }

    /** One Adam (or AdamW when {@code decoupled}) step number {@code step} (from 1), moments in m and v. */
    public static void adam(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                            float weightDecay, boolean decoupled, int step) {
        check("adam", param, grad, m, v);
        if (step < 1) {
            throw new IllegalArgumentException("adam: step counts from 1, got " + step);
        }
        param.backend.adamStep(param.storage, grad.storage, m.storage, v.storage, param.numel(), lr, beta1, beta2, eps,
                weightDecay, decoupled, step);
        param.bumpVersion();
        m.bumpVersion();
        v.bumpVersion();
    }

    /**
     * GradScaler's unscale of one gradient, in place (PyTorch's {@code _amp_foreach_non_finite_check_and_unscale_}):
     * {@code grad *= invScale}, and {@code foundInf} (one element, on grad's device) set to 1 when grad held an inf
     * or NaN. The flag is never cleared here: one zeroed flag collects every gradient of a step on the device, and
     * the caller reads it once.
     */
    public static void ampUnscale(Tensor grad, float invScale, Tensor foundInf) {
        Checks.sameDevice("ampUnscale", grad, foundInf);
        if (foundInf.numel() != 1) {
            throw new IllegalArgumentException("ampUnscale: foundInf must hold one element, has shape " + foundInf.shape());
        }
        if (!Float.isFinite(invScale)) {
            throw new IllegalArgumentException("ampUnscale: invScale must be finite, got " + invScale);
        }
        Checks.notRecorded("ampUnscale", grad);
        Checks.notRecorded("ampUnscale", foundInf);
        grad.backend.ampUnscale(grad.storage, grad.numel(), invScale, foundInf.storage);
        grad.bumpVersion();
        foundInf.bumpVersion();
    }

    private static void check(String op, Tensor param, Tensor... others) {
        param.checkOpen();
        Checks.notRecorded(op, param);
        for (Tensor t : others) {
            if (t != null) {
                Checks.sameShape(op, param, t);
                Checks.notRecorded(op, t);
            }
        }
    }
}
