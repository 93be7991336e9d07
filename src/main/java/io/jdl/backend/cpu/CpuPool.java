package io.jdl.backend.cpu;

import io.jdl.backend.PoolShape;
import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * 2-d max and average pooling on the CPU, forward and backward. Each window's first maximum in
 * row-major order wins, and its gradient goes there; a NaN counts as the maximum (it propagates, as in
 * PyTorch), and padding never wins. Average pooling divides by the
 * whole window, padding included (PyTorch's {@code count_include_pad=True}). Planes run in parallel.
 *
 * <p>Max pooling without padding, the common case, has its own loops: every window lies inside the input,
 * so they need no bounds tests. The general loops visit only the part of each window that lies inside the
 * input, so their cost is bounded by the input, however large the window and its padding.
 */
final class CpuPool {
    private CpuPool() {
    }

    /** Runs body(nc) for every (image, channel) plane nc, across cores when large enough. */
    private static void planes(PoolShape s, IntConsumer body) {
        CpuParallel.forEach(s.n() * s.c(), (long) s.n() * s.c() * s.h() * s.w(), body);
    }

    static void forward(PoolShape s, float[] x, float[] y) {
        if (s.max() && s.padH() == 0 && s.padW() == 0) {
            forwardMaxInside(s, x, y);
            return;
        }
        int oh = s.outH(), ow = s.outW();
        double area = (double) s.kh() * s.kw();
        planes(s, nc -> {
            for (int i = 0; i < oh; i++) {
                Window rows = Window.of(i, s.strideH(), s.padH(), s.kh(), s.h());
                for (int j = 0; j < ow; j++) {
                    Window cols = Window.of(j, s.strideW(), s.padW(), s.kw(), s.w());
                    y[(nc * oh + i) * ow + j] = s.max() ? x[argMax(s, x, nc, rows, cols)]
                            : (float) (windowSum(s, x, nc, rows, cols) / area);
                }
            }
        });
    }

    static void backward(PoolShape s, float[] x, float[] dy, float[] dx) {
        if (s.max() && s.padH() == 0 && s.padW() == 0) {
            backwardMaxInside(s, x, dy, dx);
            return;
        }
        int oh = s.outH(), ow = s.outW(), hw = s.h() * s.w();
        double area = (double) s.kh() * s.kw();
        // Windows of one (image, channel) plane only touch that plane: planes run in parallel.
        planes(s, nc -> {
            Arrays.fill(dx, nc * hw, (nc + 1) * hw, 0f);
            for (int i = 0; i < oh; i++) {
                Window rows = Window.of(i, s.strideH(), s.padH(), s.kh(), s.h());
                for (int j = 0; j < ow; j++) {
                    Window cols = Window.of(j, s.strideW(), s.padW(), s.kw(), s.w());
                    float g = dy[(nc * oh + i) * ow + j];
                    if (s.max()) {
                        dx[argMax(s, x, nc, rows, cols)] += g;
                        continue;
                    }
                    float share = (float) (g / area);
                    for (int hi = rows.from(); hi < rows.to(); hi++) {
                        for (int wi = cols.from(), at = (nc * s.h() + hi) * s.w() + wi; wi < cols.to(); wi++, at++) {
                            dx[at] += share;
                        }
                    }
                }
            }
        });
    }

    /**
     * The input indices [from, to) that window {@code o} covers along one dimension: its
     * {@code size}-wide span starting at {@code o·stride − pad}, clipped to the input (in 64 bits).
     */
    private record Window(int from, int to) {
        static Window of(int o, int stride, int pad, int size, int length) {
            long start = (long) o * stride - pad;
            return new Window((int) Math.max(0, start), (int) Math.min(length, start + size));
        }
    }

    /** Index in x of the window's first maximum; every window holds at least one input element. */
    private static int argMax(PoolShape s, float[] x, int nc, Window rows, Window cols) {
        int best = (nc * s.h() + rows.from()) * s.w() + cols.from();
        for (int hi = rows.from(); hi < rows.to(); hi++) {
            for (int wi = cols.from(), at = (nc * s.h() + hi) * s.w() + wi; wi < cols.to(); wi++, at++) {
                if (beats(x[at], x[best])) {
                    best = at;
                }
            }
        }
        return best;
    }

    /**
     * Whether {@code v} replaces {@code best} as a window's maximum: when larger, or when it is the window's
     * first NaN. A NaN is the maximum, as in PyTorch's {@code max_pool2d} and cuDNN's
     * {@code CUDNN_PROPAGATE_NAN}; the first NaN in row-major order gets the gradient, as in the stand-in.
     */
    private static boolean beats(float v, float best) {
        return v > best || (v != v && best == best);
    }

    private static double windowSum(PoolShape s, float[] x, int nc, Window rows, Window cols) {
        double acc = 0;
        for (int hi = rows.from(); hi < rows.to(); hi++) {
            for (int wi = cols.from(), at = (nc * s.h() + hi) * s.w() + wi; wi < cols.to(); wi++, at++) {
                acc += x[at];
            }
        }
        return acc;
    }

    /** Index in x of the first maximum of the kh×kw window starting at {@code base}. */
    private static int argMaxInside(float[] x, int base, int w, int kh, int kw) {
        return kh == 2 && kw == 2 ? argMax2x2(x, base, w) : argMaxGeneral(x, base, w, kh, kw);
    }

    private static int argMaxGeneral(float[] x, int base, int w, int kh, int kw) {
        int best = base;
        for (int r = 0; r < kh; r++) {
            for (int q = 0, at = base + r * w; q < kw; q++, at++) {
                if (beats(x[at], x[best])) {
                    best = at;
                }
            }
        }
        return best;
    }

    /**
     * {@link #argMaxInside} for the common 2×2 window without a branch on the data: the comparisons of real
     * activations are coin flips, and as branches (C2 keeps float selects as branches) they mispredicted half
     * the time; pooling was a quarter of the cnn step. The maximum comes from {@code Math.max} (one
     * instruction), the first element equal to it from integer arithmetic on the bits. Math.max differs from
     * "first maximum" only on a tie of −0 and +0 and on NaN (first NaN): a maximum of 0 or NaN takes the
     * general path, rarely enough that its branch is predicted.
     */
    private static int argMax2x2(float[] x, int base, int w) {
        float a = x[base], b = x[base + 1], c = x[base + w], d = x[base + w + 1];
        float m = Math.max(Math.max(a, b), Math.max(c, d));
        if (m == 0f || m != m) {
            return argMaxGeneral(x, base, w, 2, 2);
        }
        int mb = Float.floatToRawIntBits(m);
        int ea = same(Float.floatToRawIntBits(a), mb), eb = same(Float.floatToRawIntBits(b), mb);
        int ec = same(Float.floatToRawIntBits(c), mb);
        // the first of a, b, c, d equal to m: offsets 0, 1, w, w + 1
        return base + (1 - ea) * (eb + (1 - eb) * (ec * w + (1 - ec) * (w + 1)));
    }

    /** 1 when the bit patterns are equal, else 0 (for non-NaN, non-zero floats: equal values). */
    private static int same(int x, int y) {
        int diff = x ^ y;
        return ((diff | -diff) >>> 31) ^ 1;
    }

    private static void forwardMaxInside(PoolShape s, float[] x, float[] y) {
        int oh = s.outH(), ow = s.outW(), h = s.h(), w = s.w(), kh = s.kh(), kw = s.kw(), sh = s.strideH(), sw = s.strideW();
        planes(s, nc -> {
            for (int i = 0; i < oh; i++) {
                int row = (nc * h + i * sh) * w, out = (nc * oh + i) * ow;
                for (int j = 0; j < ow; j++) {
                    y[out + j] = x[argMaxInside(x, row + j * sw, w, kh, kw)];
                }
            }
        });
    }

    private static void backwardMaxInside(PoolShape s, float[] x, float[] dy, float[] dx) {
        int oh = s.outH(), ow = s.outW(), h = s.h(), w = s.w(), kh = s.kh(), kw = s.kw(), sh = s.strideH(), sw = s.strideW();
        planes(s, nc -> {
            Arrays.fill(dx, nc * h * w, (nc + 1) * h * w, 0f);
            for (int i = 0; i < oh; i++) {
                int row = (nc * h + i * sh) * w, out = (nc * oh + i) * ow;
                for (int j = 0; j < ow; j++) {
                    dx[argMaxInside(x, row + j * sw, w, kh, kw)] += dy[out + j];
                }
            }
        });
    }
}
