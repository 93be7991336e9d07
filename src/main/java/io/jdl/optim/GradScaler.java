package io.jdl.optim;

import io.jdl.device.Device;
import io.jdl.tensor.OptimizerSteps;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import io.jdl.tensor.TensorScope;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Dynamic loss scaling, as PyTorch's {@code torch.amp.GradScaler}: the loss is multiplied by a scale before
 * {@code backward()} so that small float16 gradients do not underflow; the gradients are divided by it again before
 * the optimizer uses them; a step whose gradients hold an inf or NaN is skipped and the scale halved; after
 * {@code growthInterval} good steps in a row the scale doubles.
 *
 * <pre>{@code
 * try (GradScaler scaler = new GradScaler()) {
 *     for (Batch b : batches) {
 *         optimizer.zeroGrad();
 *         try (TensorScope step = TensorScope.open()) {
 *             Tensor loss = model.forward(b.x()).crossEntropy(b.y());
 *             scaler.scale(loss).backward();
 *             scaler.unscale(optimizer);          // optional: only to look at or clip the true gradients
 *             scaler.step(optimizer);             // skipped when a gradient is inf or NaN
 *             scaler.update();
 *         }
 *     }
 * }
 * }</pre>
 *
 * <p><b>Semantics</b> (PyTorch's, checked against torch/amp/grad_scaler.py): defaults {@code initScale} 2^16,
 * {@code growthFactor} 2, {@code backoffFactor} 0.5, {@code growthInterval} 2000. {@link #unscale} multiplies each
 * gradient by {@code (float) (1 / (double) scale)} and records, per optimizer, whether any was inf or NaN; it may
 * be called once per optimizer between updates, and not after {@link #step}. Stricter than PyTorch, which checks
 * this only before the first scale: unscale and step refuse to run when {@link #scale(Tensor)} was not called since
 * the last update (unscaling gradients that were never scaled would shrink the step silently). {@link #step} unscales first if that
 * was not done, then calls {@code optimizer.step()} unless a non-finite gradient was found (the parameters and the
 * optimizer's state are then untouched). {@link #update} then backs the scale off ({@code scale *= backoffFactor},
 * good-step count reset) if any optimizer found a non-finite gradient, else counts a good step and after
 * {@code growthInterval} of them multiplies the scale by {@code growthFactor} (only if the result is finite) and
 * resets the count. Disabled ({@code enabled = false}), every method passes through: {@link #scale} returns the
 * loss itself, {@link #step} just steps.
 *
 * <p><b>Host synchronisation.</b> The check runs on the gradients' device into one flag per optimizer and device
 * ({@link OptimizerSteps#ampUnscale}), without a host sync per parameter; {@link #step} reads the flag once (it
 * must decide whether to step), {@link #update} reuses what it read. The scale itself lives on the host: the
 * loss is multiplied by a float, not by a device tensor.
 *
 * <p><b>Lifetime and threads.</b> The scaler owns its flags from {@link #unscale} to {@link #update} (outside any
 * {@link TensorScope}); {@link #close()} frees any still held. The gradients belong to the parameters and are changed
 * in place. Use it from the thread that trains.
 */
public final class GradScaler implements AutoCloseable {
    /** PyTorch's {@code GradScaler.state_dict()}: the scale, the factors, the interval and the good-step count. */
    public record State(float scale, double growthFactor, double backoffFactor, int growthInterval, int growthTracker) {
        /** @throws IllegalArgumentException naming the value that PyTorch's GradScaler would not accept */
        public State {
            if (!(scale > 0 && scale < Float.POSITIVE_INFINITY)) {
                throw new IllegalArgumentException("scale must be finite and > 0, got " + scale);
            }
            if (!(growthFactor > 1.0 && growthFactor < Double.POSITIVE_INFINITY)) {
                throw new IllegalArgumentException("growthFactor must be finite and > 1, got " + growthFactor);
            }
            if (!(backoffFactor > 0.0 && backoffFactor < 1.0)) {
                throw new IllegalArgumentException("backoffFactor must lie in (0, 1), got " + backoffFactor);
            }
            if (growthInterval < 1) {
                throw new IllegalArgumentException("growthInterval must be >= 1, got " + growthInterval);
            }
            if (growthTracker < 0 || growthTracker >= growthInterval) {
                throw new IllegalArgumentException("growthTracker must lie in [0, growthInterval = " + growthInterval
                        + "), got " + growthTracker);
            }
        }
    }

    private enum Stage { READY, UNSCALED, STEPPED }

    /** Per optimizer, between two updates: where it stands, its flags by device, and their value once read. */
    private static final class PerOptimizer {
        Stage stage = Stage.READY;
        final Map<Device, Tensor> foundInf = new LinkedHashMap<>();
        Boolean found;
    }

    private final boolean enabled;
    private float scale;
    private double growthFactor, backoffFactor;
    private int growthInterval, growthTracker;
    /** Whether {@link #scale(Tensor)} ran since the last update: unscaling gradients that were never scaled is a bug. */
    private boolean scaled;
    private final Map<Optimizer, PerOptimizer> perOptimizer = new IdentityHashMap<>();

    /** PyTorch's defaults: scale 2^16, growth factor 2, backoff factor 0.5, growth interval 2000, enabled. */
    public GradScaler() {
        this(65536f, 2.0, 0.5, 2000, true);
    }

    /** @throws IllegalArgumentException for a scale not finite and positive, a growth factor <= 1, a backoff
     *                                  factor outside (0, 1) or an interval < 1 */
    public GradScaler(float initScale, double growthFactor, double backoffFactor, int growthInterval, boolean enabled) {
        this.enabled = enabled;
        set(new State(initScale, growthFactor, backoffFactor, growthInterval, 0));
    }

    public boolean isEnabled() {
        return enabled;
    }

    /** The current scale; 1 when disabled (as PyTorch's {@code get_scale()}). */
    public float scale() {
        return enabled ? scale : 1f;
    }

    /**
     * {@code loss} times the scale, recorded (call {@code backward()} on the result); when disabled, {@code loss}
     * itself. The result belongs to the current scope, like any op's.
     */
    public Tensor scale(Tensor loss) {
        if (loss == null) {
            throw new IllegalArgumentException("GradScaler.scale: loss is null");
        }
        if (!enabled) {
            return loss;
        }
        Tensor out = loss.scale(scale);
        scaled = true;
        return out;
    }

    /**
     * Divides the gradients of {@code optimizer}'s parameters by the scale, in place, and records whether any holds
     * an inf or NaN (on the device: no host sync). Parameters without a gradient are skipped.
     *
     * @throws IllegalStateException when called twice for this optimizer since the last {@link #update}, or after
     *                               {@link #step}
     */
    public void unscale(Optimizer optimizer) {
        if (!enabled) {
            return;
        }
        PerOptimizer state = perOptimizer.computeIfAbsent(checked(optimizer), o -> new PerOptimizer());
        if (state.stage == Stage.UNSCALED) {
            throw new IllegalStateException("unscale() has already been called on this optimizer since the last update()");
        }
        if (state.stage == Stage.STEPPED) {
            throw new IllegalStateException("unscale() is being called after step()");
        }
        if (!scaled) {
            throw new IllegalStateException("unscale() or step() without scale(loss) since the last update(): the"
                    + " gradients were not scaled, and dividing them by the scale (" + scale + ") would shrink them;"
                    + " call backward() on scaler.scale(loss)");
        }
        optimizer.checkParameters();
        float invScale = (float) (1.0 / scale); // in double, as PyTorch: exact for powers of two, rounded once otherwise
        for (Tensor p : optimizer.params) {
            Tensor grad = p.grad();
            if (grad != null) {
                Tensor flag = state.foundInf.computeIfAbsent(grad.device(),
                        d -> TensorScope.unscoped(Tensor.zeros(Shape.of(), d)));
                OptimizerSteps.ampUnscale(grad, invScale, flag);
            }
        }
        state.stage = Stage.UNSCALED;
    }

    /**
     * Unscales if {@link #unscale} was not called, then steps {@code optimizer} unless a gradient was inf or NaN.
     *
     * @return whether the optimizer stepped
     * @throws IllegalStateException when called twice for this optimizer since the last {@link #update}, or when
     *                               no parameter has a gradient (no backward since the last zeroGrad)
     */
    public boolean step(Optimizer optimizer) {
        if (!enabled) {
            checked(optimizer).step();
            return true;
        }
        PerOptimizer state = perOptimizer.get(checked(optimizer));
        if (state != null && state.stage == Stage.STEPPED) {
            throw new IllegalStateException("step() has already been called since the last update()");
        }
        if (state == null || state.stage == Stage.READY) {
            unscale(optimizer);
            state = perOptimizer.get(optimizer);
        }
        if (state.foundInf.isEmpty()) {
            throw new IllegalStateException("no inf checks were recorded for this optimizer: none of its parameters has"
                    + " a gradient (call backward() on scaler.scale(loss) before step)");
        }
        boolean skip = found(state);
        if (!skip) {
            optimizer.step();
        }
        state.stage = Stage.STEPPED;
        return !skip;
    }

    /**
     * Adjusts the scale from the checks of every optimizer unscaled since the last update (PyTorch's
     * {@code _amp_update_scale_}), and starts the next iteration.
     *
     * @throws IllegalStateException when no optimizer was unscaled or stepped since the last update
     */
    public void update() {
        if (!enabled) {
            return;
        }
        boolean anyFound = false;
        boolean anyCheck = false;
        for (PerOptimizer state : perOptimizer.values()) {
            if (!state.foundInf.isEmpty()) {
                anyCheck = true;
                anyFound |= found(state);
            }
        }
        if (!anyCheck) {
            throw new IllegalStateException("no inf checks were recorded prior to update(): call step(optimizer) (or"
                    + " unscale(optimizer)) after backward() first");
        }
        if (anyFound) {
            scale = (float) (scale * backoffFactor);
            growthTracker = 0;
        } else if (growthTracker + 1 == growthInterval) {
            float grown = (float) (scale * growthFactor);
            if (Float.isFinite(grown)) {
                scale = grown;
            }
            growthTracker = 0;
        } else {
            growthTracker++;
        }
        reset();
    }

    /**
     * Sets the scale to {@code newScale} instead of the dynamic rule (PyTorch's {@code update(new_scale)}; the
     * good-step count is kept), and starts the next iteration.
     *
     * @throws IllegalArgumentException when {@code newScale} is not finite and positive
     */
    public void update(float newScale) {
        if (!enabled) {
            return;
        }
        set(new State(newScale, growthFactor, backoffFactor, growthInterval, growthTracker));
        reset();
    }

    /** What a checkpoint saves (PyTorch's {@code state_dict()}); for a disabled scaler, its settings and scale 1. */
    public State state() {
        return new State(scale, growthFactor, backoffFactor, growthInterval, growthTracker);
    }

    /** Restores {@code state} (from {@link #state()} or a checkpoint); a disabled scaler ignores it, as PyTorch's. */
    public void loadState(State state) {
        if (enabled) {
            set(java.util.Objects.requireNonNull(state, "state"));
        }
    }

    private void set(State s) {
        scale = s.scale();
        growthFactor = s.growthFactor();
        backoffFactor = s.backoffFactor();
        growthInterval = s.growthInterval();
        growthTracker = s.growthTracker();
    }

    /** Whether any gradient of this optimizer was inf or NaN: the flags read once (one host sync per device). */
    private static boolean found(PerOptimizer state) {
        if (state.found == null) {
            boolean any = false;
            for (Tensor flag : state.foundInf.values()) {
                any |= flag.item() != 0f;
            }
            state.found = any;
        }
        return state.found;
    }

    private static Optimizer checked(Optimizer optimizer) {
        if (optimizer == null) {
            throw new IllegalArgumentException("GradScaler: optimizer is null");
        }
        return optimizer;
    }

    private void reset() {
        perOptimizer.values().forEach(s -> s.foundInf.values().forEach(Tensor::close));
        perOptimizer.clear();
        scaled = false;
    }

    /** Frees the flags of an iteration not yet ended by {@link #update}. Idempotent. */
    @Override
    public void close() {
        reset();
    }
}
