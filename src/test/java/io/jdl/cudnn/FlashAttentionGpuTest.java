package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.CUDNN_STATUS_EXECUTION_FAILED;
import static io.jdl.bindings.cudnn.cudnn_h.CUDNN_STATUS_INTERNAL_ERROR;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.HalfPrecision;
import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.Gpu;
import io.jdl.cuda.StandIn;
import io.jdl.cuda.Stream;
import io.jdl.cudnn.FlashAttention.Build;
import io.jdl.cudnn.FlashAttention.Config;
import io.jdl.cudnn.FlashAttention.Operand;
import io.jdl.cudnn.FlashAttention.Direction;
import io.jdl.tensor.Tensor;
import io.jdl.tensor.TensorScope;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * cuDNN's fused flash attention (backend graph API), forward and backward, against a float64 reference computed
 * here from the same 16-bit inputs. The reference rounds what the fused kernel holds in the 16-bit type (the
 * probabilities entering P·V, Pᵀ entering dV, dSᵀ entering dK) and each output to it; the rest of the kernel
 * works in float32 in an order the reference does not know, so each value may differ by one unit in the last
 * place of its 16-bit result plus the float32/16-bit rounding of its terms.
 */
@Tag("gpu")
class FlashAttentionGpuTest {

    private static HalfPrecision format(CudnnDataType type) {
        return type == CudnnDataType.HALF ? HalfPrecision.F16 : HalfPrecision.BF16;
    }

    /** The 16-bit type's relative precision (half an ulp at 1). */
    private static double epsilon(CudnnDataType type) {
        return type == CudnnDataType.HALF ? 0x1p-11 : 0x1p-8;
    }

    private static float round(HalfPrecision f, double v) {
        return f.toFloat(f.fromFloat((float) v));
    }

    /** One attention problem: 16-bit inputs (as floats holding 16-bit values) and a float64 reference. */
    private static final class Problem {
        final Config c;
        final HalfPrecision f;
        final int b, h, t, d;
        final float[] q, k, v, dO;
        // reference forward
        final double[] p;      // [B,H,T,T] exact probabilities
        final double[] stats;  // [B,H,T]
        final double[] o, oMagnitude;

        Problem(Config c, long seed) {
            this.c = c;
            this.f = format(c.type());
            b = c.batch();
            h = c.heads();
            t = c.seqQ();  // self-attention problems: Tk = Tq
            d = c.headDim();
            Random random = new Random(seed);
            q = random(random);
            k = random(random);
            v = random(random);
            dO = random(random);
            int rows = b * h * t;
            p = new double[rows * t];
            stats = new double[rows];
            o = new double[rows * d];
            oMagnitude = new double[rows * d];
            for (int bh = 0; bh < b * h; bh++) {
                for (int i = 0; i < t; i++) {
                    int row = bh * t + i;
                    double max = Double.NEGATIVE_INFINITY;
                    double[] s = new double[t];
                    for (int j = 0; j < t; j++) {
                        double dot = 0;
                        for (int e = 0; e < d; e++) {
                            dot += (double) q[row * d + e] * k[(bh * t + j) * d + e];
                        }
                        s[j] = c.causal() && j > i ? Double.NEGATIVE_INFINITY : dot * c.scale();
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < t; j++) {
                        sum += Math.exp(s[j] - max);
                    }
                    stats[row] = max + Math.log(sum);
                    for (int j = 0; j < t; j++) {
                        p[row * t + j] = Math.exp(s[j] - max) / sum;
                    }
                    for (int e = 0; e < d; e++) {
                        double acc = 0, mag = 0;
                        for (int j = 0; j < t; j++) {
                            double term = round(f, p[row * t + j]) * v[(bh * t + j) * d + e];
                            acc += term;
                            mag += Math.abs(term);
                        }
                        o[row * d + e] = acc;
                        oMagnitude[row * d + e] = mag;
                    }
                }
            }
        }

        private float[] random(Random random) {
            float[] out = new float[b * h * t * d];
            for (int i = 0; i < out.length; i++) {
                out[i] = round(f, random.nextGaussian());
            }
            return out;
        }
    }

