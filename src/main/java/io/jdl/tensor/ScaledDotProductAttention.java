package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import io.jdl.backend.Backend;
import io.jdl.backend.MatrixBatch;
import io.jdl.device.DType;
import java.util.List;

/**
 * Scaled dot-product attention, forward and backward, as batched GEMMs around one fused softmax kernel.
 * The GEMMs read q, k, v and write the output and the gradients where they lie ({@link MatrixBatch}): in
 * [B, H, T, D] tensors, or straight inside a fused projection [B, T, 3, H, D] with the output in [B, T, H, D]
 * ({@link #selfAttention}), so splitting and merging heads copies nothing.
 *
 * <p>Half-precision q, k, v (bfloat16 / float16, as {@link DTypeRules#attention} hands them over) go to the
 * backend's fused attention first ({@link FusedAttentionOp}: cuDNN's flash attention on the GPU), which reads
 * the same layouts in place, and with dropout drops what this class would drop for the same seed; where the
 * backend has none for the configuration (the CPU, a head size or dtype cuDNN declines, attention weights
 * asked for, or Dv != D) they run here in float32 and the output is rounded to their dtype. Both accumulate in float32 and round the output once.
 */
final class ScaledDotProductAttention {
    private ScaledDotProductAttention() {
    }

    /**
     * Where one operand's heads lie in its tensor: head (b, h) is a T × D matrix starting at
     * {@code offset + b·batchStride + h·headStride}, rows {@code rowStride} apart.
     */
    record Heads(Tensor tensor, long offset, int rowStride, long batchStride, long headStride) {
        /** [B, H, T, D], dense. */
        static Heads dense(Tensor t) {
            int h = t.shape.dim(1), rows = t.shape.dim(2), d = t.shape.dim(3);
            return new Heads(t, 0, d, (long) h * rows * d, (long) rows * d);
        }

        /** Part {@code part} (0 q, 1 k, 2 v) of a fused projection [B, T, 3, H, D] (or [B, T, H, D] with parts 1). */
        static Heads interleaved(Tensor t, int parts, int part, int heads, int headDim) {
            int row = parts * heads * headDim;
            return new Heads(t, (long) part * heads * headDim, row, (long) t.shape.dim(1) * row, headDim);
        }

        MatrixBatch on(Tensor storageOf) {
            return new MatrixBatch(storageOf.dense(), offset, rowStride, batchStride, headStride);
        }

        MatrixBatch batch() {
            return on(tensor);
        }

        /** The same heads in {@code t} (a float32 copy of this tensor, say). */
        Heads in(Tensor t) {
            return new Heads(t, offset, rowStride, batchStride, headStride);
        }
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
        return scoped(() -> inDType(Heads.dense(q), Heads.dense(k), Heads.dense(v), false, b, h, tq, tk, d, dv,
                Shape.of(b, h, tq, dv), causal, keyPaddingMask, dropoutP, seed, returnWeights));
    }

    /**
     * Multi-head self-attention on a fused projection: {@code qkv} [B, T, 3·H·D] holds, per token, q, k and v,
     * each H heads of D ([B, T, 3, H, D]); the output is [B, T, H·D], heads side by side, ready for the output
     * projection. The same as splitting and permuting qkv to [B, H, T, D] tensors, {@link #attention}, and
     * permuting back, value for value, without those copies: the GEMMs read and write the interleaved layout
     * in place, and the backward writes q's, k's and v's gradients into one [B, T, 3·H·D] gradient.
     */
    static Attention selfAttention(Tensor qkv, int heads, boolean causal, Tensor keyPaddingMask, float dropoutP,
                                   long seed, boolean returnWeights) {
        qkv.checkOpen();
        Shape s = qkv.shape;
        if (heads < 1 || s.rank() != 3 || s.dim(2) == 0 || s.dim(2) % (3L * heads) != 0 || s.dim(1) < 1) {
            throw new IllegalArgumentException("selfAttention takes qkv [batch, tokens, 3 x heads x head_dim] with"
                    + " tokens >= 1 and head_dim >= 1; shape " + s + " does not fit " + heads + " heads");
        }
        int b = s.dim(0), t = s.dim(1), d = s.dim(2) / 3 / heads;
        return scoped(() -> inDType(Heads.interleaved(qkv, 3, 0, heads, d), Heads.interleaved(qkv, 3, 1, heads, d),
                Heads.interleaved(qkv, 3, 2, heads, d), true, b, heads, t, t, d, d, Shape.of(b, t, heads * d), causal,
                keyPaddingMask, dropoutP, seed, returnWeights));
    }

