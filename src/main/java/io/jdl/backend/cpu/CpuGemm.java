package io.jdl.backend.cpu;

/**
 * The CPU backend's single-precision matrix-product kernel, on matrices held as arrays of rows
 * ({@code float[][]}): {@code c[i] = Σ_p A(i, p)·b[p]}, four rows of B per pass over a row of C.
 *
 * <p>Why rows: HotSpot's C2 compiler only turns {@code c[j] += a·b[j]} into SIMD code when it can see that
 * the store cannot feed a later load of the same loop. With one flat array and two offsets
 * ({@code c[cOff + j]}, {@code b[bOff + j]}) it cannot (the arrays might be the same), and the loop stays
 * scalar (~7 GFLOP/s per core here). With every row its own array indexed by the same {@code j}, even an
 * aliased row only reads and writes element j in iteration j, so the loop vectorises: ~30 GFLOP/s per core
 * on AVX-512, plain Java, no Vector API. Callers copy operands into row arrays; that is linear work next
 * to the cubic product.
 *
 * <p>Precision: products are accumulated in float32 along k (four products summed, then added to the row).
 * The relative error of a float32 sum of k terms is bounded by about k·2⁻²⁴ of the sum of |terms| and is
 * typically far smaller (it grows like √k); callers keep k short (one image of a convolution) and add
 * longer sums in float64.
 */
final class CpuGemm {
    private CpuGemm() {
    }

    /**
     * {@code c[i][0..n) = Σ_{p<k} A(i, p)·b[p][0..n)} for i below m, where {@code A(i, p) = a[aOff + i·ais + p·aps]}
     * (so a row-major A has ais = row stride and aps = 1, a transposed one the reverse). Rows of c are
     * overwritten; they must not be rows of b.
     */
    static void gemmRows(int m, int n, int k, float[] a, int aOff, int ais, int aps, float[][] b, float[][] c) {
        gemmRows(m, n, k, a, aOff, ais, aps, b, 0, c);
    }

    /** As {@link #gemmRows(int, int, int, float[], int, int, int, float[][], float[][])} with B's rows from b[bRow0]. */
    static void gemmRows(int m, int n, int k, float[] a, int aOff, int ais, int aps, float[][] b, int bRow0,
                         float[][] c) {
        for (int i = 0; i < m; i++) {
            float[] acc = c[i];
            java.util.Arrays.fill(acc, 0, n, 0f);
            int ai = aOff + i * ais, p = 0;
            for (; p + 4 <= k; p += 4) {
                int at = ai + p * aps;
                float a0 = a[at], a1 = a[at + aps], a2 = a[at + 2 * aps], a3 = a[at + 3 * aps];
                float[] b0 = b[bRow0 + p], b1 = b[bRow0 + p + 1], b2 = b[bRow0 + p + 2], b3 = b[bRow0 + p + 3];
                for (int j = 0; j < n; j++) {
                    acc[j] += (a0 * b0[j] + a1 * b1[j]) + (a2 * b2[j] + a3 * b3[j]);
                }
            }
            for (; p < k; p++) {
                float a0 = a[ai + p * aps];
                float[] b0 = b[bRow0 + p];
                for (int j = 0; j < n; j++) {
                    acc[j] += a0 * b0[j];
                }
            }
        }
    }
}