    private static void assertClose(String what, Problem pr, double[] expected, double[] magnitude, short[] got) {
        double eps = epsilon(pr.c.type());
        for (int i = 0; i < expected.length; i++) {
            double want = round(pr.f, expected[i]);
            double actual = pr.f.toFloat(got[i]);
            // One 16-bit ulp at the result (2·eps relative), plus the 16-bit rounding of every term.
            double tolerance = 2 * eps * Math.abs(want) + 2 * eps * magnitude[i] + 1e-6;
            assertTrue(Math.abs(actual - want) <= tolerance, what + " element " + i + " of " + pr.c + ": expected "
                    + want + " (exact " + expected[i] + "), got " + actual + ", tolerance " + tolerance);
        }
    }

    private static DeviceMemory upload(Stream s, CachingAllocator alloc, HalfPrecision f, float[] values, Arena arena) {
        short[] h = new short[values.length];
        for (int i = 0; i < h.length; i++) {
            h[i] = f.fromFloat(values[i]);
        }
        return DeviceBuffers.upload(s, alloc, arena, h);
    }

    private static FlashAttentionPlan ready(Build build) {
        return assertInstanceOf(Build.Ready.class, build, () -> "unsupported: " + build).plan();
    }

    @ParameterizedTest(name = "{0} B={1} H={2} T={3} D={4} causal={5}")
    @CsvSource({
        "BFLOAT16, 2, 3, 7, 16, false",
        "BFLOAT16, 2, 3, 7, 16, true",
        "HALF, 1, 2, 33, 8, true",
        "HALF, 3, 1, 5, 24, false",
    })
    void forwardAndBackwardMatchTheReference(CudnnDataType type, int b, int h, int t, int d, boolean causal) {
        Gpu.assumeAvailable();
        Config c = Config.of(type, b, h, t, d, causal);
        Problem pr = new Problem(c, 31L * t + d);
        int n = b * h * t * d, rows = b * h * t;
        try (Stream stream = Stream.create(); Cudnn cudnn = Cudnn.create(stream);
             CachingAllocator alloc = new CachingAllocator(); Arena arena = Arena.ofConfined();
             FlashAttentionPlan fwd = ready(FlashAttention.plan(cudnn, c, Direction.FORWARD));
             FlashAttentionPlan bwd = ready(FlashAttention.plan(cudnn, c, Direction.BACKWARD));
             DeviceMemory q = upload(stream, alloc, pr.f, pr.q, arena);
             DeviceMemory k = upload(stream, alloc, pr.f, pr.k, arena);
             DeviceMemory v = upload(stream, alloc, pr.f, pr.v, arena);
             DeviceMemory dO = upload(stream, alloc, pr.f, pr.dO, arena);
             DeviceMemory o = alloc.allocate(n * 2L); DeviceMemory stats = alloc.allocate(rows * 4L);
             DeviceMemory dQ = alloc.allocate(n * 2L); DeviceMemory dK = alloc.allocate(n * 2L);
             DeviceMemory dV = alloc.allocate(n * 2L)) {
            fwd.forward(cudnn, Operand.of(q), Operand.of(k), Operand.of(v), Operand.of(o), stats, null, null,
                    alloc::allocate);
            short[] oGot = DeviceBuffers.shorts(stream, o, n, arena);
            assertClose("O", pr, pr.o, pr.oMagnitude, oGot);
            float[] statsGot = DeviceBuffers.floats(stream, stats, rows, arena);
            for (int r = 0; r < rows; r++) {
                assertEquals(pr.stats[r], statsGot[r], 1e-5 * (1 + Math.abs(pr.stats[r])), "stats row " + r);
            }

            bwd.backward(cudnn, Operand.of(q), Operand.of(k), Operand.of(v), Operand.of(o), Operand.of(dO), stats,
                    null, null,
                    Operand.of(dQ), Operand.of(dK), Operand.of(dV), alloc::allocate);
            // The reference backward, from the device's O (as the kernel reads it) and exact probabilities.
            double scale = c.scale();
            double[] dq = new double[n], dk = new double[n], dv = new double[n];
            double[] dqMag = new double[n], dkMag = new double[n], dvMag = new double[n];
            for (int bh = 0; bh < b * h; bh++) {
                for (int i = 0; i < t; i++) {
                    int row = bh * t + i;
                    double delta = 0, deltaMagnitude = 0;
                    for (int e = 0; e < d; e++) {
                        double term = (double) pr.dO[row * d + e] * pr.f.toFloat(oGot[row * d + e]);
                        delta += term;
                        deltaMagnitude += Math.abs(term);
                    }
                    for (int j = 0; j < t; j++) {
                        double p = pr.p[row * t + j];
                        int col = bh * t + j;
                        double dp = 0;
                        for (int e = 0; e < d; e++) {
                            dp += (double) pr.dO[row * d + e] * pr.v[col * d + e];
                            double term = round(pr.f, p) * pr.dO[row * d + e];
                            dv[col * d + e] += term;
                            dvMag[col * d + e] += Math.abs(term);
                        }
                        double ds = p * (dp - delta) * scale;
                        // dS is float32 inside the kernel; its size bounds the error of what is built from it. Δ's
                        // terms count whole: the GEMM path computes Δ from its float32 O, the fused one from the
                        // stored 16-bit O (as every flash attention does), which moves Δ by up to eps·Σ|dO·O|.
                        double dsError = Math.abs(p) * (Math.abs(dp) + deltaMagnitude) * Math.abs(scale);
                        for (int e = 0; e < d; e++) {
                            dq[row * d + e] += ds * pr.k[col * d + e];
                            dqMag[row * d + e] += dsError * Math.abs(pr.k[col * d + e]);
                            dk[col * d + e] += round(pr.f, ds) * pr.q[row * d + e];
                            dkMag[col * d + e] += dsError * Math.abs(pr.q[row * d + e]);
                        }
                    }
                }
            }
            short[] dVGot = DeviceBuffers.shorts(stream, dV, n, arena), dQGot = DeviceBuffers.shorts(stream, dQ, n, arena);
            short[] dKGot = DeviceBuffers.shorts(stream, dK, n, arena);
            assertClose("dV", pr, dv, dvMag, dVGot);
            assertClose("dQ", pr, dq, dqMag, dQGot);
            assertClose("dK", pr, dk, dkMag, dKGot);

            // jdl's GEMM attention (the fallback; CPU backend, float32) on the same 16-bit values agrees as well.
            try (TensorScope scope = TensorScope.open()) {
                Tensor tq = Tensor.of(pr.q, b, h, t, d).requiresGrad(true);
                Tensor tk = Tensor.of(pr.k, b, h, t, d).requiresGrad(true);
                Tensor tv = Tensor.of(pr.v, b, h, t, d).requiresGrad(true);
                Tensor out = tq.scaledDotProductAttention(tk, tv, causal, null, 0f, 0L);
                float[] outValues = out.toArray();
                out.mul(Tensor.of(pr.dO, b, h, t, d)).sum().backward();
                assertClose("O vs GEMM attention", pr, doubles(outValues), pr.oMagnitude, oGot);
                assertClose("dV vs GEMM attention", pr, doubles(tv.grad().toArray()), dvMag, dVGot);
                assertClose("dQ vs GEMM attention", pr, doubles(tq.grad().toArray()), dqMag, dQGot);
                assertClose("dK vs GEMM attention", pr, doubles(tk.grad().toArray()), dkMag, dKGot);
            }
        }
    }

