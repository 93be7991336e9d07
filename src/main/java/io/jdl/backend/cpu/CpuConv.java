package io.jdl.backend.cpu;

import io.jdl.backend.ConvShape;

/**
 * Convolution on the CPU as matrix products (im2col): each image's input patches are unrolled into a
 * column matrix {@code col[(c, r, s), (i, j)]}, so that per group
 * <ul>
 *   <li>forward: {@code y[k, (i, j)] = W[k, (c, r, s)] · col},</li>
 *   <li>backward data: {@code dcol = Wᵀ · dy}, scattered back onto dx (col2im),</li>
 *   <li>backward filter: {@code dW[k, (c, r, s)] += dy[k, (i, j)] · row[(i, j), (c, r, s)]}, with the
 *       patches unrolled pixel-major ("im2row") so the product runs along contiguous rows.</li>
 * </ul>
 * Stride, padding, dilation and groups are handled in the unrolling; padded taps are zeros. Images are
 * split into chunks that run on the common fork-join pool, each chunk with its own scratch buffers.
 *
 * <p>Precision: {@link CpuGemm} accumulates in float32, over at most (c/groups)·r·s terms forward and
 * (k/groups)·r·s terms for the data gradient. The filter gradient sums over every image and output pixel;
 * there the float32 product covers one image, and images are added in float64 (chunk sums are then
 * added in a fixed order, so results do not depend on scheduling).
 */
final class CpuConv {
    private CpuConv() {
    }

    /** Number of image chunks: a few per core for balance, never more than the images. */
    private static int chunks(int n, long flops) {
        if (flops < (1L << 18)) {
            return 1;
        }
        return Math.max(1, Math.min(n, 4 * Runtime.getRuntime().availableProcessors()));
    }

