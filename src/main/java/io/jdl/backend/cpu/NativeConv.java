package io.jdl.backend.cpu;

import io.jdl.backend.ConvShape;
import io.jdl.cpunative.CpuNativeLibraries.Library;
import io.jdl.cpunative.OneDnnConvolution;
import io.jdl.cpunative.OneDnnException;
import io.jdl.cpunative.OneDnnGemm;
import io.jdl.cpunative.OpenMp;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link CpuConv}'s native path, two ways, chosen per direction by the shape's channels (the rule below):
 * <ul>
 *   <li>oneDNN's direct convolution ({@link OneDnnConvolution}): built per shape (about a millisecond: it picks
 *       and compiles a kernel for this CPU), so the last {@value #CACHED} shapes' are kept, as PyTorch's oneDNN
 *       path caches its primitives; a shape oneDNN has no implementation for is remembered and runs on the Java
 *       kernel;</li>
 *   <li>im2col and oneDNN's sgemm on the arrays themselves ({@link GemmConv}): no copies, no reorders.</li>
 * </ul>
 * The rule, from interleaved A/B runs of both on the samples' convolutions at two threads, on the idle machine
 * (results/cpu/conv-gemm-vs-direct-ab-idle-20261202T0040Z.log; the loaded runs before it,
 * results/cpu/conv-gemm-vs-direct-ab.log, favoured the GEMM more). oneDNN 2.6's direct kernels work on blocks of 16
 * channels; the GEMM path pays for unrolling the input (r·s copies of it), which pays off when each unrolled element
 * feeds enough multiply-adds (k/g of them):
 * <ul>
 *   <li>with fewer than {@value #FEW_CHANNELS} input channels per group (a first layer on grey or RGB images, a
 *       patch embedding) the channel block is mostly padding: forward and backward data run as GEMMs (idle:
 *       0.2-0.8x oneDNN's time);</li>
 *   <li>backward weights stays on oneDNN's kernel: idle, the GEMM ({@link GemmConv#backwardWeights}, kept for
 *       these A/B runs) was even on the cnn sample's second layer (0.94x per call) and 1.1-1.8x slower on the other
 *       shapes, and the conv row through it was 1.20x slower
 *       (results/cpu/bench-cpu-conv-gemm-ab-idle-20261202T0039Z.log);</li>
 *   <li>otherwise oneDNN's direct convolution, faster there (forward and backward data from 16 input channels on:
 *       the GEMM took 1.2-3.5x as long).</li>
 * </ul>
 * A result depends on the path, so on the thread count too (as the Java kernels' results do); each path alone
 * gives the same bits for the same inputs.
 */
final class NativeConv {
    private static final Logger LOG = LoggerFactory.getLogger(NativeConv.class);

    /** Shapes whose oneDNN convolution is kept: a network's layers (forward and backward share one). */
    static final int CACHED = 32;

    /** Multiply-adds below which the Java kernel is as fast as the copies and the native call. */
    static final long MIN_WORK = 1L << 16;

    /** Input channels per group below which every direction runs as im2col + GEMM (the rule above). */
    static final int FEW_CHANNELS = 16;

    /**
     * System property {@code jdl.cpu.conv.gemm}: {@code auto} (default) applies the rule above; {@code off} runs
     * every direction on oneDNN's direct convolution (as before the GEMM path existed: for A/B runs, and a way
     * back should the rule pick the slower path on another CPU). Read once.
     */
    static final boolean GEMM_ALLOWED = gemmAllowed(System.getProperty("jdl.cpu.conv.gemm", "auto"));

    static boolean gemmAllowed(String value) {
        return switch (value.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "auto" -> true;
            case "off" -> false;
            default -> throw new IllegalArgumentException("jdl.cpu.conv.gemm is '" + value + "': expected auto or off");
        };
    }

    /** The three directions, for {@link #viaGemm}. */
    enum Direction { FORWARD, BACKWARD_DATA, BACKWARD_WEIGHTS }

    /** Whether {@code d} of {@code s} runs as im2col + GEMM rather than oneDNN's direct convolution (native active). */
    static boolean viaGemm(ConvShape s, Direction d) {
        if (!GEMM_ALLOWED || !Loaded.GEMM || !GemmConv.fits(s)) {
            return false;
        }
        return d != Direction.BACKWARD_WEIGHTS && s.c() / s.groups() < FEW_CHANNELS;
    }

    /** Null value: oneDNN refused the shape. Evicted convolutions are closed. */
    private static final Map<ConvShape, OneDnnConvolution> CACHE = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<ConvShape, OneDnnConvolution> eldest) {
            if (size() <= CACHED) {
                return false;
            }
            if (eldest.getValue() != null) {
                eldest.getValue().close();
            }
            return true;
        }
    };

    private NativeConv() {
    }

    /** Whether products (convolutions) of enough work go through the native library in this process. */
    static boolean active() {
        return CpuNative.MODE != CpuNative.Mode.OFF && Loaded.STATUS.usable();
    }

    private static final class Loaded {
        static final CpuNative.Status STATUS = CpuNative.tryLoad(Library.ONEDNN, "convolutions", OneDnnConvolution::ensureLoaded);
        /** Whether oneDNN's sgemm and its OpenMP runtime are there for {@link GemmConv}; without, the direct convolution runs. */
        static final boolean GEMM = gemmLoads();

        private static boolean gemmLoads() {
            try {
                OneDnnGemm.ensureLoaded();
                OpenMp.ensureLoaded();
                return true;
            } catch (RuntimeException | LinkageError e) {
                LOG.debug("convolutions as GEMMs unavailable, oneDNN's direct convolution runs every direction: {}", e.toString());
                return false;
            }
        }
    }

    /**
     * y = conv(x, w) + bias ({@code bias} null: none) natively, the bias inside oneDNN's kernel; false (nothing
     * done) when the Java kernel is to run it.
     */
    static boolean forward(ConvShape s, float[] x, float[] w, float[] bias, float[] y) {
        if (worthIt(s) && viaGemm(s, Direction.FORWARD)) {
            GemmConv.forward(s, x, w, y);
            if (bias != null) {
                CpuBroadcastSums.addChannelBias(y, bias, y, s.n(), s.k(), s.outH() * s.outW());
            }
            return true;
        }
        OneDnnConvolution conv = of(s);
        if (conv != null) {
            conv.forward(x, w, bias, y);
        }
        return conv != null;
    }

    /** Bits of {@link #backward}'s answer: which gradients it computed. */
    static final int DX = 1, DW = 2, DB = 4;

    /**
     * dx, dw and db (each null when not wanted) natively, as far as the rule allows; returns the bits ({@link #DX},
     * {@link #DW}, {@link #DB}) of those it computed, the rest being the Java kernels' to run. Directions on oneDNN
     * run as one call ({@link OneDnnConvolution#backward}): dy is brought into the kernels' layout once, and db is
     * summed inside the backward-weights kernel.
     */
    static int backward(ConvShape s, float[] x, float[] w, float[] dy, float[] dx, float[] dw, float[] db) {
        int done = 0;
        if (dx != null && worthIt(s) && viaGemm(s, Direction.BACKWARD_DATA)) {
            GemmConv.backwardData(s, w, dy, dx);
            done |= DX;
        }
        if (dw != null && worthIt(s) && viaGemm(s, Direction.BACKWARD_WEIGHTS)) {
            GemmConv.backwardWeights(s, x, dy, dw);
            done |= DW;
        }
        boolean data = dx != null && (done & DX) == 0, weights = dw != null && (done & DW) == 0;
        OneDnnConvolution conv = data || weights ? of(s) : null;
        if (conv != null) {
            float[] bias = weights ? db : null;
            conv.backward(x, w, dy, data ? dx : null, weights ? dw : null, bias);
            done |= (data ? DX : 0) | (weights ? DW : 0) | (bias != null ? DB : 0);
        }
        return done;
    }

    /** Whether s has enough work for a native call and the native path is active. */
    private static boolean worthIt(ConvShape s) {
        double work = (double) s.n() * s.k() * s.outH() * s.outW() * (s.c() / s.groups()) * s.r() * s.s();
        return work >= MIN_WORK && active();
    }

    /** The oneDNN convolution for {@code s}, or null to use the Java kernel (native off, missing, refused, or small). */
    private static OneDnnConvolution of(ConvShape s) {
        if (!worthIt(s)) {
            return null;
        }
        synchronized (CACHE) {
            if (CACHE.containsKey(s)) {
                return CACHE.get(s);
            }
            OneDnnConvolution conv = null;
            try {
                conv = new OneDnnConvolution(s.n(), s.c(), s.h(), s.w(), s.k(), s.r(), s.s(), s.outH(), s.outW(),
                        s.strideH(), s.strideW(), s.padH(), s.padW(), s.dilationH(), s.dilationW(), s.groups(),
                        CpuParallel::forEach);
            } catch (OneDnnException e) {
                LOG.debug("oneDNN has no convolution for {}: the Java kernel runs it ({})", s, e.getMessage());
            }
            CACHE.put(s, conv);
            return conv;
        }
    }
}
