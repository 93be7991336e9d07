package io.jdl.nn;

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
    public Tensor forward(Tensor x) {
        return forward(x, null);
    }

    /** @param keyPaddingMask null, or [B, T] with 0 for padding keys */
    public Tensor forward(Tensor x, Tensor keyPaddingMask) {
        Tensor h1 = children().get("ln1").forward(x);
        Tensor a;
        try {
            a = attn.forward(h1, keyPaddingMask);
        } catch (RuntimeException e) {
            Modules.discard(h1); // e.g. an input of the wrong rank, which ln1 accepted
            throw e;
        }
        Modules.release(h1);
        Tensor ad = drop1 == null ? a : drop1.forward(a);
        if (ad != a) {
            Modules.release(a);
        }
        Tensor x1 = x.add(ad);
        Modules.release(ad);
        Tensor h2 = children().get("ln2").forward(x1);
        Tensor m = children().get("mlp").forward(h2);
        Modules.release(h2);
        Tensor md = drop2 == null ? m : drop2.forward(m);
        if (md != m) {
            Modules.release(m);
        }
        Tensor y = x1.add(md);
        Modules.release(md);
        Modules.release(x1);
        return y;
    }

    /** fc1 (dim -> hidden), exact GELU, fc2 (hidden -> dim). */
    static final class FeedForward extends Module {
        FeedForward(int dim, int hidden, Random rng) {
            registerModule("fc1", new Linear(dim, hidden, rng));
            registerModule("fc2", new Linear(hidden, dim, rng));
        }

        @Override
        public Tensor forward(Tensor x) {
            Tensor h = children().get("fc1").forward(x);
            Tensor g = h.gelu();
            Modules.release(h);
            Tensor y = children().get("fc2").forward(g);
            Modules.release(g);
            return y;
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