    /** Multiply-adds times 2; saturates (it only chooses how to split the work). */
    private static long flops(ConvShape s) {
        double f = 2.0 * s.n() * s.k() * s.outH() * s.outW() * (s.c() / s.groups()) * s.r() * s.s();
        return f >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) f;
    }

    /**
     * First output index whose input index {@code o·stride − pad + off} is ≥ 0. In 64 bits: pad and off may
     * each be near {@code Integer.MAX_VALUE}.
     */
    static int firstValid(int stride, int pad, long off) {
        long t = pad - off;
        return t <= 0 ? 0 : (int) Math.min(Integer.MAX_VALUE, (t + stride - 1) / stride);
    }

    /**
     * One past the last output index (below {@code out}) whose input index is below {@code size}. It may
     * not exceed {@link #firstValid}: then the kernel tap lies wholly in the padding, and the range is empty.
     */
    static int endValid(int stride, int pad, long off, int size, int out) {
        long t = size - 1L + pad - off;
        return t < 0 ? 0 : (int) Math.min(out, t / stride + 1);
    }

    /** The input index {@code o·stride − pad + off} of output index o, a valid one (within the input) by the caller's range. */
    static int inputIndex(int o, int stride, int pad, long off) {
        return (int) ((long) o * stride - pad + off);
    }

    /**
     * Unrolls channels [c0, c0 + cpg) of image n into col: rows (c, r, s), columns (i, j), or, when
     * {@code pixelMajor}, rows (i, j), columns (c, r, s). Padded taps are zeros.
     */
    private static void im2col(ConvShape s, float[] x, int n, int c0, int cpg, float[][] col, boolean pixelMajor) {
        int oh = s.outH(), ow = s.outW();
        for (float[] row : col) {
            java.util.Arrays.fill(row, 0f);
        }
        for (int c = 0; c < cpg; c++) {
            int xBase = (n * s.c() + c0 + c) * s.h() * s.w();
            for (int r = 0; r < s.r(); r++) {
                long offH = (long) r * s.dilationH();
                int i0 = firstValid(s.strideH(), s.padH(), offH), i1 = endValid(s.strideH(), s.padH(), offH, s.h(), oh);
                for (int q = 0; q < s.s(); q++) {
                    long offW = (long) q * s.dilationW();
                    int j0 = firstValid(s.strideW(), s.padW(), offW), j1 = endValid(s.strideW(), s.padW(), offW, s.w(), ow);
                    if (j1 <= j0) {
                        continue; // this tap sees only padding along the width
                    }
                    int tap = (c * s.r() + r) * s.s() + q, w0 = inputIndex(j0, s.strideW(), s.padW(), offW);
                    for (int i = i0; i < i1; i++) {
                        // Input indices from the first valid column on stay inside the row: no overflow.
                        int xAt = xBase + inputIndex(i, s.strideH(), s.padH(), offH) * s.w() + w0;
                        if (pixelMajor) {
                            for (int j = j0; j < j1; j++, xAt += s.strideW()) {
                                col[i * ow + j][tap] = x[xAt];
                            }
                        } else if (s.strideW() == 1) {
                            System.arraycopy(x, xAt, col[tap], i * ow + j0, j1 - j0);
                        } else {
                            float[] colRow = col[tap];
                            for (int j = j0; j < j1; j++, xAt += s.strideW()) {
                                colRow[i * ow + j] = x[xAt];
                            }
                        }
                    }
                }
            }
        }
    }

    static void forward(ConvShape s, float[] x, float[] w, float[] y) {
        int oh = s.outH(), ow = s.outW(), ohw = oh * ow, g = s.groups(), cpg = s.c() / g, kpg = s.k() / g;
        int rows = cpg * s.r() * s.s(), n = s.n(), chunks = chunks(n, flops(s));
        CpuParallel.forEach(chunks, flops(s), t -> {
            float[][] col = new float[rows][ohw], out = new float[kpg][ohw];
            for (int img = t * n / chunks; img < (t + 1) * n / chunks; img++) {
                for (int gi = 0; gi < g; gi++) {
                    im2col(s, x, img, gi * cpg, cpg, col, false);
                    CpuGemm.gemmRows(kpg, ohw, rows, w, gi * kpg * rows, rows, 1, col, out);
                    for (int kk = 0; kk < kpg; kk++) {
                        System.arraycopy(out[kk], 0, y, (img * s.k() + gi * kpg + kk) * ohw, ohw);
                    }
                }
            }
        });
    }

    static void backwardData(ConvShape s, float[] w, float[] dy, float[] dx) {
        int oh = s.outH(), ow = s.outW(), ohw = oh * ow, g = s.groups(), cpg = s.c() / g, kpg = s.k() / g;
        int rows = cpg * s.r() * s.s(), n = s.n(), hw = s.h() * s.w(), chunks = chunks(n, flops(s));
        CpuParallel.forEach(chunks, flops(s), t -> {
            float[][] dcol = new float[rows][ohw], dyRows = new float[kpg][ohw];
            for (int img = t * n / chunks; img < (t + 1) * n / chunks; img++) {
                java.util.Arrays.fill(dx, img * s.c() * hw, (img + 1) * s.c() * hw, 0f);
                for (int gi = 0; gi < g; gi++) {
                    for (int kk = 0; kk < kpg; kk++) {
                        System.arraycopy(dy, (img * s.k() + gi * kpg + kk) * ohw, dyRows[kk], 0, ohw);
                    }
                    // dcol[(c, r, s)] = Σ_k W[k, (c, r, s)]·dy[k]: A(i, p) = W[p, i].
                    CpuGemm.gemmRows(rows, ohw, kpg, w, gi * kpg * rows, 1, rows, dyRows, dcol);
                    col2im(s, dcol, dx, img, gi * cpg, cpg);
                }
            }
        });
    }

    /** Adds dcol (rows (c, r, s), columns (i, j)) onto channels [c0, c0 + cpg) of image n of dx. */
    private static void col2im(ConvShape s, float[][] dcol, float[] dx, int n, int c0, int cpg) {
        int oh = s.outH(), ow = s.outW();
        for (int c = 0; c < cpg; c++) {
            int xBase = (n * s.c() + c0 + c) * s.h() * s.w();
            for (int r = 0; r < s.r(); r++) {
                long offH = (long) r * s.dilationH();
                int i0 = firstValid(s.strideH(), s.padH(), offH), i1 = endValid(s.strideH(), s.padH(), offH, s.h(), oh);
                for (int q = 0; q < s.s(); q++) {
                    long offW = (long) q * s.dilationW();
                    int j0 = firstValid(s.strideW(), s.padW(), offW), j1 = endValid(s.strideW(), s.padW(), offW, s.w(), ow);
                    if (j1 <= j0) {
                        continue; // this tap sees only padding along the width
                    }
                    float[] colRow = dcol[(c * s.r() + r) * s.s() + q];
                    int w0 = inputIndex(j0, s.strideW(), s.padW(), offW);
                    for (int i = i0; i < i1; i++) {
                        int xAt = xBase + inputIndex(i, s.strideH(), s.padH(), offH) * s.w() + w0;
                        for (int j = j0; j < j1; j++, xAt += s.strideW()) {
                            dx[xAt] += colRow[i * ow + j];
                        }
                    }
                }
            }
        }
    }

    static void backwardFilter(ConvShape s, float[] x, float[] dy, float[] dw) {
        int oh = s.outH(), ow = s.outW(), ohw = oh * ow, g = s.groups(), cpg = s.c() / g, kpg = s.k() / g;
        int rows = cpg * s.r() * s.s(), n = s.n(), chunks = chunks(n, flops(s)), wSize = s.k() * rows;
        double[][] partial = new double[chunks][];
        CpuParallel.forEach(chunks, flops(s), t -> {
            float[][] pixels = new float[ohw][rows], part = new float[kpg][rows];
            double[] acc = new double[wSize];
            for (int img = t * n / chunks; img < (t + 1) * n / chunks; img++) {
                for (int gi = 0; gi < g; gi++) {
                    im2col(s, x, img, gi * cpg, cpg, pixels, true);
                    CpuGemm.gemmRows(kpg, rows, ohw, dy, (img * s.k() + gi * kpg) * ohw, ohw, 1, pixels, part);
                    for (int kk = 0; kk < kpg; kk++) {
                        int base = (gi * kpg + kk) * rows;
                        float[] pr = part[kk];
                        for (int e = 0; e < rows; e++) {
                            acc[base + e] += pr[e];
                        }
                    }
                }
            }
            partial[t] = acc;
        });
        for (int e = 0; e < wSize; e++) {
            double sum = 0;
            for (double[] p : partial) {
                sum += p[e];
            }
            dw[e] = (float) sum;
        }
    }
}
