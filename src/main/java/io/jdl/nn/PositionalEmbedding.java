package io.jdl.nn;

import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;

/**
 * Adds a position vector to every token of x [B, T, dim]: either learned ({@code weight [maxLen, dim]},
 * N(0, 0.02)) or the fixed sinusoids of "Attention is all you need" (a buffer {@code pe}, no gradient).
 * A sequence longer than the table is an {@link IllegalArgumentException} naming both lengths.
 */
public final class PositionalEmbedding extends Module {
    private final int maxLen, dim;
    private final boolean learned;

    private PositionalEmbedding(int maxLen, int dim, boolean learned, Random rng) {
        if (maxLen < 1 || dim < 1) {
            throw new IllegalArgumentException("PositionalEmbedding needs maxLen >= 1 and dim >= 1, got " + maxLen + " and "
                    + dim);
        }
        this.maxLen = maxLen;
        this.dim = dim;
        this.learned = learned;
        if (learned) {
            registerParameter("weight", Init.normal(rng, Shape.of(maxLen, dim), 0.02));
        } else {
            registerBuffer("pe", Tensor.of(sinusoids(maxLen, dim), Shape.of(maxLen, dim), Device.CPU));
        }
    }

    /** A learned table of {@code maxLen} positions. */
    public static PositionalEmbedding learned(int maxLen, int dim, Random rng) {
        return new PositionalEmbedding(maxLen, dim, true, rng);
    }

    /** Fixed sinusoidal positions: pe[t, 2i] = sin(t / 10000^(2i/dim)), pe[t, 2i+1] = cos(same). */
    public static PositionalEmbedding sinusoidal(int maxLen, int dim) {
        return new PositionalEmbedding(maxLen, dim, false, null);
    }

    /** The sinusoid table [maxLen, dim], row-major. */
    public static float[] sinusoids(int maxLen, int dim) {
        float[] pe = new float[Math.toIntExact(Shape.of(maxLen, dim).numel())];
        for (int t = 0; t < maxLen; t++) {
            for (int i = 0; i < dim; i += 2) {
                double angle = t / Math.pow(10000, (double) i / dim);
                pe[t * dim + i] = (float) Math.sin(angle);
                if (i + 1 < dim) {
                    pe[t * dim + i + 1] = (float) Math.cos(angle);
                }
            }
        }
        return pe;
    }

    public int maxLength() {
        return maxLen;
    }

    /**
     * The position vectors of a batch of {@code batch} sequences of {@code tokens}: [batch, tokens, dim], owned
     * by the caller like any op's result (recorded when learned: the table receives the gradient).
     */
    public Tensor positions(int batch, int tokens) {
        checkOpen();
        if (batch < 0 || tokens < 0) {
            throw new IllegalArgumentException("positions: batch and tokens must be >= 0, got " + batch + " and " + tokens);
        }
        if (tokens > maxLen) {
            throw new IllegalArgumentException("sequence of " + tokens + " tokens is longer than the positional table ("
                    + maxLen + " positions)");
        }
        int[] ids = new int[Math.toIntExact(Shape.of(batch, tokens).numel())];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i % tokens;
        }
        return (learned ? param("weight") : buffer("pe")).embedding(ids, batch, tokens);
    }

    /** x [B, T, dim] plus the positions of its T tokens. */
    @Override
    protected Tensor compute(Tensor x) {
        Shape s = x.shape();
        if (s.rank() != 3 || s.dim(2) != dim) {
            throw new IllegalArgumentException("PositionalEmbedding takes [batch, tokens, " + dim + "], got " + s);
        }
        return x.add(positions(s.dim(0), s.dim(1)));
    }

    @Override
    public String toString() {
        return "PositionalEmbedding(" + maxLen + ", " + dim + (learned ? ", learned)" : ", sinusoidal)");
    }
}
