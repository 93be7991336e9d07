package io.jdl.backend.cuda;

import io.jdl.backend.MatrixBatch;
import io.jdl.cublas.Cublas;
import io.jdl.cuda.DeviceMemory;

/**
 * The CUDA backend's matrix products on cuBLAS: packed batches (one {@code cublasSgemmStridedBatched}) and
 * two-level strided batches ({@link MatrixBatch}). {@code cublasSgemmStridedBatched} takes one batch stride
 * per operand, so a two-level batch takes one call per matrix of the level that is not batched. The batched
 * level is the larger one whose C matrices are disjoint address ranges (a batch's outputs must not overlap),
 * else every product is its own call. For attention over [B, T, H, D] the heads' outputs interleave within a
 * row, so the B sequences are batched and the H heads looped over (H calls per product, where the packed
 * [B, H, T, D] layout took one; the copies it needed cost more).
 */
final class CublasMatmul {
    private CublasMatmul() {
    }

    /** {@code batch} packed products (see {@code Backend.matmul}); k = 0 gives zeros. */
    static void packed(Cublas cublas, CudaElementwise elementwise, boolean transA, boolean transB, int batch, int m, int n,
                       int k, DeviceMemory a, DeviceMemory b, DeviceMemory c) {
        if ((long) batch * m * n == 0) {
            return;
        }
        if (k == 0) {
            elementwise.fill(c, (long) batch * m * n, 0f);
            return;
        }
        cublas.gemmStridedBatched(transA, transB, m, n, k, 1f, a, (long) m * k, b, (long) k * n, 0f, c, (long) m * n,
                batch);
    }

    /** The two-level strided products; {@code ma}, {@code mb}, {@code mc} are the blocks of a's, b's, c's storage. */
    static void strided(Cublas cublas, boolean transA, boolean transB, int outer, int inner, int m, int n, int k,
                        MatrixBatch a, DeviceMemory ma, MatrixBatch b, DeviceMemory mb, MatrixBatch c,
                        DeviceMemory mc) {
        if ((long) outer * inner * m * n == 0) {
            return;
        }
        if (k < 1) {
            throw new IllegalArgumentException("strided matmul needs an inner dimension k >= 1, got " + k);
        }
        long span = (long) (m - 1) * c.rowStride() + n;
        boolean outerOk = outer == 1 || c.outerStride() >= span, innerOk = inner == 1 || c.innerStride() >= span;
        boolean batchOuter = outerOk && (!innerOk || outer >= inner);
        int batch = batchOuter ? outer : innerOk ? inner : 1, calls = outer * inner / batch;
        for (int j = 0; j < calls; j++) {
            // call j covers matrix j of the looped level (or product j of all when nothing is batched)
            int o = batchOuter ? 0 : innerOk ? j : j / inner, i = batchOuter ? j : innerOk ? 0 : j % inner;
            cublas.gemmStridedBatched(transA, transB, m, n, k, 1f,
                    ma, at(a, o, i), a.rowStride(), stride(a, batchOuter),
                    mb, at(b, o, i), b.rowStride(), stride(b, batchOuter), 0f,
                    mc, at(c, o, i), c.rowStride(), stride(c, batchOuter), batch);
        }
    }

    private static long at(MatrixBatch x, int o, int i) {
        return x.offset() + o * x.outerStride() + i * x.innerStride();
    }

    private static long stride(MatrixBatch x, boolean outer) {
        return outer ? x.outerStride() : x.innerStride();
    }
}
