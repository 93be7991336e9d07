package io.jdl.backend.cpu;

import io.jdl.backend.ConvShape;
import io.jdl.cpunative.OneDnnGemm;
import io.jdl.cpunative.OpenMp;
import java.util.Arrays;

/**
 * Convolution as im2col and oneDNN's sgemm ({@link OneDnnGemm}) on the plain NCHW / OIHW arrays themselves: no
 * copy off the heap, no reorder to a blocked layout. The images are cut into chunks whose column matrix fits a
 * core's L2 cache; each chunk runs on one of jdl's pool threads, its products on that thread alone
 * ({@link OpenMp#onOneThread}), so unrolling and product share the cache. Per group, with {@code col} the chunk's
 * unrolled input [(c, r, s), (img, i, j)] and {@code dyc}/{@code yc} the chunk's output rows gathered the same way
 * [k, (img, i, j)]:
 * <ul>
 *   <li>forward: {@code yc = W · col}, scattered back to y's images;</li>
 *   <li>backward data: {@code dcol = Wᵀ · dyc}, added back onto dx (col2im);</li>
 *   <li>backward weights: {@code dW_slice += dyc · colᵀ}, one product over all the chunk's pixels, accumulated
 *       (beta = 1) over the chunks of one of {@value #SLICES} fixed slices of the batch; the slices' partial sums
 *       are added in slice order at the end (results do not depend on scheduling or the thread count).</li>
 * </ul>
 * Precision: float32 products as oneDNN's own convolutions (the filter gradient's sum over images is float32 too). Every element of every scratch array is written before it is read (the arrays
 * come from {@link CpuArrayPool} with old contents).
 */
final class GemmConv {
    /** Bytes of a chunk's column matrix: half of this machine's 1 MiB L2 per core, the rest for W and dy. */
    static final long COLUMN_BYTES = 512 << 10;

    private GemmConv() {
    }

    /** Whether every scratch array has an int length: a chunk's columns and rows, the filter gradient's partials. */
    static boolean fits(ConvShape s) {
        long ld = (long) imagesPerChunk(s) * s.outH() * s.outW();
        long longest = Math.max(Math.max(rows(s), s.k() / s.groups()) * ld, (long) SLICES * s.k() * rows(s));
        return longest < Integer.MAX_VALUE - 64;
    }

    /** Rows of a group's column matrix: (c, r, s). */
    private static int rows(ConvShape s) {
        return s.c() / s.groups() * s.r() * s.s();
    }

    /** Images per chunk: as many as keep the column matrix within {@link #COLUMN_BYTES}, at least one. */
    static int imagesPerChunk(ConvShape s) {
        long perImage = (long) rows(s) * s.outH() * s.outW() * Float.BYTES;
        return (int) Math.max(1, Math.min(s.n(), COLUMN_BYTES / Math.max(1, perImage)));
    }

    private static int chunks(ConvShape s, int perChunk) {
        return (s.n() + perChunk - 1) / perChunk;
    }

