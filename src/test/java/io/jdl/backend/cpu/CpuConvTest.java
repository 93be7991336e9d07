package io.jdl.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.ConvShape;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The im2col convolution ({@link CpuConv}) against direct float64 loops over the definition, for
 * padding, stride, dilation, groups, non-square kernels and batches large enough to run in parallel.
 */
class CpuConvTest {

    private static final ConvShape[] SHAPES = {
            new ConvShape(2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1),
            new ConvShape(3, 4, 9, 8, 6, 3, 2, 2, 0, 2, 3, 1, 1, 2),
            new ConvShape(2, 6, 10, 11, 6, 3, 3, 2, 1, 1, 2, 2, 2, 3),
            new ConvShape(1, 2, 5, 5, 3, 1, 1, 0, 0, 1, 1, 1, 1, 1),
            new ConvShape(2, 2, 4, 4, 2, 5, 5, 3, 3, 2, 2, 1, 1, 2),
            new ConvShape(20, 8, 14, 14, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1),
            // Kernel taps that lie wholly in the padding (issue #11 item 2), also with stride and dilation.
            new ConvShape(1, 1, 1, 1, 1, 1, 5, 2, 2, 1, 1, 1, 1, 1),
            new ConvShape(1, 2, 2, 4, 2, 3, 5, 1, 3, 3, 1, 1, 1, 2),
            new ConvShape(2, 2, 3, 3, 2, 3, 3, 2, 2, 2, 2, 3, 3, 1),
    };

    private static float[] random(Random rng, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return v;
    }

    /** Calls body(n, k, c, i, j, r, q, xIndex, yIndex, wIndex) for every in-bounds tap. */
    private interface Tap {
        void at(int xi, int yi, int wi);
    }

    private static void taps(ConvShape s, Tap tap) {
        int cpg = s.c() / s.groups(), kpg = s.k() / s.groups(), oh = s.outH(), ow = s.outW();
        for (int n = 0; n < s.n(); n++) {
            for (int k = 0; k < s.k(); k++) {
                for (int c = 0; c < cpg; c++) {
                    int ch = k / kpg * cpg + c;
                    for (int i = 0; i < oh; i++) {
                        for (int j = 0; j < ow; j++) {
                            for (int r = 0; r < s.r(); r++) {
                                for (int q = 0; q < s.s(); q++) {
                                    int hi = i * s.strideH() - s.padH() + r * s.dilationH();
                                    int wi = j * s.strideW() - s.padW() + q * s.dilationW();
                                    if (hi >= 0 && hi < s.h() && wi >= 0 && wi < s.w()) {
                                        tap.at(((n * s.c() + ch) * s.h() + hi) * s.w() + wi,
                                                ((n * s.k() + k) * oh + i) * ow + j, ((k * cpg + c) * s.r() + r) * s.s() + q);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private static void assertClose(double[] want, float[] got, String what) {
        double scale = 0;
        for (double v : want) {
            scale = Math.max(scale, Math.abs(v));
        }
        for (int i = 0; i < want.length; i++) {
            double err = Math.abs(want[i] - got[i]);
            assertTrue(err <= 1e-5 * Math.max(1, scale), what + "[" + i + "]: want " + want[i] + ", got " + got[i]);
        }
    }

    @Test
    void matchesDirectLoops() {
        Random rng = new Random(3);
        for (ConvShape s : SHAPES) {
            int xn = s.n() * s.c() * s.h() * s.w(), yn = s.n() * s.k() * s.outH() * s.outW();
            int wn = s.k() * (s.c() / s.groups()) * s.r() * s.s();
            float[] x = random(rng, xn), w = random(rng, wn), dy = random(rng, yn);
            double[] y = new double[yn], dx = new double[xn], dw = new double[wn];
            taps(s, (xi, yi, wi) -> {
                y[yi] += (double) x[xi] * w[wi];
                dx[xi] += (double) dy[yi] * w[wi];
                dw[wi] += (double) dy[yi] * x[xi];
            });
            float[] gotY = new float[yn], gotDx = random(rng, xn), gotDw = random(rng, wn);
            CpuConv.forward(s, x, w, gotY);
            CpuConv.backwardData(s, w, dy, gotDx);
            CpuConv.backwardFilter(s, x, dy, gotDw);
            assertClose(y, gotY, s + " y");
            assertClose(dx, gotDx, s + " dx");
            assertClose(dw, gotDw, s + " dw");
        }
    }
}
