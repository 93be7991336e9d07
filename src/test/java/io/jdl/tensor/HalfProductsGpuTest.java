package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.cuda.Gpu;
import io.jdl.cuda.StandIn;
import io.jdl.device.DType;
import io.jdl.device.Device;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The half matrix products and convolutions on CUDA (cublasGemmEx, cublasGemmStridedBatchedEx, cuDNN's pseudo-half
 * convolutions) against the CPU reference, and proof that the half path moves no float32 copies.
 *
 * <p>The bound: both sides sum in float32 and round once, in different orders, so a result may round to the
 * neighbouring half value. At least 95% of the elements of every output and gradient are within 1 ulp of the dtype
 * (at the larger magnitude of the two) of the CPU's, and every element within 1 ulp at the array's largest
 * magnitude (an activation such as GELU far below 0 maps a last-bit difference of its input to several ulps of its
 * tiny output); a convolution's bias, which rounds twice, is checked by relative error.
 */
@Tag("gpu")
class HalfProductsGpuTest {
    private static final Device GPU = Device.cuda(0);
    private static final DType[] HALVES = {DType.BFLOAT16, DType.FLOAT16};

    @BeforeEach
    void needsGpu() {
        Gpu.assumeAvailable();
    }

    @Test
    void halfProductsAgreeWithTheCpuWithinOneUlp() {
        for (HalfOpCases.Case c : HalfProductsTest.exactCases()) {
            for (DType d : HALVES) {
                HalfOpCases.Result cpu = HalfOpCases.run(c, d, Device.CPU), gpu = HalfOpCases.run(c, d, GPU);
                withinOneUlp(c.name() + " " + d + " output", d, gpu.output(), cpu.output());
                for (int i = 0; i < cpu.grads().size(); i++) {
                    withinOneUlp(c.name() + " " + d + " gradient " + i, d, gpu.grads().get(i), cpu.grads().get(i));
                }
            }
        }
    }

    @Test
    void aHalfConvolutionWithBiasAndActivationAgreesWithTheCpu() {
        HalfOpCases.Case c = new HalfOpCases.Case("conv2d bias gelu", new int[][] {{2, 3, 6, 5}, {4, 3, 3, 3}, {4}},
                t -> t[0].conv2d(t[1], t[2], 1, 1, 1, 1, FusedActivation.gelu()));
        for (DType d : HALVES) {
            HalfOpCases.Result cpu = HalfOpCases.run(c, d, Device.CPU), gpu = HalfOpCases.run(c, d, GPU);
            double tol = d == DType.BFLOAT16 ? 1e-2 : 2e-3; // two roundings, the second after a cancelling bias
            assertTrue(Gpu.relativeError(gpu.output(), cpu.output()) < tol, d + " output");
            for (int i = 0; i < cpu.grads().size(); i++) {
                double err = Gpu.relativeError(gpu.grads().get(i), cpu.grads().get(i));
                assertTrue(err < tol, d + " gradient " + i + ": " + err);
            }
        }
    }

