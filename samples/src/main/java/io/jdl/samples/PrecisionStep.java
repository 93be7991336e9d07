package io.jdl.samples;

import io.jdl.optim.GradScaler;
import io.jdl.optim.Optimizer;
import io.jdl.tensor.Tensor;
import java.util.Map;

/**
 * Backward and optimizer step of a training loop at its {@link TrainPrecision}: plain {@code backward(); step()},
 * or for fp16 PyTorch's recipe with a {@link GradScaler} (scale the loss, backward, unscale, step unless a gradient
 * is inf or NaN, update the scale). The forward pass and the loss run inside {@link TrainPrecision#autocast()}.
 *
 * <p>The scaler's scale and good-step count go into the training state's metadata ({@link #save}) and come back
 * on {@code --resume} ({@link #restore}), so a resumed fp16 run scales as the uninterrupted one would.
 *
 * <p>Owns the scaler until {@link #close()}; use it on the thread that trains.
 */
final class PrecisionStep implements AutoCloseable {
    /** Training-state metadata keys of the fp16 loss scale and of the good steps since it last changed. */
    static final String SCALE = "amp.scale", GROWTH_TRACKER = "amp.growth_tracker";

    private final Optimizer opt;
    private final GradScaler scaler; // null unless fp16

    PrecisionStep(TrainPrecision precision, Optimizer opt) {
        this.opt = opt;
        this.scaler = precision == TrainPrecision.FP16 ? new GradScaler() : null;
    }

    /**
     * Back-propagates {@code loss} (float32, from the autocast forward) into the parameters' float32 gradients
     * and steps the optimizer; with fp16 a step whose gradients overflowed is skipped (and the scale halved).
     *
     * @return whether the optimizer stepped
     */
    boolean backwardAndStep(Tensor loss) {
        if (scaler == null) {
            loss.backward();
            opt.step();
            return true;
        }
        // backward() frees its root's graph; the loss is inside it here, and callers read it after the step.
        try (Tensor scaled = scaler.scale(loss.retain())) {
            scaled.backward();
        }
        boolean stepped = scaler.step(opt); // one host read of the inf/NaN flag
        scaler.update();
        return stepped;
    }

    /** Adds the loss scaler's state to a training state's {@code metadata} (nothing without a scaler). */
    void save(Map<String, String> metadata) {
        if (scaler != null) {
            GradScaler.State s = scaler.state();
            metadata.put(SCALE, Float.toString(s.scale()));
            metadata.put(GROWTH_TRACKER, Integer.toString(s.growthTracker()));
        }
    }

    /** Restores the loss scaler's state saved by {@link #save} in a resumed checkpoint (PyTorch's other defaults). */
    void restore(Architecture checkpoint) {
        String scale = checkpoint.savedText(SCALE), tracker = checkpoint.savedText(GROWTH_TRACKER);
        if (scaler != null && scale != null && tracker != null) {
            GradScaler.State d = scaler.state();
            scaler.loadState(new GradScaler.State(Float.parseFloat(scale), d.growthFactor(), d.backoffFactor(),
                    d.growthInterval(), Integer.parseInt(tracker)));
        }
    }

    /** The current fp16 loss scale, or 1 without a scaler (for metrics). */
    float lossScale() {
        return scaler == null ? 1f : scaler.scale();
    }

    @Override
    public void close() {
        if (scaler != null) {
            scaler.close();
        }
    }
}
