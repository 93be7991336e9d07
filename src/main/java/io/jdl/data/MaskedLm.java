package io.jdl.data;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Masking for masked-language-model training, as in BERT: each position is chosen with probability
 * {@code rate} (15% by default); a chosen position becomes the mask token with probability 80%, a random
 * token from {@code [0, vocabSize)} with probability 10%, and stays unchanged with probability 10%. The
 * targets hold the original id at chosen positions and {@link #IGNORE_INDEX} ({@value #IGNORE_INDEX})
 * elsewhere, so the loss counts only chosen positions.
 *
 * <p>Seeded: the same {@link SplittableRandom} state gives the same masking. Input arrays are not changed;
 * results are new arrays owned by the caller.
 */
public final class MaskedLm {
    /** Target value of positions that the loss must ignore (PyTorch's default {@code ignore_index}). */
    public static final int IGNORE_INDEX = -100;
    public static final double DEFAULT_RATE = 0.15;

    private MaskedLm() {
    }

    /** Masked inputs and their targets (same length as the ids given). */
    public record Masked(int[] inputs, int[] targets) {
        /** Number of chosen positions (targets not equal to {@link #IGNORE_INDEX}). */
        public int chosen() {
            int n = 0;
            for (int t : targets) {
                if (t != IGNORE_INDEX) {
                    n++;
                }
            }
            return n;
        }
    }

    /** {@link #mask(int[], int, int, double, SplittableRandom)} with rate 0.15. */
    public static Masked mask(int[] ids, int maskId, int vocabSize, SplittableRandom random) {
        return mask(ids, maskId, vocabSize, DEFAULT_RATE, random);
    }

    /**
     * Masks {@code ids}.
     *
     * @param maskId    the mask token's id (usually {@code vocabSize}, one past the text's vocabulary)
     * @param vocabSize random replacements are drawn from {@code [0, vocabSize)}
     * @param rate      probability that a position is chosen, in [0, 1]
     * @throws IllegalArgumentException for a rate outside [0, 1] or a non-positive vocabulary size
     */
    public static Masked mask(int[] ids, int maskId, int vocabSize, double rate, SplittableRandom random) {
        if (!(rate >= 0 && rate <= 1)) {
            throw new IllegalArgumentException("rate must be in [0, 1], got " + rate);
        }
        if (vocabSize <= 0) {
            throw new IllegalArgumentException("vocabSize must be > 0, got " + vocabSize);
        }
        int[] inputs = ids.clone();
        int[] targets = new int[ids.length];
        Arrays.fill(targets, IGNORE_INDEX);
        for (int i = 0; i < ids.length; i++) {
            if (random.nextDouble() >= rate) {
                continue;
            }
            targets[i] = ids[i];
            double r = random.nextDouble();
            if (r < 0.8) {
                inputs[i] = maskId;
            } else if (r < 0.9) {
                inputs[i] = random.nextInt(vocabSize);
            }
        }
        return new Masked(inputs, targets);
    }
}
