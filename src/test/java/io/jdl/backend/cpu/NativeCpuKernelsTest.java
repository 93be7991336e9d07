package io.jdl.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.ConvShape;
import io.jdl.backend.MatrixBatch;
import io.jdl.backend.Storage;
import io.jdl.cpunative.CpuNativeLibraries;
import io.jdl.cpunative.CpuNativeLibraries.Library;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The CPU backend's matrix products and convolutions (native through {@link NativeMatmul} / {@link NativeConv}
 * where the library is present, as on CI, which installs it) against the pure-Java kernels ({@link CpuMatmul},
 * {@link CpuConv}), the oracle, on random shapes including odd ones. Tolerance: float32 rounding of a sum of k
 * products, relative to Σ|products| (the native libraries accumulate in float32 in another order).
 */
class NativeCpuKernelsTest {
    private static final CpuBackend CPU = CpuBackend.INSTANCE;

    static float[] random(Random rng, long n) {
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return v;
    }

    /** |actual − expected| ≤ 4·k·2⁻²⁴·(typical |product| sum ≈ k) + 1e-5, elementwise, with the index in the message. */
    static void assertClose(String what, float[] expected, float[] actual, long k) {
        assertEquals(expected.length, actual.length, what + ": length");
        double tol = 4.0 * k * Math.ulp(1f) * Math.max(1, Math.sqrt(k)) + 1e-5;
        for (int i = 0; i < expected.length; i++) {
            double scale = Math.max(1, Math.abs(expected[i]));
            assertTrue(Math.abs(expected[i] - actual[i]) <= tol * scale,
                    what + " at " + i + ": Java " + expected[i] + ", backend " + actual[i] + " (tolerance " + tol * scale + ")");
        }
    }

    private static float[] backendMatmul(boolean ta, boolean tb, int batch, int m, int n, int k, float[] a, float[] b) {
        try (Storage as = CPU.upload(a); Storage bs = CPU.upload(b); Storage cs = CPU.allocate((long) batch * m * n)) {
            CPU.matmul(ta, tb, batch, m, n, k, as, bs, cs);
            return CPU.download(cs, (long) batch * m * n);
        }
    }

    @Test
    void matmulMatchesTheJavaKernelOnOddShapes() {
        Random rng = new Random(15);
        int[][] shapes = {{1, 1, 1, 1}, {1, 1, 300, 1}, {1, 3, 17, 127}, {2, 127, 3, 17}, {1, 128, 784, 1024},
                {3, 33, 65, 129}, {1, 512, 1, 200}, {1, 200, 257, 1}, {4, 64, 32, 64}, {2, 17, 1000, 3}, {1, 0, 5, 7},
                {2, 5, 0, 7}, {1, 5, 7, 0}};
        for (int[] sh : shapes) {
            int batch = sh[0], m = sh[1], n = sh[2], k = sh[3];
            for (int t = 0; t < 4; t++) {
                boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
                float[] a = random(rng, (long) batch * m * k), b = random(rng, (long) batch * k * n);
                float[] expected = new float[batch * m * n];
                CpuMatmul.matmul(ta, tb, batch, m, n, k, a, b, expected);
                assertClose("matmul batch " + batch + " m " + m + " n " + n + " k " + k + " transA " + ta + " transB " + tb,
                        expected, backendMatmul(ta, tb, batch, m, n, k, a, b), k);
            }
        }
    }

