package io.jdl.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.ConvShape;
import io.jdl.cpunative.CpuNativeLibraries;
import io.jdl.cpunative.CpuNativeLibraries.Library;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link GemmConv} (im2col and oneDNN's sgemm) against the Java kernels ({@link CpuConv}, the oracle) in all three
 * directions, called directly so that every shape runs it whichever path {@link NativeConv} picks: odd geometries,
 * chunk boundaries, and scratch and result arrays full of NaN beforehand (a read of an element not written first
 * would show). Tolerance and helpers: {@link NativeCpuKernelsTest}'s (float32 rounding of a sum of k products).
 */
class GemmConvTest {
    /**
     * Whether oneDNN can be loaded here: GemmConv calls it whatever jdl.cpu.native says (these tests call it
     * directly); where it cannot (surefire's cpu-without-onednn execution) the convolutions must not take it.
     */
    private static boolean oneDnnHere() {
        if (CpuNativeLibraries.isAvailable(Library.ONEDNN)) {
            return true;
        }
        assertFalse(NativeConv.active(), "no oneDNN, yet the native convolution path is active");
        return false;
    }

    private static float[] nans(int n) {
        float[] v = new float[n];
        Arrays.fill(v, Float.NaN);
        return v;
    }

    /** Puts NaN-filled arrays of every length GemmConv takes from the pool for s there, so it gets them back. */
    private static void poisonThePool(ConvShape s) {
        int per = GemmConv.imagesPerChunk(s), ld = per * s.outH() * s.outW(), rows = s.c() / s.groups() * s.r() * s.s();
        int chunks = (s.n() + per - 1) / per, kpg = s.k() / s.groups();
        for (int copies = 0; copies < 2 * CpuParallel.threads(); copies++) {
            CpuArrayPool.give(nans(rows * ld));
            CpuArrayPool.give(nans(kpg * ld));
        }
        CpuArrayPool.give(nans(Math.min(GemmConv.SLICES, chunks) * s.k() * rows));
    }

    private static void check(ConvShape s, Random rng) {
        NativeCpuKernelsTest.ConvOracle o = NativeCpuKernelsTest.ConvOracle.of(s, rng);
        float[] y = nans(o.y().length), dx = nans(o.x().length), dw = nans(o.w().length);
        poisonThePool(s);
        GemmConv.forward(s, o.x(), o.w(), y);
        poisonThePool(s);
        GemmConv.backwardData(s, o.w(), o.dy(), dx);
        poisonThePool(s);
        GemmConv.backwardWeights(s, o.x(), o.dy(), dw);
        o.assertMatches("GemmConv", y, dx, dw);
    }

    @Test
    void matchesTheJavaKernelOnOddShapes() {
        if (!oneDnnHere()) {
            return;
        }
        Random rng = new Random(21);
        List<ConvShape> shapes = new ArrayList<>(List.of(
                // (n, c, h, w, k, r, s, padH, padW, strideH, strideW, dilationH, dilationW, groups)
                new ConvShape(128, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1), // the cnn sample's second layer
                new ConvShape(1, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1), // batch 1
                new ConvShape(8, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1),
                new ConvShape(3, 3, 17, 13, 5, 3, 2, 2, 0, 2, 3, 1, 1, 1), // non-square, strides 2x3
                new ConvShape(2, 6, 19, 21, 9, 3, 3, 2, 1, 1, 2, 2, 2, 3), // dilation 2, groups 3
                new ConvShape(5, 4, 9, 9, 4, 5, 5, 3, 3, 2, 2, 1, 1, 2),
                new ConvShape(4, 8, 15, 15, 16, 3, 3, 1, 1, 2, 2, 1, 1, 1), // a ResNet stage entry
                new ConvShape(1, 127, 7, 7, 3, 1, 1, 0, 0, 1, 1, 1, 1, 1), // 1x1, channels not a multiple of 16
                new ConvShape(6, 2, 16, 16, 2, 3, 3, 2, 2, 2, 2, 3, 3, 1),
                new ConvShape(2, 4, 12, 10, 8, 3, 3, 1, 1, 1, 1, 1, 1, 4), // one channel per group
                new ConvShape(9, 3, 6, 6, 7, 6, 6, 0, 0, 1, 1, 1, 1, 1),
                new ConvShape(3, 5, 9, 11, 6, 3, 5, 1, 2, 1, 1, 1, 1, 1), // "same", non-square kernel: shifted planes
                new ConvShape(3, 5, 9, 11, 6, 3, 3, 2, 2, 1, 1, 2, 2, 1), // "same" with dilation 2
                new ConvShape(2, 3, 5, 4, 4, 3, 3, 4, 1, 1, 1, 1, 1, 1), // rows wholly in the padding
                new ConvShape(4, 1, 28, 28, 64, 4, 4, 0, 0, 4, 4, 1, 1, 1))); // a patch embedding
        for (int i = 0; i < 8; i++) { // random odd shapes
            int g = 1 + rng.nextInt(3), c = g * (1 + rng.nextInt(5)), k = g * (1 + rng.nextInt(5));
            int r = 1 + rng.nextInt(4), s = 1 + rng.nextInt(4), dil = 1 + rng.nextInt(2);
            int h = (r - 1) * dil + 1 + rng.nextInt(12), w = (s - 1) * dil + 1 + rng.nextInt(12);
            int stride = 1 + rng.nextInt(3);
            shapes.add(new ConvShape(1 + rng.nextInt(9), c, h, w, k, r, s, rng.nextInt(r), rng.nextInt(s), stride,
                    i % 2 == 0 ? stride : 1 + rng.nextInt(3), dil, dil, g));
        }
        for (ConvShape s : shapes) {
            check(s, rng);
        }
    }

    /**
     * Batches that are not a multiple of the images per chunk (the last chunk short, or of one image), and batches
     * of more chunks than slices, whose filter-gradient partials accumulate over chunks (sgemm's beta = 1).
     */
    @Test
    void aShortLastChunkAndAccumulatedChunksAreComputedWhole() {
        if (!oneDnnHere()) {
            return;
        }
        Random rng = new Random(22);
        ConvShape full = new ConvShape(128, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        int per = GemmConv.imagesPerChunk(full);
        assertTrue(per > 1 && per < full.n(), "the test needs several images per chunk and several chunks, got " + per);
        assertTrue((full.n() + per - 1) / per >= 2 * GemmConv.SLICES, "the test needs several chunks per slice");
        for (int n : new int[] {per + 1, 2 * per - 1, 3 * per + per / 2, 127}) {
            check(new ConvShape(n, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1), rng);
        }
    }

    /** The rule of NativeConv: which directions run as GEMMs, by input channels per group. */
    @Test
    void theRulePicksTheGemmWhereItWasMeasuredFaster() {
        if (!oneDnnHere()) {
            return;
        }
        ConvShape first = new ConvShape(128, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1); // cnn's first layer
        ConvShape second = new ConvShape(128, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1); // cnn's second layer
        ConvShape wide = new ConvShape(128, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1); // the ResNet's last stage
        ConvShape thin = new ConvShape(128, 16, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1); // the ResNet's first stage
        ConvShape patches = new ConvShape(128, 3, 32, 32, 64, 4, 4, 0, 0, 4, 4, 1, 1, 1); // RGB patch embedding
        ConvShape wider = new ConvShape(128, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1); // cnn32's second layer
        for (NativeConv.Direction d : NativeConv.Direction.values()) {
            boolean weights = d == NativeConv.Direction.BACKWARD_WEIGHTS;
            String where = d.toString();
            assertEquals(!weights, NativeConv.viaGemm(first, d), "cnn's first layer, " + where);
            assertEquals(!weights, NativeConv.viaGemm(patches, d), "RGB patches, " + where);
            assertFalse(NativeConv.viaGemm(second, d), "cnn's second layer, " + where);
            assertFalse(NativeConv.viaGemm(wide, d), "64 channels, " + where);
            assertFalse(NativeConv.viaGemm(thin, d), "16 output channels, " + where);
            assertFalse(NativeConv.viaGemm(wider, d), "32 input channels, " + where);
        }
    }

    @Test
    void theSwitchIsAutoOrOffAndAnythingElseIsNamed() {
        assertTrue(NativeConv.gemmAllowed(" AUTO "));
        assertFalse(NativeConv.gemmAllowed("off"));
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> NativeConv.gemmAllowed("on"));
        assertTrue(e.getMessage().contains("'on'") && e.getMessage().contains("auto or off"), e.getMessage());
    }
}
