package io.jdl.cpunative;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jdl.BuiltFromSource;
import io.jdl.autograd.GradCheck;
import io.jdl.cpunative.CpuNativeLibraries.Library;
import java.io.IOException;
import java.io.InputStream;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * oneDNN convolutions on the Java arrays in place ({@link OneDnnHeapCall}) against the same primitives on copies:
 * the same kernels and reorders, so the same bits, in every direction, with and without a bias; and what guards the
 * native side (array lengths, the switch, the committed library's freshness).
 */
class OneDnnHeapCallTest {
    private static final OneDnnConvolution.ParallelLoop SERIAL = (count, work, body) -> IntStream.range(0, count).forEach(body);

    private static void assumeOneDnn() {
        assumeTrue(CpuNativeLibraries.isAvailable(Library.ONEDNN)
                && !"explicit-only".equals(System.getProperty("jdl.cpu.library.search")), "oneDNN is not installed here");
    }

    /** On the machines jdl is built for (linux-x86_64 with oneDNN), the library loads: the fast path is not lost silently. */
    @Test
    void loadsWhereOneDnnIsInstalledOnLinuxX8664() {
        assumeOneDnn();
        assumeTrue(OneDnnHeapCall.disabledBy(System.getProperty("jdl.cpu.onednn.heap", "auto")) == null, "switched off");
        assertTrue(OneDnnHeapCall.available(), "libjdl_onednn_call did not load: " + OneDnnHeapCall.unavailableReason());
    }

    @Test
    void inPlaceAndCopiedGiveIdenticalBits() {
        assumeOneDnn();
        assumeTrue(OneDnnHeapCall.available(), () -> "heap calls unavailable: " + OneDnnHeapCall.unavailableReason());
        Random rng = new Random(5);
        int[][] shapes = { // n, c, h, w, k, r, s, stride, pad, dilation, groups
            {16, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1},  // blocked layouts everywhere
            {3, 5, 11, 9, 7, 3, 2, 2, 1, 1, 1},       // channels not a multiple of the block (padded)
            {2, 6, 10, 10, 9, 3, 3, 1, 2, 2, 3},      // groups and dilation
            {4, 32, 8, 8, 16, 1, 1, 1, 0, 1, 1}};     // 1x1
        for (int[] d : shapes) {
            int n = d[0], c = d[1], h = d[2], w = d[3], k = d[4], r = d[5], s = d[6], st = d[7], p = d[8], dil = d[9],
                    g = d[10];
            int oh = (h + 2 * p - dil * (r - 1) - 1) / st + 1, ow = (w + 2 * p - dil * (s - 1) - 1) / st + 1;
            float[] x = GradCheck.randn(rng, n * c * h * w), wt = GradCheck.randn(rng, k * (c / g) * r * s), bias = GradCheck.randn(rng, k);
            float[] dy = GradCheck.randn(rng, n * k * oh * ow);
            float[][] got = new float[2][];
            for (int mode = 0; mode < 2; mode++) {
                try (OneDnnConvolution conv = new OneDnnConvolution(n, c, h, w, k, r, s, oh, ow, st, st, p, p, dil, dil,
                        g, SERIAL, mode == 0)) {
                    float[] y = new float[dy.length], yb = new float[dy.length];
                    float[] dx = new float[x.length], dw = new float[wt.length], db = new float[k];
                    float[] dx2 = new float[x.length], dw2 = new float[wt.length];
                    conv.forward(x, wt, null, y);
                    conv.forward(x, wt, bias, yb);
                    conv.backward(x, wt, dy, dx, dw, db);
                    conv.backward(x, wt, dy, null, dw2, null);
                    conv.backward(x, wt, dy, dx2, null, null);
                    got[mode] = concat(y, yb, dx, dw, db, dx2, dw2);
                }
            }
            assertArrayEquals(got[1], got[0], "in place vs copies, shape " + Arrays.toString(d));
            float[] any = got[0];
            assertTrue(IntStream.range(0, any.length).anyMatch(i -> any[i] != 0f), "a result at all");
        }
    }

    /** oneDNN does not check bounds: an array shorter than its tensor must be refused before any native call. */
    @Test
    void anArrayShorterThanItsTensorIsRefusedInEveryRole() {
        assumeOneDnn();
        for (boolean inPlace : OneDnnHeapCall.available() ? new boolean[] {true, false} : new boolean[] {false}) {
            try (OneDnnConvolution conv = new OneDnnConvolution(2, 16, 8, 8, 16, 3, 3, 8, 8, 1, 1, 1, 1, 1, 1, 1, SERIAL,
                    inPlace)) {
                float[] x = new float[2 * 16 * 64], w = new float[16 * 16 * 9], y = new float[2 * 16 * 64];
                float[] shortX = new float[x.length - 1], shortW = new float[w.length - 1], shortY = new float[y.length - 1];
                String[] roles = {"x", "w", "y", "bias"};
                Runnable[] calls = {
                    () -> conv.forward(shortX, w, null, y), () -> conv.forward(x, shortW, null, y),
                    () -> conv.forward(x, w, null, shortY), () -> conv.forward(x, w, new float[15], y)};
                for (int i = 0; i < calls.length; i++) {
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, calls[i]::run);
                    assertTrue(e.getMessage().contains("operand " + roles[i] + " "), e.getMessage());
                }
                assertThrows(IllegalArgumentException.class, () -> conv.backward(x, w, shortY, new float[x.length],
                        new float[w.length], new float[16]));
                assertThrows(IllegalArgumentException.class, () -> conv.backward(x, w, y, shortX, null, null));
                conv.forward(x, w, null, y); // still usable
            }
        }
    }

    @Test
    void theSwitchIsAutoOrOffAndAnythingElseIsNamed() {
        assertEquals("jdl.cpu.onednn.heap=off", OneDnnHeapCall.disabledBy(" OFF "));
        if (System.getProperty("os.name").equals("Linux") && System.getProperty("os.arch").equals("amd64")) {
            assertNull(OneDnnHeapCall.disabledBy("auto"));
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> OneDnnHeapCall.disabledBy("on"));
        assertTrue(e.getMessage().contains("jdl.cpu.onednn.heap is 'on'"), e.getMessage());
    }

    /** The committed library was built from the committed source (scripts/build-native-cpu records its hash), and is one. */
    @Test
    void theCommittedLibraryWasBuiltFromTheCurrentSource() throws IOException, NoSuchAlgorithmException {
        BuiltFromSource.assertBuiltFrom("native/cpu/jdl_onednn_call.c", OneDnnHeapCall.RESOURCE.replace(".so", ".sha256"),
                "scripts/build-native-cpu");
        try (InputStream in = OneDnnHeapCall.class.getResourceAsStream(OneDnnHeapCall.RESOURCE)) {
            assertTrue(in != null, "missing " + OneDnnHeapCall.RESOURCE + ": run scripts/build-native-cpu");
            byte[] head = in.readNBytes(4);
            assertArrayEquals(new byte[] {0x7f, 'E', 'L', 'F'}, head, "an ELF shared library");
        }
    }

    private static float[] concat(float[]... parts) {
        float[] all = new float[Arrays.stream(parts).mapToInt(a -> a.length).sum()];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }
}
