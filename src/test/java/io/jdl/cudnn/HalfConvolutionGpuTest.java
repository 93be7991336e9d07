package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.HalfPrecision;
import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.Gpu;
import io.jdl.cuda.StandIn;
import io.jdl.cuda.Stream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/**
 * Convolutions with bfloat16 and float16 data and float32 compute (cuDNN's PSEUDO_BFLOAT16_CONFIG and
 * PSEUDO_HALF_CONFIG), forward and both backward directions, against a host reference that takes the same half
 * inputs, sums the products in float32 and rounds each output to the data type (nearest even). The sums differ
 * from the device's only in order, so each output is allowed one unit in the last place of the half result plus
 * the float32 rounding of a reordered sum.
 */
@Tag("gpu")
class HalfConvolutionGpuTest {

    /** One convolution: input [n, c, h, w], weight [k, c / groups, r, s]. */
    record Shape(int n, int c, int h, int w, int k, int r, int s, int padH, int padW, int strideH, int strideW,
                 int dilationH, int dilationW, int groups) {
        int outH() {
            return 1 + (h + 2 * padH - ((r - 1) * dilationH + 1)) / strideH;
        }

        int outW() {
            return 1 + (w + 2 * padW - ((s - 1) * dilationW + 1)) / strideW;
        }

        int cPerGroup() {
            return c / groups;
        }

        ConvolutionPlan plan(Cudnn cudnn, CudnnDataType type) {
            return new ConvolutionPlan(cudnn, type, n, c, h, w, k, r, s, padH, padW, strideH, strideW, dilationH,
                    dilationW, groups, outH(), outW(), true);
        }
    }

    private static final Shape[] SHAPES = {
        // odd sizes, asymmetric padding, stride and dilation
        new Shape(2, 3, 7, 5, 4, 3, 2, 1, 0, 2, 1, 1, 2, 1),
        // grouped, padded, 3x3
        new Shape(1, 4, 6, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2),
        // depthwise with stride 2 and a 1x1 spatial tail
        new Shape(3, 3, 5, 4, 3, 3, 3, 1, 1, 2, 2, 1, 1, 3),
    };

    private static HalfPrecision half(CudnnDataType type) {
        return type == CudnnDataType.HALF ? HalfPrecision.F16 : HalfPrecision.BF16;
    }

    /** n values in [-2, 2), rounded to the half type (as bit patterns). */
    private static short[] randomHalves(HalfPrecision format, int n, Random random) {
        short[] out = new short[n];
        for (int i = 0; i < n; i++) {
            out[i] = format.fromFloat(random.nextFloat() * 4 - 2);
        }
        return out;
    }

    private static float[] widen(HalfPrecision format, short[] h) {
        float[] f = new float[h.length];
        for (int i = 0; i < h.length; i++) {
            f[i] = format.toFloat(h[i]);
        }
        return f;
    }

    /**
     * Every product term of the convolution, as (x index, w index, y index), in one fixed order; the three
     * directions sum them into y, x or w.
     */
    private interface Term {
        void add(int xi, int wi, int yi);
    }

