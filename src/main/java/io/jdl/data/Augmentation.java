package io.jdl.data;

import java.util.SplittableRandom;

/**
 * Random image augmentation applied by the {@link DataLoader} to each training image, before normalisation:
 * a horizontal flip with probability {@code flipProbability}, then a shift by {@code dx, dy} drawn uniformly
 * from {@code [-maxShift, maxShift]} with zero fill, which is the same as padding by {@code maxShift} pixels
 * and taking a random crop of the original size.
 *
 * <p>Deterministic: the draws come from the random generator the loader passes in, which is seeded from the
 * loader's seed and the epoch.
 *
 * @param flipProbability probability of a horizontal flip, in [0, 1]
 * @param maxShift        largest shift in pixels (the crop padding), >= 0
 */
public record Augmentation(double flipProbability, int maxShift) {
    /** No augmentation. */
    public static final Augmentation NONE = new Augmentation(0, 0);

    public Augmentation {
        if (!(flipProbability >= 0 && flipProbability <= 1)) {
            throw new IllegalArgumentException("flipProbability must be in [0, 1], got " + flipProbability);
        }
        if (maxShift < 0) {
            throw new IllegalArgumentException("maxShift must be >= 0, got " + maxShift);
        }
    }

    /** Random horizontal flips (p = 0.5) and random crops after padding by {@code pad} pixels. */
    public static Augmentation flipAndShift(int pad) {
        return new Augmentation(0.5, pad);
    }

    public boolean isNone() {
        return flipProbability == 0 && maxShift == 0;
    }

    private record Draw(boolean flip, int dx, int dy) {
    }

    /** The random choices for one image; {@link #apply} and {@link #skip} draw through here alone. */
    private Draw draw(SplittableRandom random) {
        boolean flip = random.nextDouble() < flipProbability;
        int dx = maxShift == 0 ? 0 : random.nextInt(-maxShift, maxShift + 1);
        int dy = maxShift == 0 ? 0 : random.nextInt(-maxShift, maxShift + 1);
        return new Draw(flip, dx, dy);
    }

    /** Advances {@code random} past one image's draws, as {@link #apply} would (resuming mid-epoch). */
    void skip(SplittableRandom random) {
        draw(random);
    }

    /**
     * Writes the augmented {@code src} (channels x height x width, values already in [0, 1]) into
     * {@code dst} at {@code dstOffset}. Always draws the same number of random values, whatever the outcome.
     */
    void apply(float[] src, int channels, int height, int width, float[] dst, int dstOffset, SplittableRandom random) {
        Draw d = draw(random);
        boolean flip = d.flip;
        int dx = d.dx, dy = d.dy;
        int plane = height * width;
        for (int c = 0; c < channels; c++) {
            for (int r = 0; r < height; r++) {
                int sr = r + dy;
                for (int col = 0; col < width; col++) {
                    int sc = col + dx;
                    float v = 0f;
                    if (sr >= 0 && sr < height && sc >= 0 && sc < width) {
                        int x = flip ? width - 1 - sc : sc;
                        v = src[c * plane + sr * width + x];
                    }
                    dst[dstOffset + c * plane + r * width + col] = v;
                }
            }
        }
    }
}