    private static Attention scoped(java.util.function.Supplier<Attention> op) {
        try (TensorScope scope = TensorScope.open()) { // a failure frees what was allocated
            Attention a = op.get();
            scope.keep(a.output());
            scope.keep(a.weights());
            return a;
        }
    }

    /**
     * q, k, v of one dtype: float32 through {@link #compute}; a half dtype through the backend's fused attention,
     * or else {@link #compute} on float32 copies with the output rounded back.
     */
    private static Attention inDType(Heads q, Heads k, Heads v, boolean fused, int b, int h, int tq, int tk, int d,
                                     int dv, Shape outShape, boolean causal, Tensor keyPaddingMask, float dropoutP,
                                     long seed, boolean returnWeights) {
        checkMaskAndDropout(q.tensor(), b, h, tq, tk, keyPaddingMask, dropoutP);
        DType dtype = q.tensor().dtype();
        if (dtype == DType.FLOAT32) {
            return compute(q, k, v, fused, b, h, tq, tk, d, dv, outShape, causal, keyPaddingMask, dropoutP, seed,
                    returnWeights);
        }
        if (!returnWeights && dv == d) {
            Attention flash = FusedAttentionOp.forward(q, k, v, fused, b, h, tq, tk, d, outShape, causal,
                    keyPaddingMask, dropoutP, seed);
            if (flash != null) {
                return flash;
            }
        }
        // float32 copies, recorded: the gradients flow back to the half tensors through the conversions
        Tensor q32 = Conversions.to(q.tensor(), DType.FLOAT32);
        Tensor k32 = fused ? q32 : Conversions.to(k.tensor(), DType.FLOAT32);
        Tensor v32 = fused ? q32 : Conversions.to(v.tensor(), DType.FLOAT32);
        Attention a = compute(q.in(q32), k.in(k32), v.in(v32), fused, b, h, tq, tk, d, dv, outShape, causal,
                keyPaddingMask, dropoutP, seed, returnWeights);
        return new Attention(Conversions.to(a.output(), dtype), a.weights());
    }