    private static void forEachTerm(Shape s, Term term) {
        int kPerGroup = s.k() / s.groups(), cg = s.cPerGroup(), oh = s.outH(), ow = s.outW();
        for (int n = 0; n < s.n(); n++) {
            for (int k = 0; k < s.k(); k++) {
                int g = k / kPerGroup;
                for (int y = 0; y < oh; y++) {
                    for (int x = 0; x < ow; x++) {
                        int yi = ((n * s.k() + k) * oh + y) * ow + x;
                        for (int ci = 0; ci < cg; ci++) {
                            for (int r = 0; r < s.r(); r++) {
                                int ih = y * s.strideH() - s.padH() + r * s.dilationH();
                                for (int q = 0; q < s.s(); q++) {
                                    int iw = x * s.strideW() - s.padW() + q * s.dilationW();
                                    if (ih < 0 || ih >= s.h() || iw < 0 || iw >= s.w()) {
                                        continue;
                                    }
                                    int xi = ((n * s.c() + g * cg + ci) * s.h() + ih) * s.w() + iw;
                                    int wi = ((k * cg + ci) * s.r() + r) * s.s() + q;
                                    term.add(xi, wi, yi);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /** Checks device output {@code got} (half patterns) against float sums and their absolute-term sums. */
    private static void assertClose(String what, HalfPrecision format, float[] sums, float[] magnitudes, short[] got) {
        for (int i = 0; i < sums.length; i++) {
            float expected = format.toFloat(format.fromFloat(sums[i]));
            float actual = format.toFloat(got[i]);
            // One half ulp at the result, and the float32 error a reordered sum of these terms can make.
            float ulp = Math.abs(format.toFloat((short) (format.fromFloat(Math.abs(expected)) + 1)) - Math.abs(expected));
            float tolerance = ulp + magnitudes[i] * 0x1p-20f;
            assertTrue(Math.abs(actual - expected) <= tolerance, what + " element " + i + ": expected " + expected
                    + " (float sum " + sums[i] + "), got " + actual + ", tolerance " + tolerance);
        }
    }

    @ParameterizedTest
    @EnumSource(value = CudnnDataType.class, names = {"BFLOAT16", "HALF"})
    void forwardAndBothBackwardsMatchTheHalfReference(CudnnDataType type) {
        Gpu.assumeAvailable();
        HalfPrecision format = half(type);
        Random random = new Random(14);
        try (Stream stream = Stream.create(); Cudnn cudnn = Cudnn.create(stream);
             CachingAllocator alloc = new CachingAllocator(); Arena arena = Arena.ofConfined()) {
            for (Shape s : SHAPES) {
                int xn = s.n() * s.c() * s.h() * s.w(), wn = s.k() * s.cPerGroup() * s.r() * s.s();
                int yn = s.n() * s.k() * s.outH() * s.outW();
                short[] xh = randomHalves(format, xn, random), wh = randomHalves(format, wn, random);
                short[] dyh = randomHalves(format, yn, random);
                float[] x = widen(format, xh), w = widen(format, wh), dy = widen(format, dyh);
                float[] y = new float[yn], dx = new float[xn], dw = new float[wn];
                float[] yMag = new float[yn], dxMag = new float[xn], dwMag = new float[wn];
                forEachTerm(s, (xi, wi, yi) -> {
                    y[yi] += x[xi] * w[wi];
                    yMag[yi] += Math.abs(x[xi] * w[wi]);
                    dx[xi] += dy[yi] * w[wi];
                    dxMag[xi] += Math.abs(dy[yi] * w[wi]);
                    dw[wi] += x[xi] * dy[yi];
                    dwMag[wi] += Math.abs(x[xi] * dy[yi]);
                });
                try (ConvolutionPlan plan = s.plan(cudnn, type);
                     DeviceMemory gx = DeviceBuffers.upload(stream, alloc, arena, xh); DeviceMemory gw = DeviceBuffers.upload(stream, alloc, arena, wh);
                     DeviceMemory gdy = DeviceBuffers.upload(stream, alloc, arena, dyh); DeviceMemory gy = alloc.allocate(yn * 2L);
                     DeviceMemory gdx = alloc.allocate(xn * 2L); DeviceMemory gdw = alloc.allocate(wn * 2L)) {
                    plan.forward(cudnn, gx, gw, gy, alloc::allocate);
                    plan.backwardData(cudnn, gw, gdy, gdx, alloc::allocate);
                    plan.backwardFilter(cudnn, gx, gdy, gdw, alloc::allocate);
                    String where = type + " " + s;
                    assertClose("forward " + where, format, y, yMag, DeviceBuffers.shorts(stream, gy, yn, arena));
                    assertClose("backward data " + where, format, dx, dxMag, DeviceBuffers.shorts(stream, gdx, xn, arena));
                    assertClose("backward filter " + where, format, dw, dwMag, DeviceBuffers.shorts(stream, gdw, wn, arena));
                }
            }
        }
    }

    @Test
    void halfOperandsAreSizedInHalves() {
        Gpu.assumeAvailable();
        Shape s = SHAPES[0];
        int xn = s.n() * s.c() * s.h() * s.w(), wn = s.k() * s.cPerGroup() * s.r() * s.s();
        int yn = s.n() * s.k() * s.outH() * s.outW();
        try (Stream stream = Stream.create(); Cudnn cudnn = Cudnn.create(stream); CachingAllocator alloc = new CachingAllocator();
             ConvolutionPlan plan = s.plan(cudnn, CudnnDataType.BFLOAT16);
             DeviceMemory gx = alloc.allocate(xn * 2L); DeviceMemory gw = alloc.allocate(wn * 2L);
             DeviceMemory shortY = alloc.allocate(yn * 2L - 2)) {
            assertEquals(CudnnDataType.BFLOAT16, plan.type());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> plan.forward(cudnn, gx, gw, shortY, alloc::allocate));
            assertTrue(e.getMessage().contains("BFLOAT16") && e.getMessage().contains(yn * 2L + " bytes"), e.getMessage());
            try (DeviceMemory shortW = alloc.allocate(wn * 2L - 2)) {
                IllegalArgumentException ew = assertThrows(IllegalArgumentException.class,
                        () -> plan.backwardFilter(cudnn, gx, gx, shortW, alloc::allocate));
                assertTrue(ew.getMessage().contains("dw"), ew.getMessage());
            }
        }
    }

    /**
     * The stand-in refuses what cuDNN's supported-configurations tables leave out: mixed data types, bfloat16 data
     * with bfloat16 compute. (Real cuDNN may name another sub-status of NOT_SUPPORTED; the stand-in's is checked.)
     */
    @Test
    void illegalDataTypeCombinationsAreNotSupported() {
        Gpu.assumeAvailable();
        Assumptions.assumeTrue(StandIn.isLoaded(), "checks the stand-in's mirror of the configuration tables");
        try (Stream stream = Stream.create(); Cudnn cudnn = Cudnn.create(stream);
             TensorDescriptor x = TensorDescriptor.of(CudnnDataType.HALF, 1, 2, 5, 5);
             TensorDescriptor y = TensorDescriptor.of(CudnnDataType.HALF, 1, 3, 5, 5);
             FilterDescriptor floatW = new FilterDescriptor(CudnnDataType.FLOAT, 3, 2, 3, 3);
             FilterDescriptor halfW = new FilterDescriptor(CudnnDataType.HALF, 3, 2, 3, 3);
             ConvolutionDescriptor conv = new ConvolutionDescriptor(1, 1, 1, 1, 1, 1, 1, true);
             TensorDescriptor bx = TensorDescriptor.of(CudnnDataType.BFLOAT16, 1, 2, 5, 5);
             TensorDescriptor by = TensorDescriptor.of(CudnnDataType.BFLOAT16, 1, 3, 5, 5);
             FilterDescriptor bw = new FilterDescriptor(CudnnDataType.BFLOAT16, 3, 2, 3, 3);
             Arena arena = Arena.ofConfined()) {
            MemorySegment size = arena.allocate(ValueLayout.JAVA_LONG);
            int algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM();
            assertEquals(CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE(), cudnnGetConvolutionForwardWorkspaceSize(cudnn.handle(),
                    x.handle(), floatW.handle(), conv.handle(), y.handle(), algo, size), "half x with a float filter");
            assertEquals(CUDNN_STATUS_SUCCESS(), cudnnGetConvolutionForwardWorkspaceSize(cudnn.handle(), x.handle(),
                    halfW.handle(), conv.handle(), y.handle(), algo, size), "PSEUDO_HALF_CONFIG");
            try (ConvolutionDescriptor bf16Compute = new ConvolutionDescriptor(1, 1, 1, 1, 1, 1, 1, true)) {
                io.jdl.bindings.cudnn.cudnn_h.cudnnSetConvolution2dDescriptor(bf16Compute.handle(), 1, 1, 1, 1, 1, 1,
                        CUDNN_CROSS_CORRELATION(), CUDNN_DATA_BFLOAT16());
                int status = cudnnGetConvolutionForwardWorkspaceSize(cudnn.handle(), bx.handle(), bw.handle(),
                        bf16Compute.handle(), by.handle(), algo, size);
                assertEquals(CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE(), status, "bfloat16 compute");
                assertTrue(Cudnn.lastError().contains("not a configuration cuDNN supports"), Cudnn.lastError());
            }
        }
    }
}
