package io.jdl.nn;

import io.jdl.tensor.CudaGraphStep;
import io.jdl.tensor.Tensor;

/**
 * Inverted dropout with probability p in training, identity in evaluation. Each forward call uses the
 * next seed of a sequence starting at {@code seed}, so a run is reproducible and masks differ per step.
 */
public final class Dropout extends Module implements Stochastic {
    private final float p;
    private final Seeds seeds;

    public Dropout(float p, long seed) {
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        }
        this.p = p;
        this.seeds = new Seeds(seed);
    }

    @Override
    protected Tensor compute(Tensor x) {
        if (!isTraining()) {
            return x; // identity in evaluation
        }
        // Captured as a CUDA graph, the mask's seed is this seed plus the graph's replay counter (on the device).
        CudaGraphStep.advancesPerReplay(n -> seeds.set(seeds.peek() + n));
        return x.dropout(p, seeds.take(), true);
    }

    @Override
    public String toString() {
        return "Dropout(" + p + ")";
    }

    @Override
    public Seeds seeds() {
        return seeds;
    }
}
