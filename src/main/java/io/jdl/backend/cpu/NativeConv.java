package io.jdl.backend.cpu;

import io.jdl.backend.ConvShape;
import io.jdl.cpunative.CpuNativeLibraries.Library;
import io.jdl.cpunative.OneDnnConvolution;
import io.jdl.cpunative.OneDnnException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link CpuConv}'s native path: oneDNN's direct convolution. A oneDNN convolution is built per shape (that
 * costs about a millisecond: it picks and compiles a kernel for this CPU), so the last {@value #CACHED} shapes'
 * are kept, as PyTorch's oneDNN path caches its primitives; a shape oneDNN has no implementation for is
 * remembered and runs on the Java kernel.
 */
final class NativeConv {
    private static final Logger LOG = LoggerFactory.getLogger(NativeConv.class);

    /** Shapes whose oneDNN convolution is kept: a network's layers (forward and backward share one). */
    static final int CACHED = 32;

    /** Multiply-adds below which the Java kernel is as fast as the copies and the native call. */
    static final long MIN_WORK = 1L << 16;

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
    }

    /** y = conv(x, w) through oneDNN; false (nothing done) when the Java kernel is to run it. */
    static boolean forward(ConvShape s, float[] x, float[] w, float[] y) {
        OneDnnConvolution conv = of(s);
        if (conv != null) {
            conv.forward(x, w, y);
        }
        return conv != null;
    }

    /** dx from dy through oneDNN; false (nothing done) when the Java kernel is to run it. */
    static boolean backwardData(ConvShape s, float[] w, float[] dy, float[] dx) {
        OneDnnConvolution conv = of(s);
        if (conv != null) {
            conv.backwardData(w, dy, dx);
        }
        return conv != null;
    }

    /** dw from x and dy through oneDNN; false (nothing done) when the Java kernel is to run it. */
    static boolean backwardFilter(ConvShape s, float[] x, float[] dy, float[] dw) {
        OneDnnConvolution conv = of(s);
        if (conv != null) {
            conv.backwardWeights(x, dy, dw);
        }
        return conv != null;
    }

    /** The oneDNN convolution for {@code s}, or null to use the Java kernel (native off, missing, refused, or small). */
    private static OneDnnConvolution of(ConvShape s) {
        double work = (double) s.n() * s.k() * s.outH() * s.outW() * (s.c() / s.groups()) * s.r() * s.s();
        if (work < MIN_WORK || !active()) {
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
