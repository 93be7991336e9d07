package io.jdl.cpunative;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** oneDNN's sgemm on heap arrays: values against a plain triple loop, the elements between C's rows kept. */
class OneDnnGemmTest {
    private static float[] random(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    /** C = op(A)·op(B) in double, the same layouts as {@link OneDnnGemm#sgemm}. */
    private static double reference(boolean tA, boolean tB, int k, float[] a, int aOff, int lda, float[] b, int bOff,
                                    int ldb, int i, int j) {
        double s = 0;
        for (int p = 0; p < k; p++) {
            s += (double) a[aOff + (tA ? p * lda + i : i * lda + p)] * b[bOff + (tB ? j * ldb + p : p * ldb + j)];
        }
        return s;
    }

    @Test
    void matchesATripleLoopWithOffsetsStridesAndTransposesAndKeepsTheGapsOfC() {
        Random r = new Random(7);
        int m = 13, n = 9, k = 21, pad = 3;
        for (boolean tA : new boolean[] {false, true}) {
            for (boolean tB : new boolean[] {false, true}) {
                int lda = (tA ? m : k) + pad, ldb = (tB ? k : n) + pad, ldc = n + pad, aOff = 5, bOff = 2, cOff = 4;
                float[] a = random(r, aOff + (tA ? k : m) * lda), b = random(r, bOff + (tB ? n : k) * ldb);
                float[] c = random(r, cOff + m * ldc + 1), before = c.clone();
                OneDnnGemm.sgemm(tA, tB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
                for (int idx = 0; idx < c.length; idx++) {
                    int rel = idx - cOff, i = Math.floorDiv(rel, ldc), j = Math.floorMod(rel, ldc);
                    if (rel >= 0 && i < m && j < n) {
                        double want = reference(tA, tB, k, a, aOff, lda, b, bOff, ldb, i, j);
                        assertEquals(want, c[idx], 1e-4 * Math.sqrt(k) * 4, "C[" + i + "," + j + "] tA=" + tA + " tB=" + tB);
                    } else {
                        assertEquals(before[idx], c[idx], "element " + idx + " outside C's m×n must be kept");
                    }
                }
            }
        }
    }

    @Test
    void anEmptyInnerDimensionGivesZeros() {
        float[] c = {1, 2, 3, 4, 5, 6};
        OneDnnGemm.sgemm(false, false, 2, 3, 0, new float[0], 0, 1, new float[0], 0, 3, c, 0, 3);
        for (float v : c) {
            assertEquals(0f, v);
        }
    }
}
