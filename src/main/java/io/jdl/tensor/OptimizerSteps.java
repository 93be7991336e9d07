package io.jdl.tensor;

import io.jdl.backend.Backend;
import io.jdl.backend.Storage;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
        param.backend.sgdStep(param.written("sgd"), grad.dense(), momentumBuf == null ? null : momentumBuf.written("sgd"),
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
        param.backend.adamStep(param.written("adam"), grad.dense(), m.written("adam"), v.written("adam"), param.numel(), lr,
                beta1, beta2, eps,
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
        grad.backend.ampUnscale(grad.written("ampUnscale"), grad.numel(), invScale, foundInf.written("ampUnscale"));
        grad.bumpVersion();
        foundInf.bumpVersion();
    }

    /**
     * {@link #sgd} on every parameter i of the lists at once (PyTorch's {@code foreach}): one launch per device
     * on a GPU. {@code momentumBufs} is null when momentum is 0.
     */
    public static void sgdForeach(List<Tensor> params, List<Tensor> grads, List<Tensor> momentumBufs, float lr,
                                  float momentum, float dampening, float weightDecay, boolean nesterov,
                                  boolean firstStep) {
        for (List<Integer> group : byDevice("sgd", params, grads, momentumBufs, null)) {
            Tensor p0 = params.get(group.get(0));
            p0.backend.sgdSteps(storages(params, group, "sgd"), storages(grads, group, null),
                    momentumBufs == null ? null : storages(momentumBufs, group, "sgd"), sizes(params, group), lr, momentum,
                    dampening, weightDecay, nesterov, firstStep);
            bumpVersions(group, params, momentumBufs);
        }
    }

    /** {@link #adam} on every parameter i of the lists at once, all at step number {@code step} (from 1). */
    public static void adamForeach(List<Tensor> params, List<Tensor> grads, List<Tensor> ms, List<Tensor> vs, float lr,
                                   float beta1, float beta2, float eps, float weightDecay, boolean decoupled, int step) {
        if (step < 1) {
            throw new IllegalArgumentException("adam: step counts from 1, got " + step);
        }
        for (List<Integer> group : byDevice("adam", params, grads, ms, vs)) {
            Tensor p0 = params.get(group.get(0));
            p0.backend.adamSteps(storages(params, group, "adam"), storages(grads, group, null), storages(ms, group, "adam"),
                    storages(vs, group, "adam"), sizes(params, group), lr, beta1, beta2, eps, weightDecay, decoupled, step);
            bumpVersions(group, params, ms, vs);
        }
    }

    /** Checks every parameter with its gradient and state, and splits the indices by device (usually one). */
    private static Collection<List<Integer>> byDevice(String op, List<Tensor> params, List<Tensor> grads,
                                                      List<Tensor> s1, List<Tensor> s2) {
        Checks.notNull(op, "params", params);
        Checks.notNull(op, "grads", grads);
        int n = params.size();
        if (grads.size() != n || (s1 != null && s1.size() != n) || (s2 != null && s2.size() != n)) {
            throw new IllegalArgumentException(op + ": " + n + " parameters but " + grads.size() + " gradients"
                    + (s1 == null ? "" : ", " + s1.size() + " state tensors"));
        }
        Map<Backend, List<Integer>> groups = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            Tensor p = element(op, "params", params, i);
            check(op, p, element(op, "grads", grads, i), s1 == null ? null : s1.get(i), s2 == null ? null : s2.get(i));
            groups.computeIfAbsent(p.backend, b -> new ArrayList<>()).add(i);
        }
        return groups.values();
    }

    /** {@code list.get(i)}, which must not be null; the message is built only when it is. */
    private static Tensor element(String op, String list, List<Tensor> tensors, int i) {
        Tensor t = tensors.get(i);
        return t != null ? t : Checks.notNull(op, list + "[" + i + "]", t);
    }

    /** The storages of the group's tensors: read, or written in place by {@code writtenBy} (null: read). */
    private static Storage[] storages(List<Tensor> tensors, List<Integer> group, String writtenBy) {
        Storage[] out = new Storage[group.size()];
        for (int k = 0; k < out.length; k++) {
            Tensor t = tensors.get(group.get(k));
            out[k] = writtenBy == null ? t.dense() : t.written(writtenBy);
        }
        return out;
    }

    private static long[] sizes(List<Tensor> tensors, List<Integer> group) {
        long[] out = new long[group.size()];
        for (int k = 0; k < out.length; k++) {
            out[k] = tensors.get(group.get(k)).numel();
        }
        return out;
    }

    @SafeVarargs
    private static void bumpVersions(List<Integer> group, List<Tensor>... lists) {
        for (List<Tensor> list : lists) {
            if (list != null) {
                for (int i : group) {
                    list.get(i).bumpVersion();
                }
            }
        }
    }

    private static void check(String op, Tensor param, Tensor... others) {
        param.checkOpen();
        Checks.notRecorded(op, param);
        // The updates are float32 kernels: parameters are float32 masters, as with PyTorch's autocast.
        DTypeRules.requireFloat32(op, DTypeRules.PARAM_ARGS, param);
        for (Tensor t : others) {
            if (t != null) {
                Checks.sameShape(op, param, t);
                Checks.notRecorded(op, t);
                DTypeRules.requireFloat32(op, DTypeRules.STATE_ARGS, t);
            }
        }
    }
}
