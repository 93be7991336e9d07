package io.jdl.backend.cpu;

import io.jdl.backend.PoolShape;
import java.util.stream.IntStream;

/**
 * Max pooling without padding (every window lies inside the input), the common case: no bounds tests
 * and no per-tap record lookups. Same semantics as the general path in {@link CpuBackend}: each window's
 * first maximum in row-major order wins, and its gradient goes there. Planes run in parallel.
 */
final class CpuPool {
    private CpuPool() {
    }

    static boolean handles(PoolShape s) {
        return s.max() && s.padH() == 0 && s.padW() == 0;
    }

    private static IntStream planes(PoolShape s) {
        return CpuParallel.range(s.n() * s.c(), (long) s.n() * s.c() * s.h() * s.w());
    }

    /** Index in x of the first maximum of window (i, j) of plane nc. */
    private static int argMax(float[] x, int base, int w, int kh, int kw) {
        int best = base;
        for (int r = 0; r < kh; r++) {
            for (int q = 0, at = base + r * w; q < kw; q++, at++) {
                if (x[at] > x[best]) {
                    best = at;
                }
            }
        }
        return best;
    }

    static void forward(PoolShape s, float[] x, float[] y) {
        int oh = s.outH(), ow = s.outW(), h = s.h(), w = s.w(), kh = s.kh(), kw = s.kw(), sh = s.strideH(), sw = s.strideW();
        planes(s).forEach(nc -> {
            for (int i = 0; i < oh; i++) {
                int row = (nc * h + i * sh) * w, out = (nc * oh + i) * ow;
                for (int j = 0; j < ow; j++) {
                    y[out + j] = x[argMax(x, row + j * sw, w, kh, kw)];
                }
            }
        });
    }

    static void backward(PoolShape s, float[] x, float[] dy, float[] dx) {
        int oh = s.outH(), ow = s.outW(), h = s.h(), w = s.w(), kh = s.kh(), kw = s.kw(), sh = s.strideH(), sw = s.strideW();
        planes(s).forEach(nc -> {
            java.util.Arrays.fill(dx, nc * h * w, (nc + 1) * h * w, 0f);
            for (int i = 0; i < oh; i++) {
                int row = (nc * h + i * sh) * w, out = (nc * oh + i) * ow;
                for (int j = 0; j < ow; j++) {
                    dx[argMax(x, row + j * sw, w, kh, kw)] += dy[out + j];
                }
            }
        });
    }
}
