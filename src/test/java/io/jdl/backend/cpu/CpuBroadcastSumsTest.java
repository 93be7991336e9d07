package io.jdl.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Broadcast, sum and the channel-bias passes against one-loop definitions, on shapes that cross the parallel
 * ranges and the sum blocks unevenly; sums the same bits on 1 and 3 threads.
 */
class CpuBroadcastSumsTest {
    private final int initial = CpuBackend.threads();

    @AfterEach
    void restore() {
        CpuBackend.setThreads(initial);
    }

    private static float[] random(Random rng, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rng.nextGaussian();
        }
        return x;
    }

    @Test
    void broadcastRepeatsEachSlabAlongDim() {
        Random rng = new Random(1);
        int[][] shapes = {{1, 802_816, 1}, {3, 50_001, 1}, {2, 7, 3}, {5, 1000, 37}, {2, 3, 40_000}, {1, 1, 1}};
        for (int[] s : shapes) {
            int outer = s[0], dim = s[1], inner = s[2];
            float[] x = random(rng, outer * inner), out = new float[outer * dim * inner];
            CpuBroadcastSums.broadcast(x, out, outer, dim, inner);
            for (int o = 0; o < outer; o++) {
                for (int d = 0; d < dim; d++) {
                    for (int i = 0; i < inner; i++) {
                        assertEquals(x[o * inner + i], out[(o * dim + d) * inner + i],
                                () -> "broadcast " + java.util.Arrays.toString(s));
                    }
                }
            }
        }
    }

    @Test
    void sumMatchesAFloat64LoopAndIgnoresTheThreadCount() {
        Random rng = new Random(2);
        int[][] shapes = {{1, 802_816, 1}, {3, 40_001, 1}, {4, 5, 1}, {2, 300, 2049}, {1, 1, 1}};
        for (int[] s : shapes) {
            int outer = s[0], dim = s[1], inner = s[2];
            float[] x = random(rng, outer * dim * inner), one = new float[outer * inner], three = new float[outer * inner];
            CpuBackend.setThreads(1);
            CpuBroadcastSums.sum(x, one, outer, dim, inner);
            CpuBackend.setThreads(3);
            CpuBroadcastSums.sum(x, three, outer, dim, inner);
            assertArrayEquals(one, three, "thread count changed the sum of " + java.util.Arrays.toString(s));
            for (int o = 0; o < outer; o++) {
                for (int i = 0; i < inner; i++) {
                    double ref = 0;
                    for (int d = 0; d < dim; d++) {
                        ref += x[(o * dim + d) * inner + i];
                    }
                    assertEquals(ref, one[o * inner + i], 1e-5 * Math.sqrt(dim), () -> "sum " + java.util.Arrays.toString(s));
                }
            }
        }
    }

    @Test
    void channelBiasAndItsGradient() {
        Random rng = new Random(3);
        for (int[] s : new int[][] {{128, 32, 196}, {3, 5, 7}, {1, 1, 70_000}}) {
            int n = s[0], c = s[1], hw = s[2];
            float[] x = random(rng, n * c * hw), b = random(rng, c), out = new float[x.length];
            CpuBroadcastSums.addChannelBias(x, b, out, n, c, hw);
            for (int p = 0; p < x.length; p++) {
                assertEquals(x[p] + b[p / hw % c], out[p]);
            }
            CpuBroadcastSums.addChannelBias(x, b, x, n, c, hw); // in place, as conv2d calls it
            assertArrayEquals(out, x);

            float[] db = new float[c], db1 = new float[c];
            CpuBroadcastSums.channelBiasBackward(out, db, n, c, hw);
            CpuBackend.setThreads(1);
            CpuBroadcastSums.channelBiasBackward(out, db1, n, c, hw);
            CpuBackend.setThreads(initial);
            assertArrayEquals(db1, db, "thread count changed the bias gradient");
            for (int ch = 0; ch < c; ch++) {
                double ref = 0;
                for (int i = 0; i < n; i++) {
                    for (int p = 0; p < hw; p++) {
                        ref += out[(i * c + ch) * hw + p];
                    }
                }
                assertEquals(ref, db[ch], 1e-5 * Math.sqrt((double) n * hw));
            }
        }
    }
}
