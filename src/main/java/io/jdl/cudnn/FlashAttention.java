package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

import io.jdl.cuda.DeviceMemory;
import io.jdl.cudnn.GraphBuilder.Tensor;
import java.util.Objects;

/**
 * cuDNN's fused (flash) scaled-dot-product attention, built as backend operation graphs the way the cuDNN
 * frontend's SDPA nodes lower it (cudnn-frontend {@code scaled_dot_product_flash_attention.h}), for what jdl
 * needs: optionally causal (top-left diagonal: query i sees keys 0..i), optionally a key bias (jdl's key
 * padding mask as an additive bias, the frontend's {@code set_bias}, with no bias gradient), optionally a
 * dropout mask given as a tensor (the frontend's {@code set_dropout(mask, scale)}), so that the GPU drops
 * exactly what jdl's GEMM attention drops for the same seed.
 *
 * <p>Layouts: Q, O and their gradients are [B, H, Tq, D], K, V and theirs [B, H, Tk, D] (T below where Tq and
 * Tk need not be told apart; cross-attention has Tq != Tk), of one 16-bit {@link CudnnDataType} with any
 * batch, head and row strides ({@link Layout}; the head dimension's stride is 1): packed [B, H, T, D], or
 * straight inside a fused projection [B, T, 3, H, D] (cuDNN's "interleaved" layout), O in [B, T, H, D]. The
 * softmax statistics (log-sum-exp of each scaled, masked score row, what the backward pass needs) are
 * [B, H, Tq, 1] float32, the bias [B, 1, Tq, Tk] in the I/O type. Everything inside computes in float32.
 *
 * <p>Forward graph (ids in brackets; v = virtual, f = float32):
 * <pre>
 *   S   = matmul(Q[1], Kᵀ[2])                 [B,H,Tq,Tk] v f   (Kᵀ: K's memory as [B,H,D,Tk])
 *   S1  = S · scale[6]                                      (scale by value)
 *   (bias)   S1 = S1 + bias[15]                [B,1,Tq,Tk] broadcast over heads
 *   (causal) r = gen_index(S1, axis 2), c = gen_index(S1, axis 3)   int32
 *            m = r ≥ c (bool); S1 = select(S1, -inf[7], m)  (-FLT_MAX before cuDNN 9.10, as the frontend)
 *   M   = reduce_max(S1)                       [B,H,Tq,1] v f
 *   E   = exp(S1 - M)
 *   Z   = reduce_add(E)                        [B,H,Tq,1] v f
 *   Stats[5] = M + log(Z)                      [B,H,Tq,1] f
 *   P   = E / Z                                [B,H,Tq,Tk] v, Q's data type (float32 before the dropout)
 *   (dropout) P = P · mask[16]                 [B,H,Tq,Tk] f mask, P in Q's data type
 *   O[4] = matmul(P, V[3])
 * </pre>
 * Backward graph (the frontend's non-workspace variant: dQ accumulates in float32):
 * <pre>
 *   Δ[12] = reduce_add(dO[8] · O[4]) · 1[14]   [B,H,Tq,1] f, in jdl's part of the workspace
 *   S   = matmul(Q, Kᵀ) · scale;  (bias) S = S + bias[15];  S = S - Stats[5];  (causal) S = select(S, -inf, r ≥ c)
 *   P   = exp(S)                                           (the forward's probabilities again)
 *   dV[11] = matmul(reshape(P (· mask))ᵀ as Q's type, dO)
 *   dP  = matmul(dO, Vᵀ[3])  (· mask)         (Vᵀ: V's memory as [B,H,D,Tk])
 *   dS  = (dP - Δ) · P · scale
 *   dK[10] = matmul(reshape(dS)ᵀ as Q's type, Q)
 *   dQacc[13] = matmul(dS, reshape(Kᵀ) = K)    [B,H,Tq,D] f, in jdl's part of the workspace
 *   dQ[9] = identity(dQacc)
 * </pre>
 * cuDNN decides whether an engine runs such a graph on this GPU (per NVIDIA: compute capability 8.0 or newer,
 * head dim a multiple of 8 and at most 128 on Ampere, 256 on Hopper); when none does, {@link #plan} says so with
 * {@link Build.Unsupported} and the caller falls back to its GEMM attention.
 */
