package io.jdl.nn;

import io.jdl.tensor.Tensor;
import java.util.List;
import java.util.Random;

/**
 * A transformer over token ids: token embedding {@code tok_emb}, learned positions {@code pos_emb},
 * {@code layers} pre-norm blocks ({@code blocks.0}, {@code blocks.1}, ...), a final layer norm
 * {@code ln_f} and a linear head {@code head} to {@code vocab} logits, optionally tied to the token
 * embedding (then {@code head} holds only its bias).
 *
 * <p>{@link #encoder} is bidirectional (every token sees every non-padding token: masked language
 * modelling); {@link #causalLm} is decoder-only (token t sees tokens 0..t: next-token prediction).
 */
public final class Transformer extends Module {
    private final int vocab, maxLen, dim;
    private final boolean causal, tied;
    private final Embedding tokEmb;
    private final PositionalEmbedding posEmb;
    private final TransformerStack blocks;

    /** Sizes and switches of a {@link Transformer}. */
    public record Config(int vocab, int maxLen, int dim, int heads, int layers, float dropout, boolean tieWeights) {
    }

    private Transformer(Config c, boolean causal, Random rng) {
        if (c.layers() < 0 || c.vocab() < 1 || c.maxLen() < 1) {
            throw new IllegalArgumentException("Transformer: need vocab >= 1, maxLen >= 1, layers >= 0, got " + c);
        }
        this.vocab = c.vocab();
        this.maxLen = c.maxLen();
        this.dim = c.dim();
        this.causal = causal;
        this.tied = c.tieWeights();
        try {
            tokEmb = registerModule("tok_emb", new Embedding(vocab, dim, 0.02, rng));  // GPT-2 initialisation
            posEmb = registerModule("pos_emb", PositionalEmbedding.learned(maxLen, dim, rng));
            blocks = registerModule("blocks", new TransformerStack(dim, c.heads(), c.layers(), causal, c.dropout(), rng));
            registerModule("ln_f", new LayerNorm(dim));
            registerModule("head", tied ? new TiedHead(vocab, dim, rng) : new Linear(dim, vocab, rng));
        } catch (RuntimeException e) {
            close(); // what was registered before the failure would otherwise leak
            throw e;
        }
    }

    /** A bidirectional encoder with a token head (for masked language modelling). */
    public static Transformer encoder(Config c, Random rng) {
        return new Transformer(c, false, rng);
    }

    /** A decoder-only causal language model. */
    public static Transformer causalLm(Config c, Random rng) {
        return new Transformer(c, true, rng);
    }

    public List<TransformerBlock> blocks() {
        return blocks.blocks();
    }

    public boolean isCausal() {
        return causal;
    }

    public int vocabSize() {
        return vocab;
    }

    /** Turns attention-weight recording on or off in every block (see {@link MultiHeadAttention#lastWeights()}). */
    public void recordAttentionWeights(boolean on) {
        blocks.recordAttentionWeights(on);
    }

    /** Ids as a float tensor [B, T] (copied to the host and checked as {@link Embedding#forward} does). */
    @Override
    protected Tensor compute(Tensor ids) {
        if (ids.shape().rank() != 2) {
            throw new IllegalArgumentException("Transformer takes token ids [batch, tokens], got " + ids.shape());
        }
        return forward(Embedding.ids(ids), ids.shape().dim(0), ids.shape().dim(1), null);
    }

    /**
     * Logits [batch, tokens, vocab] for {@code ids} (row-major [batch, tokens]).
     *
     * @param keyPaddingMask null, or [batch, tokens] with 1 at real tokens and 0 at padding (on the model's device)
     * @throws IllegalArgumentException for an id outside the vocabulary or more tokens than {@code maxLen}
     */
    public Tensor forward(int[] ids, int batch, int tokens, Tensor keyPaddingMask) {
        return head(hidden(ids, batch, tokens, keyPaddingMask));
    }

    /** The final hidden states [batch, tokens, dim] (after {@code ln_f}). */
    public Tensor hidden(int[] ids, int batch, int tokens, Tensor keyPaddingMask) {
        if (tokens > maxLen) {
            throw new IllegalArgumentException("sequence of " + tokens + " tokens is longer than the positional table ("
                    + maxLen + " positions)");
        }
        if ((long) batch * tokens != ids.length) {
            throw new IllegalArgumentException(ids.length + " ids for batch " + batch + " x tokens " + tokens);
        }
        return scoped(() -> children().get("ln_f").forward(
                blocks.forward(posEmb.forward(tokEmb.forward(ids, batch, tokens)), keyPaddingMask)));
    }

    private Tensor head(Tensor h) {
        Module head = children().get("head");
        return scoped(() -> head instanceof TiedHead t ? t.forward(h, tokEmb.weight()) : head.forward(h));
    }

    /** The output head when tied to the token embedding: logits = h·Eᵀ + bias. */
    static final class TiedHead extends Module {
        TiedHead(int vocab, int dim, Random rng) {
            registerParameter("bias", Init.pytorchDefault(rng, io.jdl.tensor.Shape.of(vocab), dim));
        }

        Tensor forward(Tensor h, Tensor embedding) {
            return scoped(() -> h.linear(embedding, param("bias")));
        }

        @Override
        protected Tensor compute(Tensor x) {
            throw new UnsupportedOperationException("a tied head needs the embedding weight");
        }
    }

    @Override
    public String toString() {
        return "Transformer(" + (causal ? "causal" : "encoder") + ", vocab=" + vocab + ", dim=" + dim + ", layers="
                + blocks.blocks().size() + (tied ? ", tied" : "") + ")";
    }
}
