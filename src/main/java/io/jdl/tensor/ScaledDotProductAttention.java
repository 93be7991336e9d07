package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import java.util.List;

/** Scaled dot-product attention, forward and backward, as batched GEMMs around one fused softmax kernel. */
final class ScaledDotProductAttention {
    private ScaledDotProductAttention() {
    }

    /**
     * {@code softmax(Q·Kᵀ/√D + mask)·V} for q [B, H, Tq, D], k [B, H, Tk, D], v [B, H, Tk, Dv]; the output is
     * [B, H, Tq, Dv]. Q·Kᵀ, P·V and the four backward products are batched GEMMs (strided-batched cuBLAS on the
     * GPU); the scale, the masks and the softmax (forward and backward) are one row kernel; nothing returns to
     * the host.
     *
     * @param causal          query i sees keys j <= i only (top-left aligned, as PyTorch's {@code is_causal})
     * @param keyPaddingMask  null, or [B, Tk] (or [B, 1, 1, Tk]) of floats: <b>non-zero keeps key j of batch b,
     *                        0 hides it</b> (PyTorch's boolean {@code key_padding_mask} is the opposite: True
     *                        hides); a query with every key hidden gets a zero output (not NaN)
     * @param dropoutP        attention dropout on the probabilities (0 for none), mask from ({@code seed}, index),
     *                        identical on the CPU and the GPU
     * @param returnWeights   whether to return a copy of the attention probabilities [B, H, Tq, Tk] (before
     *                        dropout), outside any graph and owned by the caller
     */
    static Attention attention(Tensor q, Tensor k, Tensor v, boolean causal, Tensor keyPaddingMask, float dropoutP,
                               long seed, boolean returnWeights) {
        try (TensorScope scope = TensorScope.open()) { // a failure frees what was allocated
            Attention a = compute(q, k, v, causal, keyPaddingMask, dropoutP, seed, returnWeights);
            scope.keep(a.output());
            scope.keep(a.weights());
            return a;
        }
    }

    private static Attention compute(Tensor q, Tensor k, Tensor v, boolean causal, Tensor keyPaddingMask,
                                     float dropoutP, long seed, boolean returnWeights) {
        Checks.sameDevice("attention", q, k);
        Checks.sameDevice("attention", q, v);
        if (q.shape.rank() != 4 || k.shape.rank() != 4 || v.shape.rank() != 4) {
            throw new IllegalArgumentException("attention takes q, k, v of rank 4 [batch, heads, tokens, head_dim], got "
                    + q.shape + ", " + k.shape + ", " + v.shape);
        }
        int b = q.shape.dim(0), h = q.shape.dim(1), tq = q.shape.dim(2), d = q.shape.dim(3);
        int tk = k.shape.dim(2), dv = v.shape.dim(3);
        if (k.shape.dim(0) != b || v.shape.dim(0) != b || k.shape.dim(1) != h || v.shape.dim(1) != h
                || k.shape.dim(3) != d || v.shape.dim(2) != tk || tq < 1 || tk < 1 || d < 1) {
            throw new IllegalArgumentException("attention: q " + q.shape + ", k " + k.shape + " and v " + v.shape
                    + " do not fit (need q [B, H, Tq, D], k [B, H, Tk, D], v [B, H, Tk, Dv])");
        }
        if (keyPaddingMask != null) {
            Checks.sameDevice("attention", q, keyPaddingMask);
            Shape m = keyPaddingMask.shape;
            if (!m.equals(Shape.of(b, tk)) && !m.equals(Shape.of(b, 1, 1, tk))) {
                throw new IllegalArgumentException("attention: key padding mask of shape " + m
                        + " does not broadcast to the scores [" + b + ", " + h + ", " + tq + ", " + tk
                        + "] (expected [" + b + ", " + tk + "] or [" + b + ", 1, 1, " + tk + "]: batch " + b
                        + ", keys " + tk + ")");
            }
        }
        if (!(dropoutP >= 0 && dropoutP < 1)) {
            throw new IllegalArgumentException("attention dropout probability must be in [0, 1), got " + dropoutP);
        }
        var be = q.backend;
        int bh = b * h;
        float scale = (float) (1 / Math.sqrt(d));
        Tensor p = q.empty(Shape.of(b, h, tq, tk));                         // probabilities, [B, H, Tq, Tk]
        be.matmul(false, true, bh, tq, tk, d, q.storage, k.storage, p.storage);
        be.attentionSoftmax(p.storage, keyPaddingMask == null ? null : keyPaddingMask.storage, p.storage, b, h, tq,
                tk, scale, causal);
        Tensor weights = returnWeights ? p.detach() : null;
        Tensor pd = p, dropMask = null;
        if (dropoutP > 0) {
            pd = q.empty(p.shape);
            dropMask = q.empty(p.shape);
            be.dropout(p.storage, pd.storage, dropMask.storage, p.numel(), dropoutP, seed);
        }
        Tensor out = q.empty(Shape.of(b, h, tq, dv));
        be.matmul(false, false, bh, tq, dv, tk, pd.storage, v.storage, out.storage);
        Tensor probsDropped = pd, mask = dropMask;
        List<Tensor> saved = dropMask == null ? List.of(p) : List.of(p, pd, dropMask);
        Tensor recorded = record("attention", out, g -> {
            accumulate(v, () -> {
                Tensor dV = v.empty(v.shape);
                be.matmul(true, false, bh, tk, dv, tq, probsDropped.storage, g.storage, dV.storage);
                return dV;
            });
            if (!q.needsGrad() && !k.needsGrad()) {
                return;
            }
            try (Tensor ds = q.empty(p.shape)) {                            // dScores, [B, H, Tq, Tk]
                be.matmul(false, true, bh, tq, tk, dv, g.storage, v.storage, ds.storage);
                if (mask != null) {
                    be.mul(ds.storage, mask.storage, ds.storage, ds.numel());
                }
                be.attentionSoftmaxBackward(p.storage, ds.storage, ds.storage, bh * tq, tk, scale);
                accumulate(q, () -> {
                    Tensor dQ = q.empty(q.shape);
                    be.matmul(false, false, bh, tq, d, tk, ds.storage, k.storage, dQ.storage);
                    return dQ;
                });
                accumulate(k, () -> {
                    Tensor dK = k.empty(k.shape);
                    be.matmul(true, false, bh, tk, d, tq, ds.storage, q.storage, dK.storage);
                    return dK;
                });
            }
        }, saved, q, k, v);
        return new Attention(recorded, weights);
    }
}