    private static double[] doubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    /**
     * The stand-in's engine refuses what NVIDIA documents cuDNN's SDPA engines refuse and jdl's graphs never
     * contain: a score bias broadcast over the queries, or in float32, and Q without a unit head-dimension stride;
     * it accepts a [B, 1, Sq, Skv] bias in the data type and a strided (interleaved) Q.
     */
    @Test
    void theEngineChecksBiasShapesAndHeadStrides() {
        Gpu.assumeAvailable();
        Assumptions.assumeTrue(StandIn.isLoaded(), "the stand-in's own refusals");
        Config c = Config.of(CudnnDataType.BFLOAT16, 2, 2, 8, 8, false);
        int bf16 = CudnnDataType.BFLOAT16.code();
        long[] bhtd = {2, 2, 8, 8}, bhtt = {2, 2, 8, 8};
        record Case(String name, long[] qStrides, int biasType, long[] biasDims, boolean runs) {}
        for (Case k : new Case[] {
            new Case("[B, 1, T, T] bias", GraphBuilder.packed(bhtd), bf16, new long[] {2, 1, 8, 8}, true),
            new Case("interleaved q", new long[] {8 * 3 * 16, 8, 3 * 16, 1}, bf16, new long[] {2, 1, 8, 8}, true),
            new Case("bias over keys only", GraphBuilder.packed(bhtd), bf16, new long[] {2, 1, 1, 8}, false),
            new Case("float32 bias", GraphBuilder.packed(bhtd), CudnnDataType.FLOAT.code(), new long[] {2, 1, 8, 8},
                    false),
            new Case("q with head stride 2", new long[] {256, 128, 16, 2}, bf16, new long[] {2, 1, 8, 8}, false)}) {
            try (Stream stream = Stream.create(); Cudnn cudnn = Cudnn.create(stream)) {
                GraphBuilder g = new GraphBuilder();
                GraphBuilder.Tensor q = g.input(FlashAttention.Q, bf16, bhtd, k.qStrides());
                GraphBuilder.Tensor kT = g.input(FlashAttention.K, bf16, GraphBuilder.swapLast(bhtd),
                        GraphBuilder.swapLast(GraphBuilder.packed(bhtd)));
                GraphBuilder.Tensor bias = g.input(FlashAttention.BIAS, k.biasType(), k.biasDims(),
                        GraphBuilder.packed(k.biasDims()));
                GraphBuilder.Tensor s = g.virtual(CudnnDataType.FLOAT.code(), bhtt);
                g.matmul(q, kT, s);
                GraphBuilder.Tensor out = g.input(FlashAttention.O, CudnnDataType.FLOAT.code(), bhtt,
                        GraphBuilder.packed(bhtt));
                g.pointwise(io.jdl.bindings.cudnn.cudnn_h.CUDNN_POINTWISE_ADD(), "bias", out, -1, s, bias);
                Build build = FlashAttentionPlan.select(cudnn, c, Direction.FORWARD, g);
                if (k.runs()) {
                    ready(build).close();
                } else {
                    Build.Unsupported u = assertInstanceOf(Build.Unsupported.class, build, k.name());
                    assertTrue(u.reason().contains(k.name().startsWith("q") ? "unit stride" : "score bias"),
                            k.name() + ": " + u.reason());
                }
            }
        }
    }

