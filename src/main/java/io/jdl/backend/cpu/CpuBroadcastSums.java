package io.jdl.backend.cpu;

import java.util.Arrays;

/**
 * Broadcasting along a dimension and its adjoint, the sum along a dimension, plus their per-channel forms
 * (a convolution's bias and its gradient), on the CPU pool.
 *
 * <p>Sums add in float64 over blocks of {@link #BLOCK} terms, four running sums per block (one sum would
 * wait on each add's latency), and the blocks' sums in index order: the cut depends on the sizes only, so a
 * result does not depend on the thread count or scheduling.
 */
final class CpuBroadcastSums {
    /** Terms added by one task of a long sum. */
    static final int BLOCK = 1 << 14;

    private CpuBroadcastSums() {
    }

    /** out [outer, dim, inner] = x [outer, inner] repeated along dim. */
    static void broadcast(float[] x, float[] out, int outer, int dim, int inner) {
        long total = (long) outer * dim * inner;
        int slab = dim * inner;
        CpuParallel.forEachRange(total, 1, (from, to) -> {
            if (inner == 1) { // one value per slab: fills (the gradient of a full sum is this)
                for (int i = from; i < to; ) {
                    int o = i / slab, end = Math.min(to, (o + 1) * slab);
                    Arrays.fill(out, i, end, x[o]);
                    i = end;
                }
                return;
            }
            for (int i = from; i < to; ) {
                int o = i / slab, j = i % inner, len = Math.min(inner - j, to - i);
                System.arraycopy(x, o * inner + j, out, i, len);
                i += len;
            }
        });
    }

    /** out [outer, inner] = Σ over dim of x [outer, dim, inner]. */
    static void sum(float[] x, float[] out, int outer, int dim, int inner) {
        if (inner == 1) { // sums of contiguous rows, each cut into blocks
            int blocks = (dim + BLOCK - 1) / BLOCK;
            double[] partial = new double[outer * blocks];
            CpuParallel.forEach(outer * blocks, (long) outer * dim, t -> {
                int o = t / blocks, from = o * dim + t % blocks * BLOCK;
                partial[t] = sum(x, from, Math.min(from + BLOCK, (o + 1) * dim));
            });
            for (int o = 0; o < outer; o++) {
                double s = 0;
                for (int b = 0; b < blocks; b++) {
                    s += partial[o * blocks + b];
                }
                out[o] = (float) s;
            }
            return;
        }
        // x [outer, dim, inner] -> out [outer, inner]: rows of x added into a float64 row, walking memory in order
        // (a column walk per output element, stride inner, missed the cache on a bias gradient)
        int span = 1024, spans = (inner + span - 1) / span;
        CpuParallel.forEach(outer * spans, (long) outer * dim * inner, t -> {
            int o = t / spans, i0 = t % spans * span, len = Math.min(span, inner - i0);
            double[] acc = new double[len];
            for (int d = 0; d < dim; d++) {
                int row = (o * dim + d) * inner + i0;
                for (int i = 0; i < len; i++) {
                    acc[i] += x[row + i];
                }
            }
            for (int i = 0; i < len; i++) {
                out[o * inner + i0 + i] = (float) acc[i];
            }
        });
    }

    /** out [n, c, hw] = x [n, c, hw] + bias [c]; out may be x. */
    static void addChannelBias(float[] x, float[] bias, float[] out, int n, int c, int hw) {
        CpuParallel.forEach(n * c, (long) n * c * hw, plane -> {
            float b = bias[plane % c];
            for (int p = plane * hw, end = p + hw; p < end; p++) {
                out[p] = x[p] + b;
            }
        });
    }

    /** db [c] = Σ over n and hw of dy [n, c, hw] (overwritten). */
    static void channelBiasBackward(float[] dy, float[] db, int n, int c, int hw) {
        double[] planes = new double[n * c]; // [n, c]: each plane's sum, added per channel in image order
        CpuParallel.forEach(n * c, (long) n * c * hw, plane -> planes[plane] = sum(dy, plane * hw, (plane + 1) * hw));
        for (int ch = 0; ch < c; ch++) {
            double acc = 0;
            for (int i = 0; i < n; i++) {
                acc += planes[i * c + ch];
            }
            db[ch] = (float) acc;
        }
    }

    /** Σ x[from, to) in float64, four running sums over interleaved terms added at the end. */
    static double sum(float[] x, int from, int to) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = from;
        for (; i + 4 <= to; i += 4) {
            s0 += x[i];
            s1 += x[i + 1];
            s2 += x[i + 2];
            s3 += x[i + 3];
        }
        for (; i < to; i++) {
            s0 += x[i];
        }
        return (s0 + s1) + (s2 + s3);
    }
}
