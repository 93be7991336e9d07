package io.jdl.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link CpuMatmul} against float64 loops: every transpose combination, batches, k across block edges. */
class CpuMatmulTest {

    @Test
    void matchesFloat64Loops() {
        Random rng = new Random(5);
        int[][] sizes = {{1, 1, 1, 1}, {2, 5, 7, 3}, {3, 17, 33, 257}, {1, 40, 9, 600}, {1, 130, 70, 90}, {4, 1, 3, 1}};
        for (int[] z : sizes) {
            int batch = z[0], m = z[1], n = z[2], k = z[3];
            float[] a = new float[batch * m * k], b = new float[batch * k * n];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) rng.nextGaussian();
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = (float) rng.nextGaussian();
            }
            for (int t = 0; t < 4; t++) {
                boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
                float[] c = new float[batch * m * n];
                CpuMatmul.matmul(ta, tb, batch, m, n, k, a, b, c);
                for (int bi = 0; bi < batch; bi++) {
                    for (int i = 0; i < m; i++) {
                        for (int j = 0; j < n; j++) {
                            double want = 0, mag = 0;
                            for (int p = 0; p < k; p++) {
                                double term = (double) a[bi * m * k + (ta ? p * m + i : i * k + p)]
                                        * b[bi * k * n + (tb ? j * k + p : p * n + j)];
                                want += term;
                                mag += Math.abs(term);
                            }
                            float got = c[(bi * m + i) * n + j];
                            assertTrue(Math.abs(got - want) <= 1e-6 * mag + 1e-7,
                                    "batch " + bi + " (" + i + ", " + j + ") trans " + ta + "/" + tb + " " + m + "x" + n
                                            + "x" + k + ": want " + want + ", got " + got);
                        }
                    }
                }
            }
        }
    }
}