    /** cuDNN runs fused attention on 16-bit data with a head dimension that is a multiple of 8; else: fall back. */
    @Test
    void unsupportedConfigurationsAreReportedNotThrown() {
        Gpu.assumeAvailable();
        try (Stream stream = Stream.create(); Cudnn cudnn = Cudnn.create(stream)) {
            long before = StandIn.isLoaded() ? DeviceBuffers.liveCudnnObjects() : 0;
            for (Config c : new Config[] {Config.of(CudnnDataType.FLOAT, 1, 2, 16, 16, false),
                                          Config.of(CudnnDataType.BFLOAT16, 1, 2, 16, 12, true)}) {
                for (Direction dir : Direction.values()) {
                    Build build = FlashAttention.plan(cudnn, c, dir);
                    Build.Unsupported u = assertInstanceOf(Build.Unsupported.class, build, () -> c + " " + dir);
                    // Refused by the graph, the heuristics (cuDNN declines ...) or every engine (no engine runs ...).
                    assertTrue(u.reason().contains("cuDNN declines") || u.reason().contains("no engine runs"), u.reason());
                }
            }
            if (StandIn.isLoaded()) {
                assertEquals(before, DeviceBuffers.liveCudnnObjects(), "descriptors left by unsupported builds");
            }
        }
    }