    /** Attention's layout: heads of a fused [B, T, 3, H, D] projection read in place, rows 3HD apart; and a broadcast. */
    @Test
    void stridedBatchedMatmulMatchesTheJavaKernel() {
        Random rng = new Random(18);
        int batch = 3, t = 37, heads = 4, d = 16, row = 3 * heads * d;
        float[] qkv = random(rng, (long) batch * t * row), v = random(rng, (long) t * d);
        try (Storage qkvs = CPU.upload(qkv); Storage vs = CPU.upload(v); Storage scores = CPU.allocate((long) batch * heads * t * t);
             Storage out = CPU.allocate((long) batch * heads * t * d)) {
            // scores[b, h] = q[b, :, h]·k[b, :, h]ᵀ: [t, d]·[d, t], both read in place from the projection.
            MatrixBatch q = new MatrixBatch(qkvs, 0, row, (long) t * row, d);
            MatrixBatch k = new MatrixBatch(qkvs, heads * d, row, (long) t * row, d);
            MatrixBatch s = new MatrixBatch(scores, 0, t, (long) heads * t * t, (long) t * t);
            float[] expected = new float[batch * heads * t * t];
            CpuMatmul.matmul(false, true, batch, heads, t, t, d, qkv, 0, row, (long) t * row, d, qkv, heads * d, row,
                    (long) t * row, d, expected, 0, t, (long) heads * t * t, (long) t * t);
            CPU.matmul(false, true, batch, heads, t, t, d, q, k, s);
            float[] sc = CPU.download(scores, expected.length);
            assertClose("q·kᵀ in place", expected, sc, d);
            // out[b, h] = scores[b, h]·v with one v for every (b, h): strides 0 broadcast it.
            MatrixBatch vb = new MatrixBatch(vs, 0, d, 0, 0), o = new MatrixBatch(out, 0, d, (long) heads * t * d, (long) t * d);
            float[] expectedOut = new float[batch * heads * t * d];
            CpuMatmul.matmul(false, false, batch, heads, t, d, t, sc, 0, t, (long) heads * t * t, (long) t * t, v, 0, d, 0, 0,
                    expectedOut, 0, d, (long) heads * t * d, (long) t * d);
            CPU.matmul(false, false, batch, heads, t, d, t, s, vb, o);
            assertClose("scores·v broadcast", expectedOut, CPU.download(out, expectedOut.length), t);
        }
    }

    @Test
    void convolutionMatchesTheJavaKernelForwardAndBackward() {
        Random rng = new Random(16);
        List<ConvShape> shapes = new ArrayList<>(List.of(
                // (n, c, h, w, k, r, s, padH, padW, strideH, strideW, dilationH, dilationW, groups)
                new ConvShape(128, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1), // the cnn sample's second layer
                new ConvShape(8, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1),
                new ConvShape(3, 3, 17, 13, 5, 3, 2, 2, 0, 2, 3, 1, 1, 1),
                new ConvShape(2, 6, 19, 21, 9, 3, 3, 2, 1, 1, 2, 2, 2, 3),
                new ConvShape(5, 4, 9, 9, 4, 5, 5, 3, 3, 2, 2, 1, 1, 2),
                new ConvShape(4, 8, 15, 15, 16, 3, 3, 1, 1, 2, 2, 1, 1, 1), // a ResNet stage entry
                new ConvShape(1, 127, 7, 7, 3, 1, 1, 0, 0, 1, 1, 1, 1, 1),
                new ConvShape(6, 2, 16, 16, 2, 3, 3, 2, 2, 2, 2, 3, 3, 1),
                new ConvShape(2, 4, 12, 10, 8, 3, 3, 1, 1, 1, 1, 1, 1, 4), // depthwise-like: 1 channel per group
                new ConvShape(9, 3, 6, 6, 7, 6, 6, 0, 0, 1, 1, 1, 1, 1)));
        for (int i = 0; i < 6; i++) { // random odd shapes
            int g = 1 + rng.nextInt(3), c = g * (1 + rng.nextInt(5)), k = g * (1 + rng.nextInt(5));
            int r = 1 + rng.nextInt(4), s = 1 + rng.nextInt(4), dil = 1 + rng.nextInt(2);
            int h = (r - 1) * dil + 1 + rng.nextInt(12), w = (s - 1) * dil + 1 + rng.nextInt(12);
            shapes.add(new ConvShape(1 + rng.nextInt(9), c, h, w, k, r, s, rng.nextInt(r), rng.nextInt(s),
                    1 + rng.nextInt(3), 1 + rng.nextInt(3), dil, dil, g));
        }
        for (ConvShape s : shapes) {
            ConvOracle o = ConvOracle.of(s, rng);
            try (Storage xs = CPU.upload(o.x); Storage ws = CPU.upload(o.w); Storage dys = CPU.upload(o.dy);
                 Storage ys = CPU.allocate(o.y.length); Storage dxs = CPU.allocate(o.x.length);
                 Storage dws = CPU.allocate(o.w.length)) {
                CPU.conv2d(s, xs, ws, ys);
                CPU.conv2dBackwardData(s, ws, dys, dxs);
                CPU.conv2dBackwardFilter(s, xs, dys, dws);
                o.assertMatches("conv2d", CPU.download(ys, o.y.length), CPU.download(dxs, o.x.length),
                        CPU.download(dws, o.w.length));
            }
        }
    }

