package io.jdl.nn;

import io.jdl.device.Device;
import io.jdl.tensor.Attention;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import io.jdl.tensor.TensorScope;
import java.util.Arrays;
import java.util.Random;

/**
 * Multi-head self-attention over x [B, T, dim]: one fused projection {@code qkv} (Linear(dim, 3·dim)),
 * split into H heads of dim/H, scaled dot-product attention per head ({@link Tensor#attention}), heads
 * concatenated and projected by {@code proj} (Linear(dim, dim)). Attention dropout with probability
 * {@code dropout} in training, seeded per call.
 *
 * <p>{@link #recordWeights(boolean)} keeps the last call's attention probabilities [B, H, T, T] for
 * inspection ({@link #lastWeights()}), e.g. to draw attention maps.
 */
public final class MultiHeadAttention extends Module implements Stochastic {
    private final int dim, heads, headDim;
    private final boolean causal;
    private final float dropout;
    private final Seeds seeds;
    private boolean recordWeights;
    private Tensor lastWeights;

    public MultiHeadAttention(int dim, int heads, boolean causal, float dropout, Random rng) {
        if (3L * dim > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("MultiHeadAttention: width " + dim + " is too large (q, k, v take 3 x width)");
        }
        if (heads < 1 || dim < 1 || dim % heads != 0) {
            throw new IllegalArgumentException("MultiHeadAttention: " + heads + " heads do not divide the model width "
                    + dim + " (head_dim = width / heads must be a whole number)");
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("attention dropout probability must be in [0, 1), got " + dropout);
        }
        this.dim = dim;
        this.heads = heads;
        this.headDim = dim / heads;
        this.causal = causal;
        this.dropout = dropout;
        this.seeds = new Seeds(rng.nextLong());
        try {
            registerModule("qkv", new Linear(dim, 3 * dim, rng));
            registerModule("proj", new Linear(dim, dim, rng));
        } catch (RuntimeException e) {
            close(); // what was registered before the failure would otherwise leak
            throw e;
        }
    }

    /**
     * A key padding mask [batch, tokens] for {@link #forward(Tensor, Tensor)} and {@link Tensor#attention}:
     * sequence b's first {@code lengths[b]} keys are kept (1), the rest are padding (0).
     */
    public static Tensor paddingMask(int[] lengths, int tokens, Device device) {
        if (lengths == null || tokens < 0) {
            throw new IllegalArgumentException("padding mask: need lengths and tokens >= 0, got " + tokens + " tokens");
        }
        Shape shape = Shape.of(lengths.length, tokens); // refuses a mask larger than a tensor holds
        float[] m = new float[Math.toIntExact(shape.numel())];
        for (int b = 0; b < lengths.length; b++) {
            if (lengths[b] < 0 || lengths[b] > tokens) {
                throw new IllegalArgumentException("padding mask: length " + lengths[b] + " of sequence " + b
                        + " is outside [0, " + tokens + "] tokens");
            }
            java.util.Arrays.fill(m, b * tokens, b * tokens + lengths[b], 1f);
        }
        return Tensor.of(m, shape, device);
    }

    /** A key padding mask [batch, tokens] from {@code keep[b][t]} (true for a real token, false for padding). */
    public static Tensor paddingMask(boolean[][] keep, Device device) {
        if (keep == null || Arrays.asList(keep).contains(null)) {
            throw new IllegalArgumentException("padding mask: keep or one of its rows is null");
        }
        int batch = keep.length, tokens = batch == 0 ? 0 : keep[0].length;
        Shape shape = Shape.of(batch, tokens);
        float[] m = new float[Math.toIntExact(shape.numel())];
        for (int b = 0; b < batch; b++) {
            if (keep[b].length != tokens) {
                throw new IllegalArgumentException("padding mask: row " + b + " has " + keep[b].length
                        + " entries, row 0 has " + tokens);
            }
            for (int t = 0; t < tokens; t++) {
                m[b * tokens + t] = keep[b][t] ? 1f : 0f;
            }
        }
        return Tensor.of(m, shape, device);
    }

    public int heads() {
        return heads;
    }

    public boolean causal() {
        return causal;
    }

    /** Whether forward keeps a copy of its attention weights; off by default. Returns this. */
    public MultiHeadAttention recordWeights(boolean on) {
        recordWeights = on;
        if (!on) {
            closeWeights();
        }
        return this;
    }

    /** The attention probabilities [B, H, T, T] of the last forward call while recording, or null; owned by this module. */
    public Tensor lastWeights() {
        return lastWeights;
    }

    @Override
    protected Tensor compute(Tensor x) {
        return forward(x, null);
    }

    /**
     * @param keyPaddingMask null, or [B, T] with <b>1 for a real key and 0 for padding</b> (PyTorch's boolean
     *                       {@code key_padding_mask} is the opposite: True marks padding); see {@link #paddingMask}
     */
    public Tensor forward(Tensor x, Tensor keyPaddingMask) {
        Shape s = x.shape();
        if (s.rank() != 3 || s.dim(2) != dim) {
            throw new IllegalArgumentException("MultiHeadAttention takes [batch, tokens, " + dim + "], got " + s);
        }
        return scoped(() -> {
            Tensor qkv = children().get("qkv").forward(x);                 // [B, T, 3·dim] = [B, T, 3, H, hd]
            boolean train = isTraining() && dropout > 0;
            if (train) {  // captured as a CUDA graph: seed + the graph's replay counter, as in Dropout
                io.jdl.tensor.CudaGraphStep.advancesPerReplay(n -> seeds.set(seeds.peek() + n));
            }
            // The heads are read from qkv and written to [B, T, H, hd] in place: no split or merge copies.
            Attention a = qkv.selfAttention(heads, causal, keyPaddingMask, train ? dropout : 0f,
                    train ? seeds.take() : 0L, recordWeights);
            if (recordWeights) {
                closeWeights();
                lastWeights = TensorScope.unscoped(a.weights());
            }
            Tensor merged = a.output();                                      // [B, T, H·hd]
            return children().get("proj").forward(merged);
        });
    }

    private void closeWeights() {
        if (lastWeights != null && !lastWeights.isClosed()) {
            lastWeights.close();
        }
        lastWeights = null;
    }

    @Override
    public void close() {
        closeWeights();
        super.close();
    }

    @Override
    public String toString() {
        return "MultiHeadAttention(" + dim + ", heads=" + heads + (causal ? ", causal" : "") + ", dropout=" + dropout
                + ")";
    }

    @Override
    public Seeds seeds() {
        return seeds;
    }
}