public final class FlashAttention {
    static final long Q = 1, K = 2, V = 3, O = 4, STATS = 5, SCALE = 6, NEG_INF = 7, D_O = 8, D_Q = 9, D_K = 10,
            D_V = 11, SOFTMAX_SUM = 12, D_Q_ACCUM = 13, ONE = 14, BIAS = 15, DROPOUT_MASK = 16;

    /**
     * Where the T × D matrices of one [B, H, T, D] operand lie, in elements: head (b, h) row i starts at
     * {@code b·batch + h·head + i·row}; its D elements are contiguous.
     */
    public record Layout(long batch, long head, long row) {
        public Layout {
            if (batch < 0 || head < 0 || row < 1) {
                throw new IllegalArgumentException("flash attention layout strides must be >= 0 (row >= 1): batch "
                        + batch + ", head " + head + ", row " + row);
            }
        }

        /** Packed [B, H, T, D]. */
        public static Layout packed(int heads, int seqLen, int headDim) {
            return new Layout((long) heads * seqLen * headDim, (long) seqLen * headDim, headDim);
        }

        long[] strides() {
            return new long[] {batch, head, row, 1};
        }

        /** One past the last element of a [B, H, seq, D] operand in this layout. */
        long span(Config c, int seq) {
            return (c.batch() - 1L) * batch + (c.heads() - 1L) * head + (seq - 1L) * row + c.headDim();
        }
    }

    /**
     * What is masked and scaled, the shape and the operands' layouts (dO, dQ, dK, dV take O's, Q's, K's and V's);
     * a plan's cache key. {@code keyBias}: the graph adds a [B, 1, Tq, Tk] bias to the scaled scores;
     * {@code dropoutMask}: it multiplies the probabilities by a float32 [B, H, Tq, Tk] mask (0 drops, 1 / (1 - p)
     * keeps: the frontend's {@code set_dropout(mask, scale)} with the scale folded into the mask).
     */
    public record Config(CudnnDataType type, int batch, int heads, int seqQ, int seqKV, int headDim, boolean causal, float scale,
                         boolean keyBias, boolean dropoutMask, Layout q, Layout k, Layout v, Layout o) {
        public Config {
            Objects.requireNonNull(type, "type");
            if (batch <= 0 || heads <= 0 || seqQ <= 0 || seqKV <= 0 || headDim <= 0) {
                throw new IllegalArgumentException("flash attention dimensions must be positive: batch " + batch
                        + ", heads " + heads + ", seqQ " + seqQ + ", seqKV " + seqKV + ", headDim " + headDim);
            }
            if (!Float.isFinite(scale)) {
                throw new IllegalArgumentException("flash attention scale must be finite, got " + scale);
            }
            for (Layout l : new Layout[] {q, k, v, o}) {
                Objects.requireNonNull(l, "layout");
                if (l.row() < headDim) {
                    throw new IllegalArgumentException("flash attention rows of " + headDim + " elements cannot be "
                            + l.row() + " apart (" + l + ")");
                }
            }
        }

        /** Self-attention (as many keys as queries), packed operands, no bias, the usual scale 1/√headDim. */
        public static Config of(CudnnDataType type, int batch, int heads, int seqLen, int headDim, boolean causal) {
            return of(type, batch, heads, seqLen, seqLen, headDim, causal);
        }

        /** {@code seqQ} queries attending over {@code seqKV} keys, packed operands, no bias, scale 1/√headDim. */
        public static Config of(CudnnDataType type, int batch, int heads, int seqQ, int seqKV, int headDim,
                                boolean causal) {
            Layout queries = Layout.packed(heads, seqQ, headDim), keys = Layout.packed(heads, seqKV, headDim);
            return new Config(type, batch, heads, seqQ, seqKV, headDim, causal, (float) (1 / Math.sqrt(headDim)),
                    false, false, queries, keys, keys, queries);
        }

        /** Q, O and their gradients: [B, H, Tq, D]. */
        long[] queryDims() {
            return new long[] {batch, heads, seqQ, headDim};
        }

        /** K, V and their gradients: [B, H, Tk, D]. */
        long[] keyDims() {
            return new long[] {batch, heads, seqKV, headDim};
        }

        /** Scores and probabilities: [B, H, Tq, Tk]. */
        long[] scoreDims() {
            return new long[] {batch, heads, seqQ, seqKV};
        }

        /** One value per query (statistics): [B, H, Tq, 1]. */
        long[] rowDims() {
            return new long[] {batch, heads, seqQ, 1};
        }

        long[] biasDims() {
            return new long[] {batch, 1, seqQ, seqKV};
        }

        /** Elements of one packed [B, H, Tq, D] operand (Q's, the float32 dQ accumulator's). */
        long elements() {
            return (long) batch * heads * seqQ * headDim;
        }

        /** Query rows: B·H·Tq. */
        long rows() {
            return (long) batch * heads * seqQ;
        }
    }