    /**
     * The tensor layer's calls: a bias inside the forward convolution, and dx, dw, db from one backward call (dy
     * reordered once, db summed inside oneDNN's backward-weights kernel), in every combination of wanted gradients
     * (the unwanted ones stay untouched), against the Java kernels and Java bias sums.
     */
    @Test
    void biasInsideTheConvolutionAndOneCallBackwardMatchTheJavaKernels() {
        Random rng = new Random(19);
        List<ConvShape> shapes = List.of(
                new ConvShape(128, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1), // the cnn sample's second layer
                new ConvShape(8, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1),      // few channels: the GEMM path
                new ConvShape(2, 6, 19, 21, 9, 3, 3, 2, 1, 1, 2, 2, 2, 3),
                new ConvShape(4, 8, 15, 15, 16, 3, 3, 1, 1, 2, 2, 1, 1, 1));
        for (ConvShape s : shapes) {
            ConvOracle o = ConvOracle.of(s, rng);
            int hw = s.outH() * s.outW();
            float[] bias = random(rng, s.k()), yb = o.y.clone(), db = new float[s.k()];
            CpuBroadcastSums.addChannelBias(yb, bias, yb, s.n(), s.k(), hw);
            CpuBroadcastSums.channelBiasBackward(o.dy, db, s.n(), s.k(), hw);
            for (int wanted = 1; wanted < 8; wanted++) { // bits: dx, dw, db
                boolean wantDx = (wanted & 1) != 0, wantDw = (wanted & 2) != 0, wantDb = (wanted & 4) != 0;
                float[] untouched = {Float.NaN};
                try (Storage xs = CPU.upload(o.x); Storage ws = CPU.upload(o.w); Storage dys = CPU.upload(o.dy);
                     Storage bs = CPU.upload(bias); Storage ys = CPU.allocate(o.y.length);
                     Storage dxs = CPU.upload(filled(o.x.length, untouched[0]));
                     Storage dws = CPU.upload(filled(o.w.length, untouched[0]));
                     Storage dbs = CPU.upload(filled(s.k(), untouched[0]))) {
                    CPU.conv2d(s, xs, ws, bs, ys);
                    CPU.conv2dBackward(s, xs, ws, dys, wantDx ? dxs : null, wantDw ? dws : null, wantDb ? dbs : null);
                    String what = "conv2d with bias, gradients " + wanted + " " + s;
                    long depth = (long) (s.c() / s.groups()) * s.r() * s.s();
                    assertClose(what, yb, CPU.download(ys, yb.length), depth + 1);
                    float[] dx = CPU.download(dxs, o.x.length), dw = CPU.download(dws, o.w.length),
                            gotDb = CPU.download(dbs, s.k());
                    if (wantDx) {
                        assertClose(what + " dx", o.dx, dx, (long) (s.k() / s.groups()) * s.r() * s.s());
                    } else {
                        assertArrayEquals(filled(o.x.length, Float.NaN), dx, what + " dx untouched");
                    }
                    if (wantDw) {
                        assertClose(what + " dw", o.dw, dw, (long) s.n() * hw);
                    } else {
                        assertArrayEquals(filled(o.w.length, Float.NaN), dw, what + " dw untouched");
                    }
                    if (wantDb) {
                        assertClose(what + " db", db, gotDb, (long) s.n() * hw);
                    } else {
                        assertArrayEquals(filled(s.k(), Float.NaN), gotDb, what + " db untouched");
                    }
                }
            }
        }
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }

    /** Random x, w, dy for a shape and the Java kernels' y, dx, dw from them: what a native path must match. */
    record ConvOracle(ConvShape s, float[] x, float[] w, float[] dy, float[] y, float[] dx, float[] dw) {
        static ConvOracle of(ConvShape s, Random rng) {
            float[] x = random(rng, (long) s.n() * s.c() * s.h() * s.w());
            float[] w = random(rng, (long) s.k() * (s.c() / s.groups()) * s.r() * s.s());
            float[] dy = random(rng, (long) s.n() * s.k() * s.outH() * s.outW());
            float[] y = new float[dy.length], dx = new float[x.length], dw = new float[w.length];
            CpuConv.forward(s, x, w, y);
            CpuConv.backwardData(s, w, dy, dx);
            CpuConv.backwardFilter(s, x, dy, dw);
            return new ConvOracle(s, x, w, dy, y, dx, dw);
        }

