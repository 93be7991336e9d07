package io.jdl.nn;

import io.jdl.tensor.FusedActivation;
import io.jdl.tensor.Tensor;
import java.util.Random;

/**
 * A pre-norm transformer block: {@code x = x + drop(attn(ln1(x)))}, then {@code x = x + drop(mlp(ln2(x)))}
 * with {@code mlp = fc2(gelu(fc1(.)))}, dim -> 4·dim -> dim. Parameter names as in common PyTorch code:
 * {@code ln1, attn.qkv, attn.proj, ln2, mlp.fc1, mlp.fc2}.
 */
public final class TransformerBlock extends Module {
    private final MultiHeadAttention attn;
    private final Dropout drop1, drop2;  // null when the dropout probability is 0

    public TransformerBlock(int dim, int heads, boolean causal, float dropout, Random rng) {
        if (4L * dim > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("TransformerBlock: width " + dim + " is too large (its MLP is 4 x width wide)");
        }
        try {
            registerModule("ln1", new LayerNorm(dim));
            attn = registerModule("attn", new MultiHeadAttention(dim, heads, causal, dropout, rng));
            registerModule("ln2", new LayerNorm(dim));
            registerModule("mlp", new FeedForward(dim, 4 * dim, rng));
            drop1 = dropout > 0 ? new Dropout(dropout, rng.nextLong()) : null;
            drop2 = dropout > 0 ? new Dropout(dropout, rng.nextLong()) : null;
        } catch (RuntimeException e) {
            close(); // what was registered before the failure would otherwise leak
            throw e;
        }
    }

    public MultiHeadAttention attention() {
        return attn;
    }

    @Override
    public Module train(boolean on) {
        if (drop1 != null) {
            drop1.train(on);
            drop2.train(on);
        }
        return super.train(on);
    }

    @Override
    protected Tensor compute(Tensor x) {
        return forward(x, null);
    }

    /** @param keyPaddingMask null, or [B, T] with 1 for real and 0 for padding keys */
    public Tensor forward(Tensor x, Tensor keyPaddingMask) {
        return scoped(() -> {
            Tensor h = x.add(drop(drop1, attn.forward(children().get("ln1").forward(x), keyPaddingMask)));
            return h.add(drop(drop2, children().get("mlp").forward(children().get("ln2").forward(h))));
        });
    }

    private static Tensor drop(Dropout d, Tensor x) {
        return d == null ? x : d.forward(x);
    }

    /** fc1 (dim -> hidden), exact GELU (in fc1's bias pass), fc2 (hidden -> dim). */
    static final class FeedForward extends Module {
        FeedForward(int dim, int hidden, Random rng) {
            registerModule("fc1", new Linear(dim, hidden, rng));
            registerModule("fc2", new Linear(hidden, dim, rng));
        }

        @Override
        protected Tensor compute(Tensor x) {
            Linear fc1 = (Linear) children().get("fc1");
            return children().get("fc2").forward(fc1.forward(x, FusedActivation.gelu()));
        }

        @Override
        public String toString() {
            return "FeedForward" + children().values();
        }
    }

    @Override
    public String toString() {
        return "TransformerBlock(" + attn + ")";
    }
}