    /** One operand: its device block and where (in elements) its [B, H, T, D] view starts inside. */
    public record Operand(DeviceMemory memory, long offset) {
        public Operand {
            if (offset < 0) {
                throw new IllegalArgumentException("flash attention operand offset must be >= 0, got " + offset);
            }
        }

        /** The operand that starts at the block's first byte. */
        public static Operand of(DeviceMemory memory) {
            return new Operand(memory, 0);
        }
    }

    public enum Direction { FORWARD, BACKWARD }

    /** A plan, or why cuDNN will not run the graph here (the caller falls back). */
    public sealed interface Build permits Build.Ready, Build.Unsupported {
        record Ready(FlashAttentionPlan plan) implements Build {}

        record Unsupported(String reason) implements Build {}
    }

    private FlashAttention() {}

    /**
     * Builds the graph for {@code config} and {@code direction} and asks cuDNN's heuristics for an engine that
     * runs it. Throws {@link CudnnException} for a malformed graph (a jdl bug); answers {@link Build.Unsupported}
     * when cuDNN declines it (NOT_SUPPORTED from the graph, the heuristics or every engine configuration).
     */
    public static Build plan(Cudnn cudnn, Config config, Direction direction) {
        GraphBuilder g = new GraphBuilder();
        try {
            if (direction == Direction.FORWARD) {
                forwardGraph(g, config);
            } else {
                backwardGraph(g, config);
            }
            return FlashAttentionPlan.select(cudnn, config, direction, g);
        } catch (RuntimeException e) {
            g.close();
            throw e;
        }
    }

    /** scale · Q Kᵀ [B, H, Tq, Tk] in float32. */
    private static Tensor scaledScores(GraphBuilder g, Config c, Tensor q, Tensor kT, Tensor scale) {
        Tensor s = g.virtual(CUDNN_DATA_FLOAT(), c.scoreDims());
        g.matmul(q, kT, s);
        Tensor scaled = g.virtual(CUDNN_DATA_FLOAT(), c.scoreDims());
        g.pointwise(CUDNN_POINTWISE_MUL(), "scale", scaled, -1, s, scale);
        return scaled;
    }

    /** (causal) scores = select(scores, -inf, row ≥ column). */
    private static Tensor causalMask(GraphBuilder g, Config c, Tensor scores, Tensor negInf) {
        int i32 = CUDNN_DATA_INT32();
        Tensor row = g.virtual(i32, c.scoreDims()), col = g.virtual(i32, c.scoreDims());
        g.pointwise(CUDNN_POINTWISE_GEN_INDEX(), "row index", row, 2, scores);
        g.pointwise(CUDNN_POINTWISE_GEN_INDEX(), "column index", col, 3, scores);
        Tensor keep = g.virtual(CUDNN_DATA_BOOLEAN(), c.scoreDims());
        g.pointwise(CUDNN_POINTWISE_CMP_GE(), "row >= column", keep, -1, row, col);
        Tensor masked = g.virtual(CUDNN_DATA_FLOAT(), c.scoreDims());
        g.pointwise(CUDNN_POINTWISE_BINARY_SELECT(), "causal select", masked, -1, scores, negInf, keep);
        return masked;
    }

