package io.jdl.backend;

import io.jdl.device.DType;
import java.util.Objects;

/**
 * One call of {@link Backend#fusedAttentionForward} / {@link Backend#fusedAttentionBackward}: the element type
 * of q, k, v and the output, the shape (self-attention-sized: as many keys as queries, one head size for q, k
 * and v), the causal flag, the score scale, and whether a key padding mask and a dropout mask come with it.
 */
public record FusedAttention(DType dtype, int batch, int heads, int seqLen, int headDim, boolean causal, float scale,
                             boolean keyMask, boolean dropout) {
    public FusedAttention {
        Objects.requireNonNull(dtype, "dtype");
        if (batch < 1 || heads < 1 || seqLen < 1 || headDim < 1) {
            throw new IllegalArgumentException("fused attention dimensions must be positive: batch " + batch
                    + ", heads " + heads + ", seqLen " + seqLen + ", headDim " + headDim);
        }
    }
}
