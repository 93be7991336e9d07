package io.jdl.optim;

/**
 * A learning rate as a function of the epoch (or step) number, counted from 0. Apply it with
 * {@code optimizer.setLr(schedule.lr(epoch))} at the start of each epoch.
 */
@FunctionalInterface
public interface LrSchedule {
    float lr(int epoch);

    /** torch StepLR: base·gamma^(epoch / stepSize). */
    static LrSchedule step(float base, int stepSize, float gamma) {
        if (stepSize < 1) {
            throw new IllegalArgumentException("step size must be >= 1, got " + stepSize);
        }
        return epoch -> (float) (base * Math.pow(gamma, epoch / stepSize));
    }

    /** torch CosineAnnealingLR: min + (base - min)·(1 + cos(π·epoch/tMax))/2, held at min after tMax. */
    static LrSchedule cosine(float base, int tMax, float min) {
        if (tMax < 1) {
            throw new IllegalArgumentException("tMax must be >= 1, got " + tMax);
        }
        return epoch -> (float) (min + (base - min) * (1 + Math.cos(Math.PI * Math.min(epoch, tMax) / tMax)) / 2);
    }
}
