package io.jdl.backend;

import io.jdl.device.DType;
import java.util.Objects;

/**
 * One call of {@link Backend#fusedAttentionForward} / {@link Backend#fusedAttentionBackward}: the element type
 * of q, k, v and the output, the shape ({@code seqQ} queries, {@code seqKV} keys and values, one head size
 * for q, k and v), the causal flag (query i sees keys j <= i, PyTorch's {@code is_causal}), the score scale, and whether a key padding mask and a dropout mask come with it.
 */
public record FusedAttention(DType dtype, int batch, int heads, int seqQ, int seqKV, int headDim, boolean causal, float scale,
                             boolean keyMask, boolean dropout) {
    public FusedAttention {
        Objects.requireNonNull(dtype, "dtype");
        if (batch < 1 || heads < 1 || seqQ < 1 || seqKV < 1 || headDim < 1) {
            throw new IllegalArgumentException("fused attention dimensions must be positive: batch " + batch
                    + ", heads " + heads + ", seqQ " + seqQ + ", seqKV " + seqKV + ", headDim " + headDim);
        }
    }
}
