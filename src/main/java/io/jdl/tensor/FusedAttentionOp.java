package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import io.jdl.autograd.Autograd;
import io.jdl.backend.Backend;
import io.jdl.backend.FusedAttention;
import io.jdl.backend.MatrixBatch;
import io.jdl.device.DType;
import io.jdl.tensor.ScaledDotProductAttention.Heads;
import java.util.ArrayList;
import java.util.List;

/**
 * Half-precision attention through the backend's fused (flash) attention ({@link Backend#fusedAttentionForward}):
 * no [B, H, T, T] probabilities in memory, the forward keeps only its output and each query's log-sum-exp
 * (float32 [B, H, Tq]) for the backward, which recomputes the probabilities. q, k, v and the output are read and
 * written in the layouts {@link ScaledDotProductAttention} gives them (a fused projection in place).
 *
 * <p>Values: the fused kernel accumulates in float32 and rounds the output (and each gradient) once to the
 * dtype, as the GEMM path does, in another summation order: the two agree within a few units in the last
 * place of the dtype.
 */
final class FusedAttentionOp {
    private FusedAttentionOp() {
    }

    /**
     * The attention of q [B, H, Tq, D] over k, v [B, H, Tk, D] (one half dtype), recorded for autograd; null when
     * the backend has no fused attention for this configuration (nothing allocated is left).
     */
    static Attention forward(Heads q, Heads k, Heads v, boolean fused, int b, int h, int tq, int tk, int d,
                             Shape outShape, boolean causal, Tensor keyPaddingMask, float dropoutP, long seed) {
        Tensor any = q.tensor();
        Backend be = any.backend;
        if (!be.hasFusedAttention()) {
            return null;
        }
        DType dtype = any.dtype();
        FusedAttention config = new FusedAttention(dtype, b, h, tq, tk, d, causal, (float) (1 / Math.sqrt(d)),
                keyPaddingMask != null, dropoutP > 0);
        Dropout dropout = dropoutP > 0 ? new Dropout(any, Shape.of(b, h, tq, tk), dropoutP, seed) : null;
        Tensor[] inputs = fused ? new Tensor[] {any} : new Tensor[] {q.tensor(), k.tensor(), v.tensor()};
        boolean recorded = false;
        for (Tensor in : inputs) {
            recorded |= in.needsGrad();
        }
        recorded &= Autograd.isGradEnabled();
        Tensor out = Tensor.wrap(outShape, be, be.allocate(outShape.numel(), dtype));
        Tensor stats = any.empty(Shape.of(b, h, tq));                        // log-sum-exp per query, float32
        Heads outHeads = fused ? Heads.interleaved(out, 1, 0, h, d) : Heads.dense(out);
        boolean ran;
        try (Tensor mask = dropout == null ? null : dropout.mask()) {
            ran = be.fusedAttentionForward(config, q.batch(), k.batch(), v.batch(),
                    keyPaddingMask == null ? null : keyPaddingMask.dense(), mask == null ? null : mask.dense(),
                    outHeads.batch(), stats.dense(), recorded);
        } catch (RuntimeException e) {
            out.close();
            stats.close();
            throw e;
        }
        if (!ran) {
            out.close();
            stats.close();
            return null;
        }
        // Saved: the statistics, and handles on the output and the mask (the caller may close theirs first).
        Tensor savedOut = out.view(out.shape, null);
        Tensor savedMask = keyPaddingMask == null ? null
                : keyPaddingMask.view(keyPaddingMask.shape, keyPaddingMask.broadcast);  // keeps a broadcast layout
        List<Tensor> saved = new ArrayList<>(List.of(stats, savedOut));
        if (savedMask != null) {
            saved.add(savedMask);
        }
        Tensor result = record("attention", out, g -> {
            Tensor dOut = g.dtype() == dtype ? g : Conversions.to(g, dtype);
            try {
                backward(be, config, q, k, v, fused, savedOut, outHeads, dOut, stats, savedMask, dropout);
            } finally {
                if (dOut != g) {
                    dOut.close();
                }
            }
        }, saved, inputs);
        return new Attention(result, null);
    }

