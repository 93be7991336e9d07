package io.jdl.optim;

import io.jdl.tensor.CudaGraphStep;
import io.jdl.tensor.Tensor;
import io.jdl.tensor.TensorScope;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Updates parameters in place from their gradients. On a GPU every update is a fused kernel on the
 * device: parameters, gradients and optimizer state never travel to the host. Parameters without a
 * gradient (unused in the last backward) are skipped, and their state (moments, step count) does not
 * advance, as in PyTorch.
 *
 * <p><b>State.</b> {@link #state()} names the state tensors like PyTorch's {@code optimizer.state_dict()}:
 * {@code "<parameter index>.<name>"}, e.g. {@code 0.exp_avg}, {@code 3.momentum_buffer}; {@link #counters()}
 * holds the per-parameter step counts ({@code 0.step}). Both are what a checkpoint saves and
 * {@link #loadState} restores.
 *
 * <p><b>Lifetime.</b> The optimizer owns its state tensors from the first {@link #step()} that creates them
 * until {@link #close()}; the parameters stay with their owner (the module). Create the optimizer after
 * moving the model to its device ({@code Module.to} replaces the parameters).
 */
public abstract class Optimizer implements AutoCloseable {
    protected final List<Tensor> params;
    protected float lr;
    /** Per parameter: its state tensors by name (null until its first update), in a fixed name order. */
    private final List<Map<String, Tensor>> state;

    protected Optimizer(List<Tensor> params, float lr) {
        checkLr(lr);
        for (Tensor p : params) {
            if (!p.requiresGrad()) {
                throw new IllegalArgumentException("optimizer parameter " + p + " does not require grad");
            }
        }
        this.params = new ArrayList<>(params);
        this.lr = lr;
        this.state = new ArrayList<>();
        for (int i = 0; i < params.size(); i++) {
            state.add(null);
        }
    }

    /** Applies one update to every parameter that has a gradient. */
    public abstract void step();

    /** The names of the state tensors one parameter gets, in order (e.g. exp_avg, exp_avg_sq). */
    protected abstract List<String> stateNames();

    /** Frees every parameter's gradient. */
    public void zeroGrad() {
        params.forEach(Tensor::zeroGrad);
    }

    public float lr() {
        return lr;
    }

    /** @throws IllegalArgumentException when {@code lr} is negative, NaN or infinite */
    public void setLr(float lr) {
        checkLr(lr);
        this.lr = lr;
    }

    private static void checkLr(float lr) {
        if (!(lr >= 0 && lr < Float.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("lr (learning rate) must be finite and >= 0, got " + lr);
        }
    }

    /** Throws unless {@code value} is finite and in [lo, hi] (hi exclusive when {@code hiOpen}). */
    protected static void checkRange(String name, float value, float lo, float hi, boolean hiOpen) {
        boolean ok = value >= lo && (hiOpen ? value < hi : value <= hi) && Float.isFinite(value);
        if (!ok) {
            throw new IllegalArgumentException(name + " must be in [" + lo + ", " + hi + (hiOpen ? ")" : "]")
                    + ", got " + value);
        }
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

    /**
     * The state tensors of parameter {@code i}, created as zeros on its first update (owned by this optimizer,
     * never by a {@code TensorScope}). Checks, with messages that name the optimizer's terms, what
     * {@code OptimizerSteps} checks again: the gradient and every state tensor are open, shaped and placed like
     * the parameter.
     */
    protected final Map<String, Tensor> stateFor(int i) {
        Tensor p = params.get(i);
        Map<String, Tensor> s = state.get(i);
        if (s == null) {
            if (CudaGraphStep.isCapturing() && !stateNames().isEmpty()) {
                // Zeros made inside a capture would be made again by every replay: the moments would never grow.
                throw new IllegalStateException(getClass().getSimpleName() + " has no state for parameter " + i
                        + " yet: run one eager step before capturing a CUDA graph step (it creates " + stateNames() + ")");
            }
            s = new LinkedHashMap<>();
            for (String name : stateNames()) {
                s.put(name, TensorScope.unscoped(Tensor.zeros(p.shape(), p.device()))); // the optimizer owns its state
            }
            state.set(i, s);
        }
        checkLike(p, p.grad(), "gradient");
        for (Map.Entry<String, Tensor> e : s.entrySet()) {
            checkLike(p, e.getValue(), e.getKey());
        }
        return s;
    }

    /** Whether parameter {@code i} has been updated (so has state). */
    protected final boolean hasState(int i) {
        return state.get(i) != null;
    }

    private static void checkLike(Tensor p, Tensor t, String what) {
        if (!p.device().equals(t.device())) {
            throw new IllegalStateException("parameter " + p + " is on " + p.device() + " but its " + what + " is on "
                    + t.device() + ": create the optimizer after model.to(device)");
        }
        if (!p.shape().equals(t.shape())) {
            throw new IllegalStateException("parameter " + p + " has shape " + p.shape() + " but its " + what
                    + " has shape " + t.shape());
        }
        if (t.isClosed()) {
            throw new IllegalStateException("the " + what + " of parameter " + p + " is closed");
        }
    }

    /** The step count of each updated parameter, keyed {@code "<index>.step"}; empty for optimizers without one. */
    public Map<String, Long> counters() {
        return Map.of();
    }

    /**
     * Checks and restores counters saved by {@link #counters()}; {@code withState} are the parameter indices that
     * get state tensors. Throws before changing anything.
     */
    protected void loadCounters(Map<String, Long> counters, java.util.Set<Integer> withState) {
        if (!counters.isEmpty()) {
            throw new IllegalArgumentException(getClass().getSimpleName() + " keeps no counters, got "
                    + counters.keySet());
        }
    }

    /**
     * The live state tensors (not copies; owned by this optimizer), keyed {@code "<index>.<name>"} in
     * parameter order. Parameters never updated have none.
     */
    public final Map<String, Tensor> state() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int i = 0; i < state.size(); i++) {
            if (state.get(i) != null) {
                int idx = i;
                state.get(i).forEach((name, t) -> out.put(idx + "." + name, t));
            }
        }
        return out;
    }

    /**
     * Replaces the state with copies of {@code tensors} (named as {@link #state()}; a parameter has all of its
     * state tensors or none) and {@code counters} (as {@link #counters()}). Values are copied to each
     * parameter's device. Nothing changes when a name, shape or count is wrong.
     *
     * @throws IllegalArgumentException naming the offending entry
     */
    public final void loadState(Map<String, Tensor> tensors, Map<String, Long> counters) {
        checkParameters();
        Map<Integer, Map<String, Tensor>> byParam = new HashMap<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String key = e.getKey();
            int dot = key.indexOf('.');
            int idx = dot < 0 ? -1 : parseIndex(key.substring(0, dot));
            String name = dot < 0 ? key : key.substring(dot + 1);
            if (idx < 0 || idx >= params.size() || !stateNames().contains(name)) {
                throw new IllegalArgumentException("optimizer state entry '" + key + "' is not one of "
                        + getClass().getSimpleName() + "'s: <index in [0, " + params.size() + ")>." + stateNames());
            }
            if (!e.getValue().shape().equals(params.get(idx).shape())) {
                throw new IllegalArgumentException("optimizer state entry '" + key + "' has shape " + e.getValue().shape()
                        + ", parameter " + idx + " has shape " + params.get(idx).shape());
            }
            byParam.computeIfAbsent(idx, k -> new HashMap<>()).put(name, e.getValue());
        }
        byParam.forEach((idx, m) -> {
            if (m.size() != stateNames().size()) {
                throw new IllegalArgumentException("optimizer state of parameter " + idx + " has " + m.keySet()
                        + ", needs all of " + stateNames());
            }
        });
        loadCounters(counters, byParam.keySet());
        freeState();
        byParam.forEach((idx, m) -> {
            Map<String, Tensor> s = new LinkedHashMap<>();
            for (String name : stateNames()) {
                Tensor src = m.get(name);
                Tensor copy = TensorScope.unscoped(Tensor.zeros(src.shape(), params.get(idx).device()));
                if (src.device().equals(copy.device())) {
                    copy.copyFrom(src);
                } else {
                    try (Tensor moved = src.to(copy.device())) {
                        copy.copyFrom(moved);
                    }
                }
                s.put(name, copy);
            }
            state.set(idx, s);
        });
    }

    /** Parses a parameter index, or -1. */
    protected static int parseIndex(String s) {
        try {
            return s.isEmpty() || s.charAt(0) == '+' ? -1 : Integer.parseInt(s);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Frees the optimizer's state (momentum, moments); the parameters stay with their owner. Idempotent. */
    @Override
    public void close() {
        freeState();
    }

    private void freeState() {
        for (int i = 0; i < state.size(); i++) {
            if (state.get(i) != null) {
                state.get(i).values().forEach(Tensor::close);
                state.set(i, null);
            }
        }
    }
}
