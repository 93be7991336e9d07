package io.jdl.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The vectorised, parallel Adam against a one-element-at-a-time float64 reference, over several steps. */
class CpuOptimizersTest {

    @Test
    void adamAndAdamWFollowTheFloat64Reference() {
        for (boolean decoupled : new boolean[] {false, true}) {
            for (float wd : new float[] {0f, 0.01f}) {
                int n = 100_003; // several ranges and a ragged end
                Random rng = new Random(5);
                float[] p = new float[n], m = new float[n], v = new float[n], g = new float[n];
                double[] rp = new double[n], rm = new double[n], rv = new double[n];
                for (int i = 0; i < n; i++) {
                    p[i] = (float) rng.nextGaussian();
                    rp[i] = p[i];
                }
                float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
                for (int step = 1; step <= 3; step++) {
                    for (int i = 0; i < n; i++) {
                        g[i] = (float) rng.nextGaussian();
                    }
                    CpuOptimizers.adam(p, g, m, v, n, lr, b1, b2, eps, wd, decoupled, step);
                    for (int i = 0; i < n; i++) {
                        double gi = g[i];
                        if (decoupled) {
                            rp[i] *= 1 - (double) lr * wd;
                        } else {
                            gi += wd * rp[i];
                        }
                        rm[i] = b1 * rm[i] + (1 - b1) * gi;
                        rv[i] = b2 * rv[i] + (1 - b2) * gi * gi;
                        rp[i] -= lr * (rm[i] / (1 - Math.pow(b1, step))) / (Math.sqrt(rv[i] / (1 - Math.pow(b2, step))) + eps);
                    }
                }
                for (int i = 0; i < n; i++) {
                    assertEquals(rp[i], p[i], 1e-6 * Math.max(1, Math.abs(rp[i])), "param " + i + ", decoupled "
                            + decoupled + ", weight decay " + wd);
                    assertEquals(rm[i], m[i], 1e-6 * Math.max(1, Math.abs(rm[i])));
                    assertEquals(rv[i], v[i], 1e-6 * Math.max(1, Math.abs(rv[i])));
                }
            }
        }
    }

    @Test
    void withoutWeightDecayAnInfiniteParameterStaysInfinite() {
        float[] p = {Float.POSITIVE_INFINITY}, g = {1f}, m = {0f}, v = {0f};
        CpuOptimizers.adam(p, g, m, v, 1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, true, 1);
        assertEquals(Float.POSITIVE_INFINITY, p[0]);
    }
}
