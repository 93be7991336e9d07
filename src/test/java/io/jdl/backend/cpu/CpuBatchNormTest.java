package io.jdl.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The float32 batch-norm passes against the float64 definition (every element in float64, as the kernels were
 * before), on odd shapes and on activations with a mean far from zero; and independent of the thread count.
 */
class CpuBatchNormTest {
    private static float[] random(Random rng, int len, double offset, double scale) {
        float[] x = new float[len];
        for (int i = 0; i < len; i++) {
            x[i] = (float) (offset + scale * rng.nextGaussian());
        }
        return x;
    }

    private static void close(float expected, float actual, double scale, String what) {
        assertEquals(expected, actual, 2e-5 * Math.max(1, Math.abs(scale)), what);
    }

    @Test
    void trainAndBackwardMatchTheFloat64Definition() {
        Random rng = new Random(5);
        for (int[] s : new int[][] {{128, 16, 196}, {3, 5, 7}, {1, 2, 1}, {2, 3, 1001}}) {
            int n = s[0], c = s[1], hw = s[2], len = n * c * hw;
            float eps = 1e-5f, momentum = 0.1f;
            float[] x = random(rng, len, 3, 2), gamma = random(rng, c, 1, 0.5), beta = random(rng, c, 0, 1);
            float[] y = new float[len], runMean = random(rng, c, 0, 1), runVar = random(rng, c, 2, 0.1);
            float[] runMean0 = runMean.clone(), runVar0 = runVar.clone(), mean = new float[c], inv = new float[c];
            CpuBatchNorm.train(n, c, hw, x, gamma, beta, y, runMean, runVar, mean, inv, momentum, eps);

            float[] dy = random(rng, len, 0.5, 1), dx = new float[len], dGamma = new float[c], dBeta = new float[c];
            CpuBatchNorm.backward(n, c, hw, x, dy, gamma, mean, inv, dx, dGamma, dBeta);

            long m = (long) n * hw;
            for (int ch = 0; ch < c; ch++) {
                double sum = 0, sq = 0;
                for (int i = 0; i < n; i++) {
                    for (int p = (i * c + ch) * hw; p < (i * c + ch + 1) * hw; p++) {
                        sum += x[p];
                    }
                }
                double mu = sum / m;
                for (int i = 0; i < n; i++) {
                    for (int p = (i * c + ch) * hw; p < (i * c + ch + 1) * hw; p++) {
                        sq += (x[p] - mu) * (x[p] - mu);
                    }
                }
                double var = sq / m, in = 1 / Math.sqrt(var + eps);
                String at = n + "x" + c + "x" + hw + " channel " + ch;
                close((float) mu, mean[ch], mu, "mean " + at);
                close((float) in, inv[ch], in, "inverse deviation " + at);
                close((float) (0.9 * runMean0[ch] + 0.1 * mu), runMean[ch], 1, "running mean " + at);
                close((float) (0.9 * runVar0[ch] + 0.1 * (m > 1 ? sq / (m - 1) : var)), runVar[ch], runVar[ch],
                        "running variance " + at);
                double sumDy = 0, sumDyXhat = 0;
                for (int i = 0; i < n; i++) {
                    for (int p = (i * c + ch) * hw; p < (i * c + ch + 1) * hw; p++) {
                        double xhat = (x[p] - mu) * in;
                        close((float) (xhat * gamma[ch] + beta[ch]), y[p], 1, "y " + at);
                        sumDy += dy[p];
                        sumDyXhat += dy[p] * xhat;
                    }
                }
                close((float) sumDy, dBeta[ch], Math.sqrt(m), "dBeta " + at);
                close((float) sumDyXhat, dGamma[ch], Math.sqrt(m), "dGamma " + at);
                double k = gamma[ch] * in / m;
                for (int i = 0; i < n; i++) {
                    for (int p = (i * c + ch) * hw; p < (i * c + ch + 1) * hw; p++) {
                        double xhat = (x[p] - mu) * in;
                        close((float) (k * (m * dy[p] - sumDy - xhat * sumDyXhat)), dx[p], gamma[ch] * in, "dx " + at);
                    }
                }
            }
        }
    }

    @Test
    void aGradientScaledNearFloatRangeCancelsAsInFloat64() {
        // Two samples per channel: x̂ = ±1 and dx cancels to (nearly) 0, but each float32 term overflows on its own.
        int n = 2, c = 3, hw = 1;
        float[] x = {1f, -2f, 0.5f, 3f, 2f, 0.25f}, gamma = {1f, 2f, 0.5f}, beta = new float[c];
        float[] y = new float[6], mean = new float[c], inv = new float[c];
        CpuBatchNorm.train(n, c, hw, x, gamma, beta, y, new float[c], new float[c], mean, inv, 0.1f, 1e-5f);
        float[] dy = {0x1p126f, -0x1p125f, 0x1p127f, 0x1p120f, 0x1p126f, -0x1p127f}, dx = new float[6];
        CpuBatchNorm.backward(n, c, hw, x, dy, gamma, mean, inv, dx, new float[c], new float[c]);
        for (int p = 0; p < dx.length; p++) {
            int ch = p % c, other = (p + c) % dx.length;
            double k = gamma[ch] * (double) inv[ch] / 2, term = Math.abs(k * 2 * dy[p]);
            double xhat = (x[p] - (double) mean[ch]) * inv[ch], xo = (x[other] - (double) mean[ch]) * inv[ch];
            double sumDy = (double) dy[p] + dy[other], sumDyXhat = dy[p] * xhat + dy[other] * xo;
            double ref = k * (2.0 * dy[p] - sumDy - xhat * sumDyXhat);
            assertTrue(Float.isFinite(dx[p]), "dx[" + p + "] = " + dx[p]);
            assertEquals(ref, dx[p], 1e-5 * term, "dx[" + p + "] against terms of " + term);
        }
    }

    @Test
    void theThreadCountDoesNotChangeABit() {
        int initial = CpuBackend.threads();
        Random rng = new Random(6);
        int n = 32, c = 8, hw = 300, len = n * c * hw;
        float[] x = random(rng, len, 1, 1), gamma = random(rng, c, 1, 0.2), beta = random(rng, c, 0, 1);
        float[] dy = random(rng, len, 0, 1);
        float[][] out = new float[2][];
        try {
            for (int t = 0; t < 2; t++) {
                CpuBackend.setThreads(t == 0 ? 1 : 3);
                float[] y = new float[len], mean = new float[c], inv = new float[c], dx = new float[len];
                float[] dg = new float[c], db = new float[c];
                CpuBatchNorm.train(n, c, hw, x, gamma, beta, y, new float[c], new float[c], mean, inv, 0.1f, 1e-5f);
                CpuBatchNorm.backward(n, c, hw, x, dy, gamma, mean, inv, dx, dg, db);
                float[] all = new float[2 * len + 2 * c];
                System.arraycopy(y, 0, all, 0, len);
                System.arraycopy(dx, 0, all, len, len);
                System.arraycopy(dg, 0, all, 2 * len, c);
                System.arraycopy(db, 0, all, 2 * len + c, c);
                out[t] = all;
            }
        } finally {
            CpuBackend.setThreads(initial);
        }
        assertArrayEquals(out[0], out[1]);
    }
}
