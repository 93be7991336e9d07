package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import io.jdl.backend.MatrixBatch;
import java.util.Arrays;

/**
 * matmul over broadcast batch dimensions ({@code torch.matmul}'s [.., m, k]·[.., k, n]) with every operand read in
 * place: a batch dimension an operand lacks, has of size 1, or repeats as a broadcast view ({@link Tensor#expand})
 * is a batch stride of 0 in a {@link MatrixBatch}, which cuBLAS's strided-batched GEMM and the CPU backend accept
 * for A and B. So {@code [1, m, k]·[b, k, n]} or {@code x·w.expand(b, k, n)} allocate only their result. The
 * batch dimensions are merged to the two levels of a {@code MatrixBatch} where all three operands step through
 * them as through one; levels beyond two are looped over on the host (one backend call each). An operand whose
 * own matrices repeat (a view expanded along its last two dimensions) is materialised ({@link Tensor#dense()}).
 *
 * <p>Backward: each operand's gradient is a matmul of the output gradient with the other operand (again read in
 * place), summed over the batch dimensions the operand repeats ({@link Reshaping#sumTo}).
 */
final class BroadcastMatmul {
    private BroadcastMatmul() {
    }

    /** op(a)·op(b) over the batch {@code batch} (a's and b's batch dimensions broadcast to it); the result [batch.., m, n]. */
    static Tensor matmul(Tensor a, Tensor b, int[] batch, boolean transA, boolean transB) {
        int m = transA ? a.shape.dim(-1) : a.shape.dim(-2), k = transA ? a.shape.dim(-2) : a.shape.dim(-1);
        int n = transB ? b.shape.dim(-2) : b.shape.dim(-1);
        int[] outDims = Arrays.copyOf(batch, batch.length + 2);
        outDims[batch.length] = m;
        outDims[batch.length + 1] = n;
        // in the operands' dtype: half operands are multiplied as they are (float32 accumulation, rounded once)
        Tensor out = k == 0 ? Conversions.full(Shape.of(outDims), 0f, a.dtype(), a.device())
                : Conversions.empty(a, Shape.of(outDims), a.dtype());
        if (out.numel() > 0 && k > 0) {
            run(a, b, out, transA, transB, m, n, k);
        }
        return record("matmul", out, g -> {
            // C = op(A)·op(B): dop(A) = dC·op(B)ᵀ, dop(B) = op(A)ᵀ·dC, transposed back where A or B was, then
            // summed over the batch dimensions the operand repeats.
            accumulate(a, () -> summed(transA ? b.matmul(g, transB, true) : g.matmul(b, false, !transB), a.shape));
            accumulate(b, () -> summed(transB ? g.matmul(a, true, transA) : a.matmul(g, !transA, false), b.shape));
        }, a, b);
    }

    /**
     * t summed to {@code shape} (t is closed), or t itself when it has that shape; a half t is summed in float32 and
     * rounded once (each product was rounded already: the sum of rounded products).
     */
    private static Tensor summed(Tensor t, Shape shape) {
        if (t.shape.equals(shape)) {
            return t;
        }
        try (t) {
            return Reshaping.sumTo(t, shape, t.dtype());
        }
    }

    /** One operand as the GEMM reads it: its storage and its element strides at the output's rank. */
    private record Operand(io.jdl.backend.Storage storage, long[] strides) {
        /** t at {@code rank} dimensions: stride 0 along the batch dimensions it lacks or has of size 1. */
        static Operand of(Tensor t, int rank) {
            int r = t.shape.rank();
            long[] ts = t.strides();
            // A matrix must be rows of adjacent elements: a view repeating a matrix dimension is materialised.
            boolean inPlace = (ts[r - 1] == 1 || t.shape.dim(-1) == 1) && (ts[r - 2] != 0 || t.shape.dim(-2) == 1);
            if (!inPlace) {
                ts = BroadcastView.denseStrides(t.shape.dims());
            }
            long[] s = new long[rank];
            for (int i = 0; i < r; i++) {
                s[rank - r + i] = i < r - 2 && t.shape.dim(i) == 1 ? 0 : ts[i];
            }
            return new Operand(inPlace ? t.memory() : t.dense(), s);
        }

        /** Rows of {@code cols} elements apart by the matrix stride; any value >= cols for a single row. */
        int rowStride(int cols) {
            long s = strides[strides.length - 2];
            return Math.toIntExact(s == 0 ? Math.max(1, cols) : s);
        }
    }

    /** C [batch.., m, n] (dense) = op(A)·op(B), k >= 1, m·n·Π batch > 0. */
    private static void run(Tensor a, Tensor b, Tensor c, boolean transA, boolean transB, int m, int n, int k) {
        int rank = c.shape.rank(), nb = rank - 2;
        Operand oa = Operand.of(a, rank), ob = Operand.of(b, rank), oc = Operand.of(c, rank);
        int[] dims = c.shape.dims();
        // Merge the batch dimensions, outermost first, dropping size-1 ones: two adjacent ones become one where
        // every operand's outer stride is its inner stride times the inner size (contiguous, or 0 in both).
        int[] size = new int[nb];
        long[][] stride = new long[3][nb];
        Operand[] ops = {oa, ob, oc};
        int levels = 0;
        for (int d = 0; d < nb; d++) {
            if (dims[d] == 1) {
                continue;
            }
            boolean merge = levels > 0;
            for (int o = 0; o < 3 && merge; o++) {
                merge = stride[o][levels - 1] == ops[o].strides[d] * dims[d];
            }
            if (merge) {
                size[levels - 1] *= dims[d];
            } else {
                size[levels++] = dims[d];
            }
            for (int o = 0; o < 3; o++) {
                stride[o][levels - 1] = ops[o].strides[d];
            }
        }
        int colsA = transA ? m : k, colsB = transB ? k : n;  // as stored
        // The two innermost levels are the MatrixBatch's outer and inner; any others are looped over here.
        int outer = levels >= 2 ? size[levels - 2] : 1, inner = levels >= 1 ? size[levels - 1] : 1;
        int looped = Math.max(0, levels - 2);
        long calls = 1;
        for (int l = 0; l < looped; l++) {
            calls *= size[l];
        }
        long[] offset = new long[3];
        for (long call = 0; call < calls; call++) {
            long rest = call;
            Arrays.fill(offset, 0);
            for (int l = looped - 1; l >= 0; l--) {
                long index = rest % size[l];
                rest /= size[l];
                for (int o = 0; o < 3; o++) {
                    offset[o] += index * stride[o][l];
                }
            }
            a.backend.matmul(transA, transB, outer, inner, m, n, k,
                    batch(oa, offset[0], stride[0], levels, colsA), batch(ob, offset[1], stride[1], levels, colsB),
                    batch(oc, offset[2], stride[2], levels, n));
        }
    }

    /** The operand's matrices at {@code offset}, the two innermost merged levels as outer and inner. */
    private static MatrixBatch batch(Operand op, long offset, long[] stride, int levels, int cols) {
        long outerStride = levels >= 2 ? stride[levels - 2] : 0, innerStride = levels >= 1 ? stride[levels - 1] : 0;
        return new MatrixBatch(op.storage, offset, op.rowStride(cols), outerStride, innerStride);
    }
}