        /** The three results within float32 rounding of the sums each element is (see {@link #assertClose}). */
        void assertMatches(String what, float[] actualY, float[] actualDx, float[] actualDw) {
            assertClose(what + " " + s, y, actualY, (long) (s.c() / s.groups()) * s.r() * s.s());
            assertClose(what + " backward data " + s, dx, actualDx, (long) (s.k() / s.groups()) * s.r() * s.s());
            assertClose(what + " backward filter " + s, dw, actualDw, (long) s.n() * s.outH() * s.outW());
        }
    }

    @Test
    void theNativePathRunsExactlyWhereOneDnnIsInstalledAndNotOff() {
        boolean expected = CpuNative.MODE != CpuNative.Mode.OFF && CpuNativeLibraries.isAvailable(Library.ONEDNN);
        assertEquals(expected, NativeMatmul.active(), "native matrix products (mode " + CpuNative.MODE + ")");
        assertEquals(expected, NativeConv.active(), "native convolutions (mode " + CpuNative.MODE + ")");
        float[] a = random(new Random(1), 64 * 64), c = new float[64 * 64];
        assertEquals(expected, NativeMatmul.matmul(false, false, 1, 64, 64, 64, a, a, c));
    }

    /** The surefire execution cpu-without-onednn pins the search to an empty folder: there the Java kernels must run. */
    @Test
    void withTheSearchPinnedToAnEmptyFolderTheJavaKernelsRun() {
        if ("explicit-only".equals(System.getProperty("jdl.cpu.library.search"))
                && !CpuNativeLibraries.isAvailable(Library.ONEDNN)) {
            assertFalse(NativeMatmul.active());
            assertFalse(NativeConv.active());
        } else {
            assertEquals(CpuNative.MODE != CpuNative.Mode.OFF && CpuNativeLibraries.isAvailable(Library.ONEDNN),
                    NativeConv.active());
        }
    }

    @Test
    void aNativeCallOnArraysShorterThanTheShapesIsRefusedNotRun() {
        if (NativeMatmul.active()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> NativeMatmul.matmul(false, false, 2, 64, 64, 64, new float[64 * 64], new float[2 * 64 * 64],
                            new float[2 * 64 * 64]));
            assertTrue(e.getMessage().contains("too short"), e.getMessage());
        } else {
            assertFalse(NativeMatmul.matmul(false, false, 2, 64, 64, 64, new float[64 * 64], new float[2 * 64 * 64],
                    new float[2 * 64 * 64]));
        }
    }

    /** The same inputs give the same bits twice (a seeded CPU run is reproducible, and resuming it bit-identical). */
    @Test
    void repeatedCallsGiveIdenticalBits() {
        Random rng = new Random(17);
        ConvShape s = new ConvShape(64, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        float[] x = random(rng, 64L * 16 * 14 * 14), w = random(rng, 32L * 16 * 9), dy = random(rng, 64L * 32 * 14 * 14);
        float[] a = random(rng, 300L * 700), b = random(rng, 300L * 500);
        float[][] first = null;
        for (int run = 0; run < 3; run++) {
            try (Storage xs = CPU.upload(x); Storage ws = CPU.upload(w); Storage dys = CPU.upload(dy);
                 Storage ys = CPU.allocate(dy.length); Storage dxs = CPU.allocate(x.length); Storage dws = CPU.allocate(w.length)) {
                CPU.conv2d(s, xs, ws, ys);
                CPU.conv2dBackwardData(s, ws, dys, dxs);
                CPU.conv2dBackwardFilter(s, xs, dys, dws);
                float[][] now = {CPU.download(ys, dy.length), CPU.download(dxs, x.length), CPU.download(dws, w.length),
                        backendMatmul(true, false, 1, 700, 500, 300, a, b)};
                if (first == null) {
                    first = now;
                } else {
                    for (int i = 0; i < now.length; i++) {
                        assertArrayEquals(first[i], now[i], "result " + i + " of run " + run);
                    }
                }
            }
        }
    }

    @Test
    void theModeIsOneOfThreeWordsAndAnythingElseIsNamed() {
        assertEquals(CpuNative.Mode.AUTO, CpuNative.mode(null));
        assertEquals(CpuNative.Mode.OFF, CpuNative.mode("off"));
        assertEquals(CpuNative.Mode.ON, CpuNative.mode(" ON "));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CpuNative.mode("fast"));
        assertTrue(e.getMessage().contains("'fast'") && e.getMessage().contains("auto, on or off"), e.getMessage());
    }
}
