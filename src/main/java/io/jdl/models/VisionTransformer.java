package io.jdl.models;

import io.jdl.nn.LayerNorm;
import io.jdl.nn.Linear;
import io.jdl.nn.Module;
import io.jdl.nn.PositionalEmbedding;
import io.jdl.nn.TransformerBlock;
import io.jdl.nn.TransformerStack;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.List;
import java.util.Random;

/**
 * A vision transformer: the image is cut into square patches, each patch becomes a token through a
 * linear projection, learned positions are added, bidirectional transformer blocks mix the tokens,
 * and the mean token (after a final layer norm) goes through a linear classifier.
 * Parameter names follow PyTorch's: {@code patch_embed.weight}, {@code blocks.0.attn.qkv.weight}, ...
 */
public final class VisionTransformer extends Module {
    private final int channels, imageSize, patch, grid;
    private final Linear patchEmbed;
    private final PositionalEmbedding positions;
    private final TransformerStack blocks;
    private final LayerNorm norm;
    private final Linear head;

    public VisionTransformer(int channels, int imageSize, int patch, int dim, int heads, int layers, float dropout,
                             int classes, Random rng) {
        if (patch < 1 || imageSize % patch != 0) {
            throw new IllegalArgumentException("patch size " + patch + " does not divide the image size " + imageSize);
        }
        this.channels = channels;
        this.imageSize = imageSize;
        this.patch = patch;
        this.grid = imageSize / patch;
        patchEmbed = registerModule("patch_embed", new Linear(channels * patch * patch, dim, rng));
        positions = registerModule("pos_emb", PositionalEmbedding.learned(grid * grid, dim, rng));
        blocks = registerModule("blocks", new TransformerStack(dim, heads, layers, false, dropout, rng));
        norm = registerModule("ln", new LayerNorm(dim));
        head = registerModule("head", new Linear(dim, classes, rng));
    }

    /** The patches of {@code x} [B, C, H, W] as tokens [B, (H/p)·(W/p), C·p·p], row by row. */
    public Tensor patches(Tensor x) {
        Shape s = x.shape();
        if (s.rank() != 4 || s.dim(1) != channels || s.dim(2) != imageSize || s.dim(3) != imageSize) {
            throw new IllegalArgumentException("VisionTransformer takes [batch, " + channels + ", " + imageSize + ", "
                    + imageSize + "] images, got " + s);
        }
        int b = s.dim(0);
        return scoped(() -> x.reshape(b, channels, grid, patch, grid, patch)     // [B, C, g, p, g, p]
                .permute(0, 2, 4, 1, 3, 5)                                        // [B, g, g, C, p, p]
                .reshape(b, grid * grid, channels * patch * patch));
    }

    /** Class logits [B, classes]. */
    @Override
    protected Tensor compute(Tensor x) {
        Tensor h = blocks.forward(positions.forward(patchEmbed.forward(patches(x))));  // [B, tokens, dim]
        return head.forward(norm.forward(h).mean(1));                                   // mean over tokens
    }

    public List<TransformerBlock> blocks() {
        return blocks.blocks();
    }

    /** Keeps each block's last attention weights [B, heads, tokens, tokens] for inspection. */
    public void recordAttentionWeights(boolean on) {
        blocks.recordAttentionWeights(on);
    }

    /** Tokens per image. */
    public int tokens() {
        return grid * grid;
    }

    public int grid() {
        return grid;
    }
}