    /**
     * jdl's dropout mask for the probabilities [B, H, Tq, Tk]: 0 or 1 / (1 - p) from (seed, index), drawn by the
     * backend's {@link Backend#dropout} as the GEMM path draws it, so both drop the same probabilities. Drawn
     * again for the backward rather than kept (T² floats per head); inside a CUDA graph the backend offsets the
     * seed by the replay count for both draws alike.
     */
    private record Dropout(Tensor like, Shape shape, float p, long seed) {
        Tensor mask() {
            Tensor m = like.empty(shape);
            try (Tensor ones = like.filled(shape, 1f)) { // dropout's input and output (in place): only the mask stays
                like.backend.dropout(ones.dense(), ones.dense(), m.dense(), m.numel(), p, seed);
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
            return m;
        }
    }

    private static void backward(Backend be, FusedAttention config, Heads q, Heads k, Heads v, boolean fused,
                                 Tensor out, Heads outHeads, Tensor dOut, Tensor stats, Tensor mask, Dropout dropout) {
        try (Tensor dropMask = dropout == null ? null : dropout.mask()) {
            backward(be, config, q, k, v, fused, out, outHeads, dOut, stats, mask, dropMask);
        }
    }

    private static void backward(Backend be, FusedAttention config, Heads q, Heads k, Heads v, boolean fused,
                                 Tensor out, Heads outHeads, Tensor dOut, Tensor stats, Tensor mask, Tensor dropMask) {
        DType dtype = config.dtype();
        if (fused) {
            Tensor any = q.tensor();
            accumulate(any, () -> {
                Tensor dQkv = Tensor.wrap(any.shape, be, be.allocate(any.numel(), dtype));   // [B, T, 3, H, D]
                run(be, config, q, k, v, out, outHeads, dOut, stats, mask, dropMask, q.on(dQkv), k.on(dQkv), v.on(dQkv),
                        dQkv);
                return dQkv;
            });
            return;
        }
        Tensor dQ = Tensor.wrap(q.tensor().shape, be, be.allocate(q.tensor().numel(), dtype));
        Tensor dK = Tensor.wrap(k.tensor().shape, be, be.allocate(k.tensor().numel(), dtype));
        Tensor dV = Tensor.wrap(v.tensor().shape, be, be.allocate(v.tensor().numel(), dtype));
        try {
            run(be, config, q, k, v, out, outHeads, dOut, stats, mask, dropMask, q.on(dQ), k.on(dK), v.on(dV), null);
        } catch (RuntimeException e) {
            dQ.close();
            dK.close();
            dV.close();
            throw e;
        }
        accumulate(q.tensor(), dQ);
        accumulate(k.tensor(), dK);
        accumulate(v.tensor(), dV);
    }

    private static void run(Backend be, FusedAttention config, Heads q, Heads k, Heads v, Tensor out, Heads outHeads,
                            Tensor dOut, Tensor stats, Tensor mask, Tensor dropMask, MatrixBatch dq,
                            MatrixBatch dk, MatrixBatch dv, Tensor closeOnFailure) {
        boolean ran;
        try {
            ran = be.fusedAttentionBackward(config, q.batch(), k.batch(), v.batch(), mask == null ? null : mask.dense(),
                    dropMask == null ? null : dropMask.dense(), outHeads.on(out), outHeads.on(dOut), stats.dense(), dq,
                    dk, dv);
        } catch (RuntimeException e) {
            if (closeOnFailure != null) {
                closeOnFailure.close();
            }
            throw e;
        }
        if (!ran) {
            if (closeOnFailure != null) {
                closeOnFailure.close();
            }
            // The forward asked for both directions (withBackward) and the backend answers the same every time.
            throw new IllegalStateException("fused attention: the backend ran the forward of " + config
                    + " but declines its backward");
        }
    }
}