    /**
     * A bf16 linear layer without bias: one cublasGemmEx forward and two backward, no float32 GEMM and no kernel
     * launch at all (no cast: every operand stays bfloat16). With a bias the product is stored in float32 and the
     * epilogue is one launch (reading the float32 product and the bf16 bias, writing bf16), still one cublasGemmEx.
     */
    @Test
    void aBf16LinearIsGemmExCallsWithNoFloat32Copies() {
        Gpu.assumeStandIn("counting cuBLAS calls by name");
        try (TensorScope scope = TensorScope.open()) {
            Random rng = new Random(5);
            Tensor x = Tensor.randn(rng, Shape.of(16, 24), GPU).to(DType.BFLOAT16).requiresGrad(true);
            Tensor w = Tensor.randn(rng, Shape.of(8, 24), GPU).to(DType.BFLOAT16).requiresGrad(true);
            Tensor b = Tensor.randn(rng, Shape.of(8), GPU).to(DType.BFLOAT16).requiresGrad(true);

            Counts before = Counts.now();
            Tensor y = x.linear(w, null);
            Counts forward = Counts.now().minus(before);
            assertEquals(new Counts(1, 0, 0), forward, "forward");
            assertEquals(DType.BFLOAT16, y.dtype());

            // the backward's own launches: those of the same loss over a bfloat16 leaf, which has no linear under it
            Tensor leaf = Tensor.zeros(Shape.of(16, 8), DType.BFLOAT16, GPU).requiresGrad(true);
            Tensor leafLoss = leaf.sum();
            before = Counts.now();
            leafLoss.backward();
            Counts lossOnly = Counts.now().minus(before);
            Tensor loss = y.sum();
            before = Counts.now();
            loss.backward();
            Counts backward = Counts.now().minus(before);
            assertEquals(new Counts(2, 0, lossOnly.launches()), backward, "backward (the loss alone: " + lossOnly + ")");
            assertEquals(DType.BFLOAT16, x.grad().dtype());
            assertEquals(DType.BFLOAT16, w.grad().dtype());

            before = Counts.now();
            Tensor yb = x.linear(w, b, FusedActivation.relu());
            Counts withBias = Counts.now().minus(before);
            assertEquals(1, withBias.gemmEx(), "with a bias: " + withBias);
            assertEquals(0, withBias.sgemm(), "with a bias: " + withBias);
            assertEquals(1, withBias.launches(), "with a bias: the epilogue alone: " + withBias);
            assertEquals(DType.BFLOAT16, yb.dtype());
        }
    }

    /** A batched and a strided-batched (per-head) bf16 product run as cublasGemmStridedBatchedEx. */
    @Test
    void batchedHalfProductsUseTheStridedBatchedEx() {
        Gpu.assumeStandIn("counting cuBLAS calls by name");
        try (TensorScope scope = TensorScope.open()) {
            Random rng = new Random(6);
            Tensor a = Tensor.randn(rng, Shape.of(4, 5, 6), GPU).to(DType.FLOAT16);
            Tensor b = Tensor.randn(rng, Shape.of(4, 6, 3), GPU).to(DType.FLOAT16);
            long before = StandIn.callCount("cublasGemmStridedBatchedEx");
            Tensor c = a.matmul(b);
            assertEquals(1, StandIn.callCount("cublasGemmStridedBatchedEx") - before);
            assertEquals(DType.FLOAT16, c.dtype());
        }
    }

    /** cublasGemmEx / cublasSgemm calls and kernel launches between two moments. */
    private record Counts(long gemmEx, long sgemm, long launches) {
        static Counts now() {
            return new Counts(StandIn.callCount("cublasGemmEx") + StandIn.callCount("cublasGemmStridedBatchedEx"),
                    StandIn.callCount("cublasSgemm_v2") + StandIn.callCount("cublasSgemmStridedBatched"),
                    StandIn.launchCount());
        }

        Counts minus(Counts o) {
            return new Counts(gemmEx - o.gemmEx, sgemm - o.sgemm, launches - o.launches);
        }
    }

    /** The class comment's bound between {@code actual} and {@code expected}, values of {@code d}. */
    static void withinOneUlp(String what, DType d, float[] actual, float[] expected) {
        assertEquals(expected.length, actual.length, what + " length");
        float largest = 0;
        for (float e : expected) {
            largest = Math.max(largest, Math.abs(e));
        }
        List<String> off = new ArrayList<>();
        for (int i = 0; i < expected.length; i++) {
            float e = expected[i], a = actual[i];
            if (Float.compare(e, a) != 0 && Math.abs(a - e) > ulp(d, Math.max(Math.abs(a), Math.abs(e)))) {
                off.add(i + ": " + a + " vs " + e);
                assertTrue(Math.abs(a - e) <= ulp(d, largest), what + ": " + a + " vs " + e + " at " + i
                        + ", more than one ulp of " + d + " at the largest magnitude " + largest);
            }
        }
        assertTrue(off.size() <= expected.length / 20, what + ": more than 5% of the elements over one ulp of " + d
                + " apart: " + off);
    }

    /** The spacing of {@code d}'s values at magnitude {@code v}. */
    static double ulp(DType d, float v) {
        int bits = d == DType.BFLOAT16 ? 7 : 10, minExponent = d == DType.BFLOAT16 ? -126 : -14;
        return Math.scalb(1.0, Math.max(Math.getExponent(v), minExponent) - bits);
    }
}
