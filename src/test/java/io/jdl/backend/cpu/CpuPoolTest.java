package io.jdl.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jdl.backend.PoolShape;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The branch-free 2×2 max pooling against a plain reference: value and gradient go to the first maximum in
 * row-major order, a NaN is the maximum (its first one), ties (repeated values, −0 and +0) keep the first.
 */
class CpuPoolTest {

    @Test
    void twoByTwoMaxPoolingPicksTheFirstMaximumBitForBit() {
        float[] palette = {0f, -0f, 1f, -1f, 2.5f, Float.NaN, Float.intBitsToFloat(0x7fc00123), Float.MAX_VALUE,
                Float.NEGATIVE_INFINITY, Float.MIN_VALUE};
        Random rng = new Random(11);
        int n = 3, c = 5, h = 6, w = 8;
        float[] x = new float[n * c * h * w];
        for (int i = 0; i < x.length; i++) {
            x[i] = rng.nextInt(3) == 0 ? (float) rng.nextGaussian() : palette[rng.nextInt(palette.length)];
        }
        PoolShape s = new PoolShape(true, n, c, h, w, 2, 2, 0, 0, 2, 2);
        int oh = h / 2, ow = w / 2;
        float[] y = new float[n * c * oh * ow], dy = new float[y.length], dx = new float[x.length];
        for (int i = 0; i < dy.length; i++) {
            dy[i] = i + 1;
        }
        CpuPool.forward(s, x, y);
        CpuPool.backward(s, x, dy, dx);
        float[] wantDx = new float[x.length];
        for (int p = 0; p < n * c; p++) {
            for (int i = 0; i < oh; i++) {
                for (int j = 0; j < ow; j++) {
                    int best = -1;
                    for (int r = 0; r < 2; r++) {
                        for (int q = 0; q < 2; q++) {
                            int at = (p * h + 2 * i + r) * w + 2 * j + q;
                            float v = x[at];
                            if (best < 0 || v > x[best] || (Float.isNaN(v) && !Float.isNaN(x[best]))) {
                                best = at;
                            }
                        }
                    }
                    int o = (p * oh + i) * ow + j;
                    assertEquals(Float.floatToRawIntBits(x[best]), Float.floatToRawIntBits(y[o]), "window " + o);
                    wantDx[best] += dy[o];
                }
            }
        }
        for (int i = 0; i < x.length; i++) {
            assertEquals(wantDx[i], dx[i], "dx[" + i + "]");
        }
    }
}