    /** Multiply-adds; saturates (it only decides whether to spread the work). */
    private static long work(ConvShape s) {
        double f = (double) s.n() * s.k() * s.outH() * s.outW() * rows(s);
        return f >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) f;
    }

    /** y [n, k, oh, ow] = conv(x [n, c, h, w], w [k, c/g, r, s]). */
    static void forward(ConvShape s, float[] x, float[] w, float[] y) {
        int ohw = s.outH() * s.outW(), g = s.groups(), cpg = s.c() / g, kpg = s.k() / g, rows = rows(s);
        int per = imagesPerChunk(s), ld = per * ohw;
        CpuParallel.forEach(chunks(s, per), work(s), t -> OpenMp.onOneThread(() -> {
            int first = t * per, count = Math.min(per, s.n() - first), cols = count * ohw;
            float[] col = CpuArrayPool.take(rows * ld), yc = CpuArrayPool.take(kpg * ld);
            try {
                for (int gi = 0; gi < g; gi++) {
                    for (int b = 0; b < count; b++) {
                        im2col(s, x, first + b, gi * cpg, col, b * ohw, ld);
                    }
                    OneDnnGemm.sgemm(false, false, kpg, cols, rows, w, gi * kpg * rows, rows, col, 0, ld, yc, 0, ld);
                    for (int b = 0; b < count; b++) {
                        for (int kk = 0; kk < kpg; kk++) { // yc [k, (img, pixel)] -> y [img, k, pixel]
                            System.arraycopy(yc, kk * ld + b * ohw, y, ((first + b) * s.k() + gi * kpg + kk) * ohw, ohw);
                        }
                    }
                }
            } finally {
                CpuArrayPool.give(col);
                CpuArrayPool.give(yc);
            }
        }));
    }

    /** dx [n, c, h, w] = the gradient of Σ dy·conv(x, w) with respect to x (overwritten). */
    static void backwardData(ConvShape s, float[] w, float[] dy, float[] dx) {
        int ohw = s.outH() * s.outW(), g = s.groups(), cpg = s.c() / g, kpg = s.k() / g, rows = rows(s);
        int per = imagesPerChunk(s), ld = per * ohw, hw = s.h() * s.w();
        CpuParallel.forEach(chunks(s, per), work(s), t -> OpenMp.onOneThread(() -> {
            int first = t * per, count = Math.min(per, s.n() - first), cols = count * ohw;
            float[] dcol = CpuArrayPool.take(rows * ld), dyc = CpuArrayPool.take(kpg * ld);
            try {
                Arrays.fill(dx, first * s.c() * hw, (first + count) * s.c() * hw, 0f);
                for (int gi = 0; gi < g; gi++) {
                    gatherRows(s, dy, first, count, gi * kpg, kpg, dyc, ld);
                    // dcol [(c, r, s), cols] = W_gᵀ · dyc: W_g is [kpg, rows], read transposed.
                    OneDnnGemm.sgemm(true, false, rows, cols, kpg, w, gi * kpg * rows, rows, dyc, 0, ld, dcol, 0, ld);
                    for (int b = 0; b < count; b++) {
                        col2im(s, dcol, b * ohw, ld, dx, first + b, gi * cpg);
                    }
                }
            } finally {
                CpuArrayPool.give(dcol);
                CpuArrayPool.give(dyc);
            }
        }));
    }

    /**
     * Slices of the batch whose filter-gradient partial sums are kept: a fixed number (whatever the thread count,
     * so the sum's order, and its bits, are the same on every machine), enough to keep the threads busy.
     */
    static final int SLICES = 8;

    /** dw [k, c/g, r, s] = the gradient of Σ dy·conv(x, w) with respect to w (overwritten). */
    static void backwardWeights(ConvShape s, float[] x, float[] dy, float[] dw) {
        int ohw = s.outH() * s.outW(), g = s.groups(), cpg = s.c() / g, kpg = s.k() / g, rows = rows(s);
        int per = imagesPerChunk(s), ld = per * ohw, chunks = chunks(s, per), size = s.k() * rows;
        int slices = Math.min(SLICES, chunks);
        float[] partials = CpuArrayPool.take(slices * size); // [slice, k, rows]
        try {
            CpuParallel.forEach(slices, work(s), slice -> OpenMp.onOneThread(() -> {
                float[] col = CpuArrayPool.take(rows * ld), dyc = CpuArrayPool.take(kpg * ld);
                try {
                    for (int t = slice * chunks / slices, end = (slice + 1) * chunks / slices; t < end; t++) {
                        int first = t * per, count = Math.min(per, s.n() - first), cols = count * ohw;
                        float beta = t == slice * chunks / slices ? 0f : 1f; // the slice's first chunk overwrites
                        for (int gi = 0; gi < g; gi++) {
                            for (int b = 0; b < count; b++) {
                                im2col(s, x, first + b, gi * cpg, col, b * ohw, ld);
                            }
                            gatherRows(s, dy, first, count, gi * kpg, kpg, dyc, ld);
                            // partial [kpg, rows] (+)= dyc [kpg, cols] · colᵀ: col is [rows, cols], read transposed.
                            OneDnnGemm.sgemm(false, true, kpg, rows, cols, dyc, 0, ld, col, 0, ld, beta, partials,
                                    slice * size + gi * kpg * rows, rows);
                        }
                    }
                } finally {
                    CpuArrayPool.give(col);
                    CpuArrayPool.give(dyc);
                }
            }));
            System.arraycopy(partials, 0, dw, 0, size);
            for (int t = 1; t < slices; t++) { // fixed order: the same sums whichever thread ran which slice
                for (int e = 0, at = t * size; e < size; e++) {
                    dw[e] += partials[at + e];
                }
            }
        } finally {
            CpuArrayPool.give(partials);
        }
    }

    /** Copies channels [k0, k0 + kpg) of images [first, first + count) of dy into dyc [kpg, (img, pixel)], row stride ld. */
    private static void gatherRows(ConvShape s, float[] dy, int first, int count, int k0, int kpg, float[] dyc, int ld) {
        int ohw = s.outH() * s.outW();
        for (int b = 0; b < count; b++) {
            for (int kk = 0; kk < kpg; kk++) {
                System.arraycopy(dy, ((first + b) * s.k() + k0 + kk) * ohw, dyc, kk * ld + b * ohw, ohw);
            }
        }
    }

    /**
     * One kernel tap of one channel: its row in the column matrix, where the channel's plane starts in x, the
     * output rows [i0, i1) and columns [j0, j1) (j1 ≥ j0) whose input lies inside the plane, and the tap's offsets.
     */
    @FunctionalInterface
    private interface Tap {
        void at(int tapRow, int xBase, int i0, int i1, int j0, int j1, long offH, long offW);
    }

    /** Calls {@code body} for every tap (c, r, s) of channels [c0, c0 + c/g) of image img: im2col's and col2im's loop. */
    private static void forEachTap(ConvShape s, int img, int c0, Tap body) {
        int oh = s.outH(), ow = s.outW(), cpg = s.c() / s.groups();
        for (int c = 0; c < cpg; c++) {
            int xBase = (img * s.c() + c0 + c) * s.h() * s.w();
            for (int r = 0; r < s.r(); r++) {
                long offH = (long) r * s.dilationH();
                int i0 = CpuConv.firstValid(s.strideH(), s.padH(), offH);
                int i1 = CpuConv.endValid(s.strideH(), s.padH(), offH, s.h(), oh);
                for (int q = 0; q < s.s(); q++) {
                    long offW = (long) q * s.dilationW();
                    int j0 = CpuConv.firstValid(s.strideW(), s.padW(), offW);
                    int j1 = Math.max(j0, CpuConv.endValid(s.strideW(), s.padW(), offW, s.w(), ow));
                    body.at((c * s.r() + r) * s.s() + q, xBase, i0, i1, j0, j1, offH, offW);
                }
            }
        }
    }

    /** Whether output rows have the input's width at stride 1 ("same" convolutions): one shifted plane per tap. */
    private static boolean planeShift(ConvShape s) {
        return s.strideH() == 1 && s.strideW() == 1 && s.outW() == s.w();
    }

    /**
     * Unrolls channels [c0, c0 + c/g) of image img of x into col's rows (c, r, s), columns [at, at + oh·ow), row
     * stride ld: every element of those columns is written, padded taps as zeros.
     */
    static void im2col(ConvShape s, float[] x, int img, int c0, float[] col, int at, int ld) {
        int oh = s.outH(), ow = s.outW();
        boolean planeShift = planeShift(s);
        forEachTap(s, img, c0, (tap, xBase, i0, i1, j0, j1, offH, offW) -> {
            int rowAt = at + tap * ld;
            if (planeShift) {
                shiftedPlane(s, x, xBase, col, rowAt, i0, Math.max(i0, i1), j0, j1, offH, offW);
                return;
            }
            int w0 = j1 > j0 ? CpuConv.inputIndex(j0, s.strideW(), s.padW(), offW) : 0;
            for (int i = 0; i < oh; i++) {
                int o = rowAt + i * ow;
                if (i < i0 || i >= i1 || j1 == j0) { // a row of this tap wholly in the padding
                    Arrays.fill(col, o, o + ow, 0f);
                    continue;
                }
                Arrays.fill(col, o, o + j0, 0f);
                int xAt = xBase + CpuConv.inputIndex(i, s.strideH(), s.padH(), offH) * s.w() + w0;
                if (s.strideW() == 1) {
                    System.arraycopy(x, xAt, col, o + j0, j1 - j0);
                } else {
                    for (int j = j0; j < j1; j++, xAt += s.strideW()) {
                        col[o + j] = x[xAt];
                    }
                }
                Arrays.fill(col, o + j1, o + ow, 0f);
            }
        });
    }

    /**
     * One tap's column row when the output rows have the input's width at stride 1 (a "same" convolution):
     * then the row is the input plane shifted by one offset, {@code col[i·w + j] = x[(i + dh)·w + j + dw]}, so
     * the valid taps are one contiguous copy; the elements that copy wraps across row ends (j outside
     * [j0, j1)) and the rows wholly in the padding are then set to zero. One copy per tap instead of one per
     * output row.
     */
    private static void shiftedPlane(ConvShape s, float[] x, int xBase, float[] col, int rowAt, int i0, int i1,
                                     int j0, int j1, long offH, long offW) {
        int w = s.w(), ohw = s.outH() * w;
        if (i1 == i0 || j1 == j0) {
            Arrays.fill(col, rowAt, rowAt + ohw, 0f);
            return;
        }
        int from = i0 * w + j0, to = (i1 - 1) * w + j1; // output pixels [from, to) hold every valid tap
        int xFrom = xBase + CpuConv.inputIndex(i0, 1, s.padH(), offH) * w + CpuConv.inputIndex(j0, 1, s.padW(), offW);
        Arrays.fill(col, rowAt, rowAt + from, 0f);
        System.arraycopy(x, xFrom, col, rowAt + from, to - from);
        Arrays.fill(col, rowAt + to, rowAt + ohw, 0f);
        for (int i = i0; i < i1; i++) { // the wrapped elements between the valid runs of consecutive rows
            int o = rowAt + i * w;
            for (int j = 0; j < j0; j++) {
                col[o + j] = 0f;
            }
            for (int j = j1; j < w; j++) {
                col[o + j] = 0f;
            }
        }
    }

    /** Adds dcol's rows (c, r, s), columns [at, at + oh·ow) (row stride ld) onto channels [c0, c0 + c/g) of image img of dx. */
    static void col2im(ConvShape s, float[] dcol, int at, int ld, float[] dx, int img, int c0) {
        int ow = s.outW();
        boolean planeShift = planeShift(s);
        forEachTap(s, img, c0, (tap, xBase, i0, i1, j0, j1, offH, offW) -> {
            if (j1 == j0) {
                return; // this tap sees only padding along the width
            }
            int rowAt = at + tap * ld;
            if (planeShift) {
                addShiftedPlane(s, dcol, rowAt, dx, xBase, i0, i1, j0, j1, offH, offW);
                return;
            }
            int w0 = CpuConv.inputIndex(j0, s.strideW(), s.padW(), offW);
            for (int i = i0; i < i1; i++) {
                int xAt = xBase + CpuConv.inputIndex(i, s.strideH(), s.padH(), offH) * s.w() + w0;
                int o = rowAt + i * ow;
                for (int j = j0; j < j1; j++, xAt += s.strideW()) {
                    dx[xAt] += dcol[o + j];
                }
            }
        });
    }

    /**
     * col2im's counterpart of {@link #shiftedPlane}: adds one tap's row onto the input plane shifted by one offset,
     * as one contiguous loop (vectorised by the JIT) over the pixels holding every valid tap. The elements of that
     * range that wrap across row ends belong to no input pixel of this row: they are zeroed in dcol (scratch,
     * read once) first, so they add nothing.
     */
    private static void addShiftedPlane(ConvShape s, float[] dcol, int rowAt, float[] dx, int xBase, int i0, int i1,
                                        int j0, int j1, long offH, long offW) {
        int w = s.w();
        if (i1 <= i0) {
            return;
        }
        for (int i = i0; i < i1; i++) {
            int o = rowAt + i * w;
            for (int j = 0; j < j0; j++) {
                dcol[o + j] = 0f;
            }
            for (int j = j1; j < w; j++) {
                dcol[o + j] = 0f;
            }
        }
        int from = i0 * w + j0, to = (i1 - 1) * w + j1;
        int xFrom = xBase + CpuConv.inputIndex(i0, 1, s.padH(), offH) * w + CpuConv.inputIndex(j0, 1, s.padW(), offW);
        int d = rowAt + from, len = to - from;
        for (int p = 0; p < len; p++) {
            dx[xFrom + p] += dcol[d + p];
        }
    }
}
