package io.jdl.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The float32 vectorised GELU against a float64 oracle: Φ from an erfc good to ~1e-15 (below), φ from Math.exp. */
class CpuGeluTest {

    /** erfc in float64 to ~1e-15: Taylor series of erf for |x| < 2.5, Lentz's continued fraction beyond. */
    static double erfc(double x) {
        if (x < 0) {
            return 2 - erfc(-x);
        }
        if (x < 2.5) {
            double sum = x, term = x;
            for (int n = 1; n < 200; n++) {
                term *= -x * x / n;
                sum += term / (2 * n + 1);
            }
            return 1 - 2 / Math.sqrt(Math.PI) * sum;
        }
        // erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
        double f = x;
        for (int k = 60; k >= 1; k--) {
            f = x + (k / 2.0) / f;
        }
        return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
    }

    static double phi(double x) {
        return 0.5 * erfc(-x / Math.sqrt(2));
    }

    private static float[] inputs() {
        Random rng = new Random(3);
        float[] x = new float[200_000];
        for (int i = 0; i < x.length; i++) {
            x[i] = i < 100_000 ? -12f + 24f * i / 100_000 : (float) (rng.nextGaussian() * 3);
        }
        return x;
    }

    @Test
    void forwardMatchesTheFloat64Oracle() {
        float[] x = inputs(), y = new float[x.length];
        CpuGelu.forward(x, y, x.length);
        for (int i = 0; i < x.length; i++) {
            double want = x[i] * phi(x[i]);
            // see CpuGelu's accuracy note: about 2e-7·|x|, and absolute 1e-7 for x near 0
            assertTrue(Math.abs(y[i] - want) <= 3e-7 * Math.abs(x[i]) + 1e-7, "gelu(" + x[i] + ") = " + y[i]
                    + ", want " + want);
        }
    }

    @Test
    void backwardMatchesTheFloat64Oracle() {
        float[] x = inputs(), dy = new float[x.length], dx = new float[x.length];
        Random rng = new Random(4);
        for (int i = 0; i < x.length; i++) {
            dy[i] = (float) rng.nextGaussian();
        }
        CpuGelu.backward(x, dy, dx, x.length);
        for (int i = 0; i < x.length; i++) {
            double d = phi(x[i]) + x[i] * Math.exp(-0.5 * x[i] * x[i]) / Math.sqrt(2 * Math.PI);
            double want = dy[i] * d;
            // within 1e-6 absolute of the derivative (CpuGelu's accuracy note), scaled by dy
            assertTrue(Math.abs(dx[i] - want) <= 1.5e-6 * Math.abs(dy[i]) + 1e-7, "gelu'(" + x[i] + ")·" + dy[i] + " = "
                    + dx[i] + ", want " + want);
        }
    }

    @Test
    void specialValues() {
        float[] x = {0f, -0f, Float.POSITIVE_INFINITY, Float.NaN, 1e30f, -1e30f, Float.MIN_VALUE, -Float.MAX_VALUE};
        float[] y = new float[x.length], dx = new float[x.length], ones = new float[x.length];
        java.util.Arrays.fill(ones, 1f);
        CpuGelu.forward(x, y, x.length);
        CpuGelu.backward(x, ones, dx, x.length);
        assertEquals(0f, y[0]);
        assertEquals(0.5f, dx[0]);
        assertEquals(0.5f, dx[1]);
        assertEquals(Float.POSITIVE_INFINITY, y[2]);
        assertTrue(Float.isNaN(y[3]) && Float.isNaN(dx[3]));
        assertEquals(1e30f, y[4]);
        assertEquals(1f, dx[4]);
        assertEquals(-0f, y[5]);          // −1e30·Φ(−1e30), as PyTorch's float32 kernel
        assertEquals(0f, dx[5], 1e-16f);
        assertEquals(Float.MIN_VALUE * 0.5f, y[6]);
        assertEquals(1f, dx[2]);
        assertEquals(-0f, y[7]);
    }
}
