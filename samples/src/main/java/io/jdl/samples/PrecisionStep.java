package io.jdl.samples;

import io.jdl.optim.GradScaler;
import io.jdl.optim.Optimizer;
import io.jdl.tensor.Tensor;

/**
 * Backward and optimizer step of a training loop at its {@link TrainPrecision}: plain {@code backward(); step()},
 * or for fp16 PyTorch's recipe with a {@link GradScaler} (scale the loss, backward, unscale, step unless a gradient
 * is inf or NaN, update the scale). The forward pass and the loss run inside {@link TrainPrecision#autocast()}.
 *
 * <p>The scaler's state goes into the training state ({@link io.jdl.io.Checkpoint}'s {@code jdl.scaler.*} metadata,
 * PyTorch's {@code state_dict} keys) and comes back on {@code --resume}, so a resumed fp16 run scales as the
 * uninterrupted one would.
 *
 * <p>Owns the scaler until {@link #close()}; use it on the thread that trains.
 */
final class PrecisionStep implements AutoCloseable {
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

    /** The fp16 loss scaler, for the training checkpoint ({@link Checkpoints}); null for the other precisions. */
    GradScaler scaler() {
        return scaler;
    }

    @Override
    public void close() {
        if (scaler != null) {
            scaler.close();
        }
    }
}