    private static void checkMaskAndDropout(Tensor any, int b, int h, int tq, int tk, Tensor keyPaddingMask,
                                            float dropoutP) {
        if (keyPaddingMask != null) {
            Checks.sameDevice("attention", any, keyPaddingMask);
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
    }

    /**
     * The GEMM attention in float32: q, k, v located by their {@link Heads}; the output has {@code outShape} and
     * the layout of q's heads with head size Dv ([B, H, Tq, Dv] for dense operands, [B, Tq, H, Dv] for a fused
     * one). When {@code fused}, q, k, v are parts of one tensor and its gradient is one buffer in the same layout.
     */
    private static Attention compute(Heads q, Heads k, Heads v, boolean fused, int b, int h, int tq, int tk, int d,
                                     int dv, Shape outShape, boolean causal, Tensor keyPaddingMask, float dropoutP,
                                     long seed, boolean returnWeights) {
        Tensor any = q.tensor();
        Backend be = any.backend;
        float scale = (float) (1 / Math.sqrt(d));
        Tensor p = any.empty(Shape.of(b, h, tq, tk));                       // probabilities, [B, H, Tq, Tk]
        be.matmul(false, true, b, h, tq, tk, d, q.batch(), k.batch(), scores(p, h, tq, tk));
        be.attentionSoftmax(p.dense(), keyPaddingMask == null ? null : keyPaddingMask.dense(), p.dense(), b, h, tq,
                tk, scale, causal);
        Tensor weights = returnWeights ? p.detach() : null;
        Tensor pd = p, dropMask = null;
        if (dropoutP > 0) {
            pd = any.empty(p.shape);
            dropMask = any.empty(p.shape);
            be.dropout(p.dense(), pd.dense(), dropMask.dense(), p.numel(), dropoutP, seed);
        }
        Tensor out = any.empty(outShape);
        Heads outHeads = fused ? Heads.interleaved(out, 1, 0, h, dv) : Heads.dense(out);
        be.matmul(false, false, b, h, tq, dv, tk, scores(pd, h, tq, tk), v.batch(), outHeads.batch());
        Tensor probsDropped = pd, mask = dropMask;
        List<Tensor> saved = dropMask == null ? List.of(p) : List.of(p, pd, dropMask);
        Tensor[] inputs = fused ? new Tensor[] {any} : new Tensor[] {q.tensor(), k.tensor(), v.tensor()};
        Tensor recorded = record("attention", out, g -> {
            MatrixBatch dOut = outHeads.on(g);
            if (fused) {
                accumulate(any, () -> {
                    Tensor dQkv = any.empty(any.shape);                      // [B, T, 3, H, D]
                    be.matmul(true, false, b, h, tk, dv, tq, scores(probsDropped, h, tq, tk), dOut, v.on(dQkv));
                    scoresBackward(be, g, dOut, p, mask, v, scale, b, h, tq, tk, dv, ds -> {
                        be.matmul(false, false, b, h, tq, d, tk, scores(ds, h, tq, tk), k.batch(), q.on(dQkv));
                        be.matmul(true, false, b, h, tk, d, tq, scores(ds, h, tq, tk), q.batch(), k.on(dQkv));
                    });
                    return dQkv;
                });
                return;
            }
            accumulate(v.tensor(), () -> {
                Tensor dV = any.empty(v.tensor().shape);
                be.matmul(true, false, b, h, tk, dv, tq, scores(probsDropped, h, tq, tk), dOut, v.on(dV));
                return dV;
            });
            if (!q.tensor().needsGrad() && !k.tensor().needsGrad()) {
                return;
            }
            scoresBackward(be, g, dOut, p, mask, v, scale, b, h, tq, tk, dv, ds -> {
                accumulate(q.tensor(), () -> {
                    Tensor dQ = any.empty(q.tensor().shape);
                    be.matmul(false, false, b, h, tq, d, tk, scores(ds, h, tq, tk), k.batch(), q.on(dQ));
                    return dQ;
                });
                accumulate(k.tensor(), () -> {
                    Tensor dK = any.empty(k.tensor().shape);
                    be.matmul(true, false, b, h, tk, d, tq, scores(ds, h, tq, tk), q.batch(), k.on(dK));
                    return dK;
                });
            });
        }, saved, inputs);
        return new Attention(recorded, weights);
    }

    /** dScores [B, H, Tq, Tk] from the output's gradient, handed to {@code use} and freed after. */
    private static void scoresBackward(Backend be, Tensor g, MatrixBatch dOut, Tensor p, Tensor mask, Heads v,
                                       float scale, int b, int h, int tq, int tk, int dv,
                                       java.util.function.Consumer<Tensor> use) {
        try (Tensor ds = g.empty(p.shape)) {
            be.matmul(false, true, b, h, tq, tk, dv, dOut, v.batch(), scores(ds, h, tq, tk));
            if (mask != null) {
                be.mul(ds.dense(), mask.dense(), ds.dense(), ds.numel());
            }
            be.attentionSoftmaxBackward(p.dense(), ds.dense(), ds.dense(), b * h * tq, tk, scale);
            use.accept(ds);
        }
    }

    /** A dense [B, H, Tq, Tk] tensor as the batch of its H·B score matrices. */
    private static MatrixBatch scores(Tensor t, int h, int tq, int tk) {
        return MatrixBatch.packed(t.dense(), h, tq, tk);
    }
}
