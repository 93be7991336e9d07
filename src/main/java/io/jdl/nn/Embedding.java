package io.jdl.nn;

import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;

/**
 * A lookup table {@code weight [vocab, dim]} (N(0, 1) as in PyTorch): token ids become rows. Ids outside
 * [0, vocab) are an {@link IllegalArgumentException} naming the id and the vocabulary size.
 */
public final class Embedding extends Module {
    private final int vocab, dim;

    public Embedding(int vocab, int dim, Random rng) {
        this(vocab, dim, 1.0, rng);
    }

    /** A table initialised from N(0, std²) (GPT-2 uses 0.02). */
    public Embedding(int vocab, int dim, double std, Random rng) {
        if (vocab < 1 || dim < 1) {
            throw new IllegalArgumentException("Embedding needs vocab >= 1 and dim >= 1, got " + vocab + " and " + dim);
        }
        this.vocab = vocab;
        this.dim = dim;
        registerParameter("weight", Init.normal(rng, Shape.of(vocab, dim), std));
    }

    public int vocabSize() {
        return vocab;
    }

    public int dim() {
        return dim;
    }

    /** The table, for weight tying. */
    public Tensor weight() {
        return param("weight");
    }

    /** Rows for {@code ids} laid out as {@code idsShape} (e.g. batch, tokens): shape idsShape + [dim]. */
    public Tensor forward(int[] ids, int... idsShape) {
        return scoped(() -> param("weight").embedding(ids, idsShape));
    }

    /** Ids given as a tensor of whole numbers, integer or float (copied to the host to be checked); shape x.shape + [dim]. */
    @Override
    protected Tensor compute(Tensor x) {
        return forward(ids(x), x.shape().dims());
    }

    /** The values of {@code x} as token ids; a value that is not a whole int (2.7, NaN, 1e10) throws. */
    static int[] ids(Tensor x) {
        if (!x.dtype().isFloatingPoint()) { // int64 ids above 2^24 are exact this way
            long[] l = x.toLongArray();
            int[] ids = new int[l.length];
            for (int i = 0; i < l.length; i++) {
                ids[i] = (int) l[i];
                if (ids[i] != l[i]) {
                    throw new IllegalArgumentException("token id " + l[i] + " at position " + i + " is outside int");
                }
            }
            return ids;
        }
        float[] f = x.toArray();
        int[] ids = new int[f.length];
        for (int i = 0; i < f.length; i++) {
            ids[i] = (int) f[i];
            if (ids[i] != f[i]) {
                throw new IllegalArgumentException("token id " + f[i] + " at position " + i
                        + " is not a whole number (ids must be integers in [0, vocabulary size))");
            }
        }
        return ids;
    }

    @Override
    public String toString() {
        return "Embedding(" + vocab + ", " + dim + ")";
    }
}
