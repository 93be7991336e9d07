package io.jdl.nn;

import io.jdl.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * {@code layers} pre-norm {@link TransformerBlock}s applied in order to x [B, T, dim], named "0", "1", ...
 * (so that inside a model they read {@code blocks.0.attn.qkv.weight}). The trunk of {@link Transformer},
 * and of any model over other token kinds (image patches for a ViT: a patch projection and positions
 * before it, a norm and a head after it).
 */
public final class TransformerStack extends Module {
    private final List<TransformerBlock> blocks = new ArrayList<>();

    public TransformerStack(int dim, int heads, int layers, boolean causal, float dropout, Random rng) {
        if (layers < 0) {
            throw new IllegalArgumentException("TransformerStack needs layers >= 0, got " + layers);
        }
        try {
            for (int i = 0; i < layers; i++) {
                blocks.add(registerModule(Integer.toString(i), new TransformerBlock(dim, heads, causal, dropout, rng)));
            }
        } catch (RuntimeException e) {
            close(); // what was registered before the failure would otherwise leak
            throw e;
        }
    }

    public List<TransformerBlock> blocks() {
        return List.copyOf(blocks);
    }

    /** Turns attention-weight recording on or off in every block (see {@link MultiHeadAttention#lastWeights()}). */
    public void recordAttentionWeights(boolean on) {
        blocks.forEach(b -> b.attention().recordWeights(on));
    }

    @Override
    protected Tensor compute(Tensor x) {
        return forward(x, null);
    }

    /** @param keyPaddingMask null, or [B, T] with 1 for real and 0 for padding keys */
    public Tensor forward(Tensor x, Tensor keyPaddingMask) {
        return scoped(() -> {
            Tensor h = x;
            for (TransformerBlock b : blocks) {
                h = b.forward(h, keyPaddingMask);
            }
            return h;
        });
    }

    @Override
    public String toString() {
        return "TransformerStack(" + blocks.size() + " x " + (blocks.isEmpty() ? "-" : blocks.getFirst()) + ")";
    }
}