    @Test
    void plansCheckTheirOperandsAndDirectionAndFreeEveryDescriptor() {
        Gpu.assumeAvailable();
        Config c = Config.of(CudnnDataType.BFLOAT16, 1, 1, 8, 8, false);
        try (Stream stream = Stream.create(); Cudnn cudnn = Cudnn.create(stream);
             CachingAllocator alloc = new CachingAllocator()) {
            long before = StandIn.isLoaded() ? DeviceBuffers.liveCudnnObjects() : 0;
            try (FlashAttentionPlan fwd = ready(FlashAttention.plan(cudnn, c, Direction.FORWARD));
                 DeviceMemory full = alloc.allocate(64 * 2L); DeviceMemory small = alloc.allocate(64 * 2L - 2);
                 DeviceMemory stats = alloc.allocate(8 * 4L)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> fwd.forward(cudnn, Operand.of(full), Operand.of(full), Operand.of(small), Operand.of(full),
                                stats, null, null, alloc::allocate));
                assertTrue(e.getMessage().contains("operand v") && e.getMessage().contains("128 bytes"), e.getMessage());
                assertThrows(IllegalStateException.class, () -> fwd.backward(cudnn, Operand.of(full), Operand.of(full),
                        Operand.of(full), Operand.of(full), Operand.of(full), stats, null, null, Operand.of(full), Operand.of(full),
                        Operand.of(full), alloc::allocate));
                assertThrows(IllegalArgumentException.class, () -> Config.of(CudnnDataType.HALF, 1, 0, 8, 8, false));
            }
            if (StandIn.isLoaded()) {
                assertEquals(before, DeviceBuffers.liveCudnnObjects(), "descriptors left by a closed plan");
            }
        }
    }

    /** A failure anywhere while building, or in the run, throws by name and leaves no descriptor or memory behind. */
    @Test
    void failuresLeaveNothingBehind() {
        Gpu.assumeAvailable();
        Assumptions.assumeTrue(StandIn.isLoaded(), "fault injection needs the host stand-in");
        Config c = Config.of(CudnnDataType.HALF, 1, 2, 8, 8, true);
        try (Stream stream = Stream.create(); Cudnn cudnn = Cudnn.create(stream);
             CachingAllocator alloc = new CachingAllocator()) {
            long before = DeviceBuffers.liveCudnnObjects();
            for (String call : new String[] {"cudnnBackendCreateDescriptor", "cudnnBackendSetAttribute",
                                             "cudnnBackendFinalize"}) {
                for (long nth : new long[] {1, 7, 40}) {
                    StandIn.failCall(call, CUDNN_STATUS_INTERNAL_ERROR(), nth);
                    try {
                        CudnnException e = assertThrows(CudnnException.class,
                                () -> FlashAttention.plan(cudnn, c, Direction.BACKWARD), call + " #" + nth);
                        assertTrue(e.getMessage().contains(call), e.getMessage());
                    } finally {
                        StandIn.failCall(call, 0, 0);
                    }
                    assertEquals(before, DeviceBuffers.liveCudnnObjects(), "descriptors left after " + call + " #" + nth + " failed");
                }
            }
            try (FlashAttentionPlan bwd = ready(FlashAttention.plan(cudnn, c, Direction.BACKWARD));
                 DeviceMemory io = alloc.allocate(128 * 2L); DeviceMemory stats = alloc.allocate(16 * 4L)) {
                long withPlan = DeviceBuffers.liveCudnnObjects(), allocated = alloc.allocatedBytes();
                StandIn.failCall("cudnnBackendExecute", CUDNN_STATUS_EXECUTION_FAILED(), 1);
                CudnnException e = assertThrows(CudnnException.class, () -> bwd.backward(cudnn, Operand.of(io), Operand.of(io),
                        Operand.of(io), Operand.of(io), Operand.of(io), stats, null, null, Operand.of(io), Operand.of(io),
                        Operand.of(io), alloc::allocate));
                assertTrue(e.getMessage().contains("cudnnBackendExecute"), e.getMessage());
                assertEquals(withPlan, DeviceBuffers.liveCudnnObjects(), "variant pack left by a failed run");
                assertEquals(allocated, alloc.allocatedBytes(), "workspace left by a failed run");
            } finally {
                StandIn.failCall("cudnnBackendExecute", 0, 0);
            }
            assertEquals(before, DeviceBuffers.liveCudnnObjects());
        }
    }
}
