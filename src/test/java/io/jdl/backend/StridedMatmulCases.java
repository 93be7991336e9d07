package io.jdl.backend;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Odd-shaped two-level strided matmuls ({@link MatrixBatch}) for the CPU reference test and the CPU/GPU
 * parity test: interleaved heads, padded rows, offsets, broadcast (stride 0) operands, both transposes.
 */
record StridedMatmulCases(boolean transA, boolean transB, int outer, int inner, int m, int n, int k,
                          Layout a, Layout b, Layout c) {
    /** An operand's placement: offset, row stride, outer and inner strides, and the storage size it needs. */
    record Layout(long offset, int rowStride, long outerStride, long innerStride, int size) {
        MatrixBatch on(Storage s) {
            return new MatrixBatch(s, offset, rowStride, outerStride, innerStride);
        }

        /** Index of element (o, i, r, col) of the operand as stored. */
        int at(int o, int i, int r, int col) {
            return Math.toIntExact(offset + o * outerStride + i * innerStride + (long) r * rowStride + col);
        }
    }

    /** rows × cols matrices laid out as heads of a [outer, rows, inner·parts, cols] tensor, part {@code part}. */
    static Layout interleaved(int outer, int inner, int rows, int cols, int parts, int part, int pad) {
        int row = inner * parts * cols + pad;
        return new Layout((long) part * inner * cols, row, (long) rows * row, cols, outer * rows * row);
    }

    /** Packed matrices with extra floats between rows and a leading offset; stride 0 on a level broadcasts. */
    static Layout padded(int outer, int inner, int rows, int cols, int pad, int offset, boolean broadcastOuter) {
        int row = cols + pad;
        long one = (long) rows * row;
        return new Layout(offset, row, broadcastOuter ? 0 : one * inner, one,
                Math.toIntExact(offset + (broadcastOuter ? 1 : outer) * inner * one));
    }

    static List<StridedMatmulCases> all() {
        List<StridedMatmulCases> cases = new ArrayList<>();
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                int outer = 3, inner = 5, m = 7, n = 9, k = 11;
                // A and B as heads inside a fused [outer, rows, 3, inner, cols] tensor, C interleaved too.
                cases.add(new StridedMatmulCases(ta, tb, outer, inner, m, n, k,
                        interleaved(outer, inner, ta ? k : m, ta ? m : k, 3, 0, 0),
                        interleaved(outer, inner, tb ? n : k, tb ? k : n, 3, 2, 0),
                        interleaved(outer, inner, m, n, 1, 0, 0)));
                // Padded rows, offsets, A broadcast over the outer level, a long k (float64 blocks on the CPU).
                int kk = 300;
                cases.add(new StridedMatmulCases(ta, tb, 2, 3, 5, 4, kk,
                        padded(2, 3, ta ? kk : 5, ta ? 5 : kk, 3, 7, true),
                        padded(2, 3, tb ? 4 : kk, tb ? kk : 4, 1, 2, false),
                        padded(2, 3, 5, 4, 2, 5, false)));
            }
        }
        // One matrix; and many tiny ones with heads wider than the batch.
        cases.add(new StridedMatmulCases(false, false, 1, 1, 1, 1, 1, padded(1, 1, 1, 1, 0, 0, false),
                padded(1, 1, 1, 1, 0, 0, false), padded(1, 1, 1, 1, 0, 0, false)));
        cases.add(new StridedMatmulCases(false, true, 2, 6, 3, 3, 2, interleaved(2, 6, 3, 2, 3, 1, 1),
                interleaved(2, 6, 3, 2, 3, 0, 1), interleaved(2, 6, 3, 3, 1, 0, 1)));
        return cases;
    }

    static float[] random(Random rng, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return v;
    }

    /** Runs this case on {@code backend}: C's storage starts as {@code c0}, so untouched gaps must keep it. */
    float[] run(Backend backend, float[] av, float[] bv, float[] c0) {
        try (Storage sa = backend.upload(av); Storage sb = backend.upload(bv); Storage sc = backend.upload(c0)) {
            backend.matmul(transA, transB, outer, inner, m, n, k, a.on(sa), b.on(sb), c.on(sc));
            return backend.download(sc, c0.length);
        }
    }

    /** The naive triple loop in float64. */
    float[] reference(float[] av, float[] bv, float[] c0) {
        float[] out = c0.clone();
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                for (int r = 0; r < m; r++) {
                    for (int col = 0; col < n; col++) {
                        double s = 0;
                        for (int p = 0; p < k; p++) {
                            s += (double) av[transA ? a.at(o, i, p, r) : a.at(o, i, r, p)]
                                    * bv[transB ? b.at(o, i, col, p) : b.at(o, i, p, col)];
                        }
                        out[c.at(o, i, r, col)] = (float) s;
                    }
                }
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return (transA ? "Aᵀ" : "A") + (transB ? "Bᵀ" : "B") + " " + outer + "x" + inner + " of " + m + "x" + n + "x"
                + k + " A" + a + " B" + b + " C" + c;
    }
}