    /** (keyBias) scores + bias, the bias [B, 1, Tq, Tk] broadcast over the heads. */
    private static Tensor withBias(GraphBuilder g, Config c, Tensor scores) {
        if (!c.keyBias()) {
            return scores;
        }
        Tensor bias = g.input(BIAS, c.type().code(), c.biasDims(), GraphBuilder.packed(c.biasDims()));
        Tensor biased = g.virtual(CUDNN_DATA_FLOAT(), c.scoreDims());
        g.pointwise(CUDNN_POINTWISE_ADD(), "bias", biased, -1, scores, bias);
        return biased;
    }

    /** The dropout mask [B, H, Tq, Tk] float32, a device input. */
    private static Tensor dropoutMask(GraphBuilder g, Config c) {
        return g.input(DROPOUT_MASK, CUDNN_DATA_FLOAT(), c.scoreDims(), GraphBuilder.packed(c.scoreDims()));
    }

    private static void forwardGraph(GraphBuilder g, Config c) {
        int io = c.type().code(), f = CUDNN_DATA_FLOAT();
        long[] queries = c.queryDims(), keys = c.keyDims();
        Tensor q = g.input(Q, io, queries, c.q().strides());
        Tensor kT = g.input(K, io, GraphBuilder.swapLast(keys), GraphBuilder.swapLast(c.k().strides()));
        Tensor v = g.input(V, io, keys, c.v().strides());
        Tensor o = g.input(O, io, queries, c.o().strides());
        Tensor stats = g.input(STATS, f, c.rowDims(), GraphBuilder.packed(c.rowDims()));
        Tensor scale = g.scalar(SCALE);

        Tensor scaled = withBias(g, c, scaledScores(g, c, q, kT, scale));
        if (c.causal()) {
            scaled = causalMask(g, c, scaled, g.scalar(NEG_INF));
        }
        Tensor max = g.virtual(f, c.rowDims());
        g.reduction(CUDNN_REDUCE_TENSOR_MAX(), "row max", scaled, max);
        Tensor shifted = g.virtual(f, c.scoreDims());
        g.pointwise(CUDNN_POINTWISE_SUB(), "minus max", shifted, -1, scaled, max);
        Tensor exp = g.virtual(f, c.scoreDims());
        g.pointwise(CUDNN_POINTWISE_EXP(), "exp", exp, -1, shifted);
        Tensor sum = g.virtual(f, c.rowDims());
        g.reduction(CUDNN_REDUCE_TENSOR_ADD(), "row sum", exp, sum);
        Tensor logSum = g.virtual(f, c.rowDims());
        g.pointwise(CUDNN_POINTWISE_LOG(), "log sum", logSum, -1, sum);
        g.pointwise(CUDNN_POINTWISE_ADD(), "stats", stats, -1, max, logSum);
        // The probabilities enter the second product in the I/O type, as cuDNN requires of that matmul's A.
        Tensor p = g.virtual(c.dropoutMask() ? f : io, c.scoreDims());
        g.pointwise(CUDNN_POINTWISE_DIV(), "softmax", p, -1, exp, sum);
        if (c.dropoutMask()) {
            Tensor dropped = g.virtual(io, c.scoreDims());
            g.pointwise(CUDNN_POINTWISE_MUL(), "dropout", dropped, -1, p, dropoutMask(g, c));
            p = dropped;
        }
        g.matmul(p, v, o);
    }

