package io.jdl.backend.cpu;


/**
 * The CPU backend's (batched) matrix product {@code C = op(A)·op(B)} on {@link CpuGemm}'s vectorised row
 * kernel. B is first copied into row arrays (transposed when {@code transB}), then rows of C are computed
 * in parallel chunks.
 *
 * <p>Precision: k is cut into blocks of {@value #K_BLOCK}; each block's products are accumulated in
 * float32 and the block sums added in float64. So the float32 rounding is that of at most
 * {@value #K_BLOCK} terms (relative error typically ~1e-7·√256, bounded by 256·2⁻²⁴ of Σ|terms|), while
 * long reductions such as a weight gradient over a large batch keep float64 accuracy between blocks.
 */
final class CpuMatmul {
    static final int K_BLOCK = 256;

    /** Rows of C per task. */
    private static final int ROW_TILE = 16;

    private CpuMatmul() {
    }

    static void matmul(boolean transA, boolean transB, int batch, int m, int n, int k, float[] a, float[] b, float[] c) {
        matmul(transA, transB, 1, batch, m, n, k, a, 0, transA ? m : k, 0, (long) m * k, b, 0, transB ? k : n, 0,
                (long) k * n, c, 0, n, 0, (long) m * n);
    }

    /**
     * C(o, i) = op(A(o, i))·op(B(o, i)) over a two-level batch, matrix (o, i) of X starting at
     * xOff + o·xOuter + i·xInner with rows ldx apart (see {@code MatrixBatch}); the caller checked the bounds.
     * The arithmetic, and so every bit of the result, does not depend on where the matrices lie.
     */
    static void matmul(boolean transA, boolean transB, int outer, int inner, int m, int n, int k,
                       float[] a, long aOff, int lda, long aOuter, long aInner,
                       float[] b, long bOff, int ldb, long bOuter, long bInner,
                       float[] c, long cOff, int ldc, long cOuter, long cInner) {
        int batch = Math.multiplyExact(outer, inner);
        long work = (long) batch * m * n * k;
        float[][][] bRows = new float[batch][k][];
        CpuParallel.forEach(batch * k, work, bp -> {
            int bi = bp / k, p = bp % k;
            int bAt = Math.toIntExact(bOff + bi / inner * bOuter + bi % inner * bInner);
            float[] row = new float[n];
            if (transB) {
                for (int j = 0; j < n; j++) {
                    row[j] = b[bAt + j * ldb + p];
                }
            } else {
                System.arraycopy(b, bAt + p * ldb, row, 0, n);
            }
            bRows[bi][p] = row;
        });
        // Tasks: tiles of up to ROW_TILE rows of one product, so a k-block of B is reused from cache by every row.
        int tiles = (m + ROW_TILE - 1) / ROW_TILE, ais = transA ? 1 : lda, aps = transA ? lda : 1;
        CpuParallel.forEach(batch * tiles, work, t -> {
            int bi = t / tiles, i0 = t % tiles * ROW_TILE, mt = Math.min(ROW_TILE, m - i0);
            int aAt = Math.toIntExact(aOff + bi / inner * aOuter + bi % inner * aInner) + i0 * ais;
            int cAt = Math.toIntExact(cOff + bi / inner * cOuter + bi % inner * cInner) + i0 * ldc;
            float[][] block = new float[mt][n];
            if (k <= K_BLOCK) {
                CpuGemm.gemmRows(mt, n, k, a, aAt, ais, aps, bRows[bi], 0, block);
                for (int i = 0; i < mt; i++) {
                    System.arraycopy(block[i], 0, c, cAt + i * ldc, n);
                }
                return;
            }
            double[][] acc = new double[mt][n];
            for (int p0 = 0; p0 < k; p0 += K_BLOCK) {
                CpuGemm.gemmRows(mt, n, Math.min(K_BLOCK, k - p0), a, aAt + p0 * aps, ais, aps, bRows[bi], p0, block);
                for (int i = 0; i < mt; i++) {
                    double[] accRow = acc[i];
                    float[] part = block[i];
                    for (int j = 0; j < n; j++) {
                        accRow[j] += part[j];
                    }
                }
            }
            for (int i = 0; i < mt; i++) {
                for (int j = 0; j < n; j++) {
                    c[cAt + i * ldc + j] = (float) acc[i][j];
                }
            }
        });
    }
}
