package io.jdl.optim;

import io.jdl.tensor.CudaGraphStep;
import io.jdl.tensor.OptimizerSteps;
import io.jdl.tensor.Tensor;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * torch.optim.Adam (weight decay added to the gradient) and, with {@code decoupled}, torch.optim.AdamW
 * (weight decay applied to the parameter directly). Bias-corrected with a step count per parameter that
 * advances only in the steps where that parameter has a gradient, as PyTorch's {@code state['step']}.
 *
 * <pre>{@code
 * Adam adamW = Adam.builder().lr(3e-4f).betas(0.9f, 0.95f).weightDecay(0.1f).decoupled(true).build(model.parameters());
 * }</pre>
 *
 * <p>Like PyTorch's {@code foreach=True} (its default on CUDA), a step updates all parameters at once: one
 * multi-tensor kernel on a GPU, not one per parameter.
 *
 * <p>In a step captured as a CUDA graph ({@link CudaGraphStep}) each parameter gets its own kernel and the bias
 * corrections use the step count plus the graph's replay counter, read on the device, as PyTorch's
 * {@code capturable=True} does.
 *
 * <p>Differences from PyTorch: no {@code amsgrad}, {@code maximize} or {@code foreach} options; always
 * capturable; one parameter group (set the learning rate with {@link #setLr}); the step count is an int per
 * parameter rather than a float tensor. AdamW's default weight decay is 0.01 as in PyTorch; Adam's is 0.
 */
public final class Adam extends Optimizer {
    private static final List<String> STATE = List.of("exp_avg", "exp_avg_sq");
    private final float beta1, beta2, eps, weightDecay;
    private final boolean decoupled;
    private final int[] steps;

    /**
     * @throws IllegalArgumentException naming the argument when lr is negative or not finite, a beta is outside
     *                                  [0, 1), eps is negative or weight decay is negative or not finite
     */
    public Adam(List<Tensor> params, float lr, float beta1, float beta2, float eps, float weightDecay, boolean decoupled) {
        super(params, lr);
        checkRange("beta1", beta1, 0, 1, true);
        checkRange("beta2", beta2, 0, 1, true);
        checkRange("eps", eps, 0, Float.MAX_VALUE, false);
        checkRange("weightDecay", weightDecay, 0, Float.MAX_VALUE, false);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.decoupled = decoupled;
        this.steps = new int[params.size()];
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

    /** Options with PyTorch's Adam defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0, not decoupled. */
    public static Builder builder() {
        return new Builder();
    }

    /** Adam's options by name; {@link #build} checks them. */
    public static final class Builder {
        private float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weightDecay;
        private boolean decoupled;

        private Builder() {
        }

        public Builder lr(float lr) {
            this.lr = lr;
            return this;
        }

        public Builder betas(float beta1, float beta2) {
            this.beta1 = beta1;
            this.beta2 = beta2;
            return this;
        }

        public Builder eps(float eps) {
            this.eps = eps;
            return this;
        }

        public Builder weightDecay(float weightDecay) {
            this.weightDecay = weightDecay;
            return this;
        }

        /** AdamW: apply weight decay to the parameter directly instead of adding it to the gradient. */
        public Builder decoupled(boolean decoupled) {
            this.decoupled = decoupled;
            return this;
        }

        /** @throws IllegalArgumentException naming the first option out of range */
        public Adam build(List<Tensor> params) {
            return new Adam(params, lr, beta1, beta2, eps, weightDecay, decoupled);
        }
    }

    @Override
    protected List<String> stateNames() {
        return STATE;
    }

    /**
     * Updates every parameter that has a gradient, in one multi-tensor launch per distinct step count (one in
     * a loop where every parameter always gets a gradient), as PyTorch's {@code foreach} implementation.
     */
    @Override
    public void step() {
        checkParameters();
        CudaGraphStep.bakesIn("Adam learning rate", this::lr); // a constant of a captured step's kernels
        if (CudaGraphStep.isCapturing()) {
            stepEachParameter();
            return;
        }
        Map<Integer, Group> byStep = new LinkedHashMap<>();
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i), g = p.grad();
            if (g == null) {
                continue;
            }
            Map<String, Tensor> s = stateFor(i);
            Group group = byStep.computeIfAbsent(steps[i] + 1, k -> new Group());
            group.params.add(p);
            group.grads.add(g);
            group.m.add(s.get("exp_avg"));
            group.v.add(s.get("exp_avg_sq"));
            group.indices.add(i);
        }
        for (Map.Entry<Integer, Group> e : byStep.entrySet()) {
            Group group = e.getValue();
            OptimizerSteps.adamForeach(group.params, group.grads, group.m, group.v, lr, beta1, beta2, eps, weightDecay,
                    decoupled, e.getKey());
            // Counted once the update is queued: a step that threw leaves the counts as they were.
            group.indices.forEach(i -> steps[i]++);
        }
    }

    /** One kernel per parameter, as a captured step needs: each adds the graph's replay counter to its step on the device. */
    private void stepEachParameter() {
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i), g = p.grad();
            if (g == null) {
                continue;
            }
            Map<String, Tensor> s = stateFor(i);
            steps[i]++;
            int index = i;
            CudaGraphStep.advancesPerReplay(n -> steps[index] += n);
            OptimizerSteps.adam(p, g, s.get("exp_avg"), s.get("exp_avg_sq"), lr, beta1, beta2, eps, weightDecay,
                    decoupled, steps[i]);
        }
    }

    /** The parameters updated together (same step count), with their gradients and moments. */
    private static final class Group {
        final List<Tensor> params = new ArrayList<>(), grads = new ArrayList<>(), m = new ArrayList<>(),
                v = new ArrayList<>();
        final List<Integer> indices = new ArrayList<>();
    }

    @Override
    public Map<String, Long> counters() {
        Map<String, Long> out = new LinkedHashMap<>();
        for (int i = 0; i < steps.length; i++) {
            if (steps[i] > 0) {
                out.put(i + ".step", (long) steps[i]);
            }
        }
        return out;
    }

    @Override
    protected void loadCounters(Map<String, Long> counters, Set<Integer> withState) {
        int[] loaded = new int[steps.length];
        Set<Integer> seen = new HashSet<>();
        for (Map.Entry<String, Long> e : counters.entrySet()) {
            String key = e.getKey();
            int idx = key.endsWith(".step") ? parseIndex(key.substring(0, key.length() - ".step".length())) : -1;
            if (idx < 0 || idx >= steps.length) {
                throw new IllegalArgumentException("optimizer counter '" + key + "' is not <index in [0, " + steps.length
                        + ")>.step");
            }
            long v = e.getValue();
            if (v < 1 || v > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("optimizer counter '" + key + "' = " + v + " is outside [1, 2^31)");
            }
            loaded[idx] = (int) v;
            seen.add(idx);
        }
        if (!seen.equals(withState)) {
            throw new IllegalArgumentException("Adam state has moments for parameters " + withState
                    + " but step counts for " + seen);
        }
        System.arraycopy(loaded, 0, steps, 0, steps.length);
    }
}