    private static void backwardGraph(GraphBuilder g, Config c) {
        int io = c.type().code(), f = CUDNN_DATA_FLOAT();
        long[] queries = c.queryDims(), keys = c.keyDims();
        // Pᵀ and dSᵀ [B, H, Tk, Tq]: the scores' memory read transposed
        long[] bhtt = c.scoreDims(), transposed = GraphBuilder.swapLast(bhtt),
                transposedStrides = GraphBuilder.swapLast(GraphBuilder.packed(bhtt));
        Tensor q = g.input(Q, io, queries, c.q().strides());
        Tensor kT = g.input(K, io, GraphBuilder.swapLast(keys), GraphBuilder.swapLast(c.k().strides()));
        Tensor vT = g.input(V, io, GraphBuilder.swapLast(keys), GraphBuilder.swapLast(c.v().strides()));
        Tensor o = g.input(O, io, queries, c.o().strides());
        Tensor dO = g.input(D_O, io, queries, c.o().strides());
        Tensor stats = g.input(STATS, f, c.rowDims(), GraphBuilder.packed(c.rowDims()));
        Tensor dQ = g.input(D_Q, io, queries, c.q().strides());
        Tensor dK = g.input(D_K, io, keys, c.k().strides());
        Tensor dV = g.input(D_V, io, keys, c.v().strides());
        Tensor softmaxSum = g.input(SOFTMAX_SUM, f, c.rowDims(), GraphBuilder.packed(c.rowDims()));
        Tensor dQAccum = g.input(D_Q_ACCUM, f, queries, GraphBuilder.packed(queries));
        Tensor scale = g.scalar(SCALE);

        // Δ = rowsum(dO · O): softmax's backward term, the same for every key.
        Tensor dOO = g.virtual(f, queries);
        g.pointwise(CUDNN_POINTWISE_MUL(), "dO * O", dOO, -1, dO, o);
        Tensor rowSum = g.virtual(f, c.rowDims());
        g.reduction(CUDNN_REDUCE_TENSOR_ADD(), "rowsum dO * O", dOO, rowSum);
        g.pointwise(CUDNN_POINTWISE_MUL(), "softmax sum", softmaxSum, -1, rowSum, g.scalar(ONE));

        // P again from the saved statistics: exp(scale · Q Kᵀ (+ bias) - logsumexp).
        Tensor scaled = withBias(g, c, scaledScores(g, c, q, kT, scale));
        Tensor shifted = g.virtual(f, bhtt);
        g.pointwise(CUDNN_POINTWISE_SUB(), "minus stats", shifted, -1, scaled, stats);
        if (c.causal()) {
            shifted = causalMask(g, c, shifted, g.scalar(NEG_INF));
        }
        Tensor p = g.virtual(f, bhtt);
        g.pointwise(CUDNN_POINTWISE_EXP(), "probabilities", p, -1, shifted);

        // dV = (P · mask)ᵀ dO
        Tensor mask = c.dropoutMask() ? dropoutMask(g, c) : null;
        Tensor kept = p;
        if (mask != null) {
            kept = g.virtual(f, bhtt);
            g.pointwise(CUDNN_POINTWISE_MUL(), "dropout", kept, -1, p, mask);
        }
        Tensor pT = g.virtual(io, transposed, transposedStrides);
        g.reshape(kept, pT);
        g.matmul(pT, dO, dV);

        // dS = P · (dO Vᵀ · mask - Δ) · scale
        Tensor dP = g.virtual(f, bhtt);
        g.matmul(dO, vT, dP);
        if (mask != null) {
            Tensor dPKept = g.virtual(f, bhtt);
            g.pointwise(CUDNN_POINTWISE_MUL(), "dropout backward", dPKept, -1, dP, mask);
            dP = dPKept;
        }
        Tensor centred = g.virtual(f, bhtt);
        g.pointwise(CUDNN_POINTWISE_SUB(), "dP - sum", centred, -1, dP, softmaxSum);
        Tensor dS0 = g.virtual(f, bhtt);
        g.pointwise(CUDNN_POINTWISE_MUL(), "times P", dS0, -1, centred, p);
        Tensor dS = g.virtual(f, bhtt);
        g.pointwise(CUDNN_POINTWISE_MUL(), "dS scale", dS, -1, dS0, scale);

        // dK = dSᵀ Q
        Tensor dST = g.virtual(io, transposed, transposedStrides);
        g.reshape(dS, dST);
        g.matmul(dST, q, dK);

        // dQ = dS K, accumulated in float32, then converted
        Tensor k = g.virtual(io, keys, c.k().strides());
        g.reshape(kT, k);
        g.matmul(dS, k, dQAccum);
        g.pointwise(CUDNN_POINTWISE_IDENTITY(), "dQ", dQ, -1, dQAccum);
    }
}
