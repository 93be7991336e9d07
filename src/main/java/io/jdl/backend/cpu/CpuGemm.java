package io.jdl.backend.cpu;

/**
 * The CPU backend's single-precision matrix-product kernel: row-major {@code C = op(A)·B} in the
 * "axpy" loop order (for each row i of C and each p, {@code C[i, :] += A[i, p]·B[p, :]}), four rows of C
 * at a time so each loaded row of B feeds four fused multiply-adds. The innermost loop walks contiguous
 * float arrays, which HotSpot's C2 compiler turns into SIMD code; no Vector API is needed.
 *
 * <p>Precision: products are accumulated in float32 along k. Callers that sum over long dimensions (the
 * weight gradient of a convolution sums over every image and pixel) call this per block and add the
 * block results in float64, so the float32 error stays that of one short block. The relative error of a
 * float32 dot product of length k is bounded by about k·2⁻²⁴ of the sum of |terms| and is typically far
 * smaller (random rounding grows like √k), well inside the 1e-4 that the GPU parity tests allow.
 */
final class CpuGemm {
    private CpuGemm() {
    }

    /**
     * {@code C[m×n] (+)= op(A)·B}. op(A) is A [m×k] with row stride lda, or, when {@code transA}, the
     * transpose of A [k×m] with row stride lda. B is [k×n] with row stride ldb, C [m×n] with row stride ldc.
     * Without {@code accumulate} C is overwritten.
     */
    static void gemm(boolean transA, int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                     float[] c, int cOff, int ldc, boolean accumulate) {
        if (!accumulate) {
            for (int i = 0; i < m; i++) {
                java.util.Arrays.fill(c, cOff + i * ldc, cOff + i * ldc + n, 0f);
            }
        }
        int i = 0;
        for (; i + 4 <= m; i += 4) {
            int c0 = cOff + i * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
            for (int p = 0; p < k; p++) {
                float a0, a1, a2, a3;
                if (transA) {
                    int at = aOff + p * lda + i;
                    a0 = a[at];
                    a1 = a[at + 1];
                    a2 = a[at + 2];
                    a3 = a[at + 3];
                } else {
                    int at = aOff + i * lda + p;
                    a0 = a[at];
                    a1 = a[at + lda];
                    a2 = a[at + 2 * lda];
                    a3 = a[at + 3 * lda];
                }
                int bRow = bOff + p * ldb;
                axpy4(n, a0, a1, a2, a3, b, bRow, c, c0, c1, c2, c3);
            }
        }
        for (; i < m; i++) {
            int cRow = cOff + i * ldc;
            for (int p = 0; p < k; p++) {
                float aip = transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                if (aip == 0) {
                    continue;
                }
                int bRow = bOff + p * ldb;
                for (int j = 0; j < n; j++) {
                    c[cRow + j] += aip * b[bRow + j];
                }
            }
        }
    }

    private static void axpy4(int n, float a0, float a1, float a2, float a3, float[] b, int bRow, float[] c, int c0,
                              int c1, int c2, int c3) {
        for (int j = 0; j < n; j++) {
            float bv = b[bRow + j];
            c[c0 + j] += a0 * bv;
            c[c1 + j] += a1 * bv;
            c[c2 + j] += a2 * bv;
            c[c3 + j] += a3 * bv;
        }
    }
}
