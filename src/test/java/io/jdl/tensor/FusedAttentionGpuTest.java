package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.autograd.GradCheck;
import io.jdl.cuda.Gpu;
import io.jdl.cuda.StandIn;
import io.jdl.cudnn.FlashAttentionPlan;
import io.jdl.device.DType;
import io.jdl.device.Device;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * Half-precision attention on CUDA takes cuDNN's fused flash attention ({@link FusedAttentionOp}; counted by
 * {@link FlashAttentionPlan#executions()}) and gives the CPU's GEMM attention's values and gradients: the same
 * rounded inputs, float32 accumulation, one rounding of each result, in another summation order. Tolerance
 * (max-norm relative error): 2e-2 in bfloat16 (8 significant bits: one unit in the last place is 2^-8 relative,
 * and the backward rounds P and dS to bfloat16 before two of its products, as cuDNN's graph does), 4e-3 in
 * float16 (11 bits; measured on the stand-in: up to 1.5e-2 and 7e-4). Dropout draws jdl's own mask (the same
 * seed drops the same probabilities on both paths). Cross-attention (Tq != Tk) takes the flash path as well.
 * Declined configurations (a head size cuDNN refuses, weights asked for, Dv != D) run the GEMM path and give its
 * result.
 */
@Tag("gpu")
class FusedAttentionGpuTest {
    private static final Device GPU = Device.cuda(0), CPU = Device.CPU;

    @BeforeEach
    void needsGpu() {
        Gpu.assumeAvailable();
    }

    private static double tolerance(DType dtype) {
        return dtype == DType.BFLOAT16 ? 2e-2 : 2e-3;
    }

    private static Autocast autocast(DType dtype) {
        return dtype == DType.BFLOAT16 ? Autocast.bf16() : Autocast.fp16();
    }

    /** What one run gives: the output and the gradient of every input, as float32 on the host. */
    private record Run(float[] out, float[][] grads) {
    }

    /**
     * f on float32 leaves of {@code values} (shapes {@code shapes}) on {@code device} under autocast to
     * {@code dtype}, with the loss sum(out · weight) so every output element has its own gradient.
     */
    private static Run run(Device device, DType dtype, Function<Tensor[], Tensor> f, float[] weight, float[][] values,
                           Shape... shapes) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor[] in = new Tensor[values.length];
            for (int i = 0; i < in.length; i++) {
                in[i] = Tensor.of(values[i], shapes[i], device).requiresGrad(true);
            }
            Tensor out;
            try (Autocast ac = autocast(dtype)) {
                out = f.apply(in);
            }
            assertEquals(dtype, out.dtype(), "attention's output dtype");
            out.retain();
            out.to(DType.FLOAT32).mul(Tensor.of(weight, out.shape(), device)).sum().backward();
            float[][] grads = new float[in.length][];
            for (int i = 0; i < in.length; i++) {
                grads[i] = in[i].grad().toArray();
            }
            return new Run(out.toArray(), grads);
        }
    }

    /** Runs f on the GPU and the CPU; asserts the flash path ran {@code flashRuns} graphs and the results agree. */
    private static void same(String what, DType dtype, long flashRuns, Function<Tensor[], Tensor> f, long seed,
                             Shape... shapes) {
        Random rng = new Random(seed);
        float[][] values = new float[shapes.length][];
        for (int i = 0; i < shapes.length; i++) {
            values[i] = GradCheck.randn(rng, Math.toIntExact(shapes[i].numel()));
        }
        float[] weight;
        try (TensorScope scope = TensorScope.open(); Autocast ac = autocast(dtype)) { // the output's size
            Tensor[] in = new Tensor[values.length];
            for (int i = 0; i < in.length; i++) {
                in[i] = Tensor.of(values[i], shapes[i], CPU);
            }
            weight = GradCheck.randn(rng, Math.toIntExact(f.apply(in).numel()));
        }
        long before = FlashAttentionPlan.executions();
        Run gpu = run(GPU, dtype, f, weight, values, shapes);
        assertEquals(flashRuns, FlashAttentionPlan.executions() - before, what + ": flash-attention graphs run");
        Run cpu = run(CPU, dtype, f, weight, values, shapes);
        double tol = tolerance(dtype);
        double err = Gpu.relativeError(gpu.out(), cpu.out());
        assertTrue(err < tol, what + ": output relative error " + err);
        for (int i = 0; i < values.length; i++) {
            for (float g : gpu.grads()[i]) {
                assertTrue(Float.isFinite(g), what + ": gradient " + i + " has " + g);
            }
            err = Gpu.relativeError(gpu.grads()[i], cpu.grads()[i]);
            assertTrue(err < tol, what + ": gradient " + i + " relative error " + err);
        }
    }

    /** [B, T] keep-mask: batch 0 keeps all but its last key, batch 1 hides every key, batch 2 only keys 2 and 4. */
    private static Tensor mask(int b, int t, Device device) {
        float[] m = new float[b * t];
        for (int j = 0; j < t - 1; j++) {
            m[j] = 1;
        }
        for (int bb = 2; bb < b; bb++) {
            m[bb * t + Math.min(2, t - 1)] = 0.5f; // any non-zero keeps
            m[bb * t + Math.min(4, t - 1)] = 1;
        }
        return Tensor.of(m, Shape.of(b, t), device);
    }

    @ParameterizedTest
    @CsvSource({
        "BFLOAT16, false, false, 2, 2, 7, 16",
        "BFLOAT16, true, false, 2, 3, 33, 8",
        "BFLOAT16, true, true, 3, 2, 9, 16",
        "BFLOAT16, false, true, 3, 1, 17, 8",
        "FLOAT16, true, false, 1, 2, 12, 24",
        "FLOAT16, false, true, 3, 2, 5, 16",
    })
    void attentionTakesTheFlashPathAndMatchesTheGemmPath(DType dtype, boolean causal, boolean masked, int b, int h,
                                                         int t, int d) {
        Shape s = Shape.of(b, h, t, d);
        same("attention " + dtype + " causal=" + causal + " masked=" + masked + " T=" + t, dtype, 2,
                in -> {
                    Tensor m = masked ? mask(b, t, in[0].device()) : null;
                    return in[0].attention(in[1], in[2], causal, m, 0f, 0, false).output();
                }, 31L * t + d, s, s, s);
    }

    @ParameterizedTest
    @CsvSource({"BFLOAT16, true, true", "BFLOAT16, false, false", "FLOAT16, true, false"})
    void selfAttentionReadsTheFusedProjectionInPlace(DType dtype, boolean causal, boolean masked) {
        int b = 3, t = 11, heads = 2, d = 8;
        same("selfAttention " + dtype + " causal=" + causal + " masked=" + masked, dtype, 2,
                in -> in[0].selfAttention(heads, causal, masked ? mask(b, t, in[0].device()) : null, 0f, 0, false)
                        .output(), 77, Shape.of(b, t, 3 * heads * d));
    }

    /** Dropout on the flash path drops exactly what the GEMM path drops for the same seed (forward and backward). */
    @ParameterizedTest
    @CsvSource({"BFLOAT16, true, true, 0.3", "FLOAT16, false, false, 0.5", "BFLOAT16, false, true, 0.1"})
    void dropoutDropsWhatTheGemmPathDrops(DType dtype, boolean causal, boolean masked, float p) {
        int b = 3, h = 2, t = 13, d = 16;
        Shape s = Shape.of(b, h, t, d);
        same("dense dropout " + p, dtype, 2, in -> in[0].attention(in[1], in[2], causal,
                masked ? mask(b, t, in[0].device()) : null, p, 1234, false).output(), 8, s, s, s);
        same("selfAttention dropout " + p, dtype, 2, in -> in[0].selfAttention(h, causal,
                masked ? mask(b, t, in[0].device()) : null, p, 99, false).output(), 9, Shape.of(b, t, 3 * h * d));
        // and it did drop: another seed gives another result
        Random rng = new Random(2);
        try (TensorScope scope = TensorScope.open(); Autocast ac = autocast(dtype)) {
            Tensor[] in = new Tensor[3];
            for (int i = 0; i < 3; i++) {
                in[i] = Tensor.of(GradCheck.randn(rng, Math.toIntExact(s.numel())), s, GPU);
            }
            float[] one = in[0].attention(in[1], in[2], causal, null, p, 1, false).output().toArray();
            float[] other = in[0].attention(in[1], in[2], causal, null, p, 2, false).output().toArray();
            assertTrue(Gpu.relativeError(one, other) > 0.1, "seeds 1 and 2 drop differently");
        }
    }

    @Test
    void halfTensorsWithoutAutocastTakeTheFlashPathToo() {
        Random rng = new Random(5);
        Shape s = Shape.of(1, 2, 8, 16);
        try (TensorScope scope = TensorScope.open()) {
            Tensor[] gpu = new Tensor[3], cpu = new Tensor[3];
            for (int i = 0; i < 3; i++) {
                float[] v = GradCheck.randn(rng, 256);
                gpu[i] = Tensor.of(v, s, GPU).to(DType.BFLOAT16);
                cpu[i] = Tensor.of(v, s, CPU).to(DType.BFLOAT16);
            }
            long before = FlashAttentionPlan.executions();
            Tensor out = gpu[0].attention(gpu[1], gpu[2], true, null, 0f, 0, false).output();
            assertEquals(1, FlashAttentionPlan.executions() - before, "no gradient asked for: the forward only");
            assertEquals(DType.BFLOAT16, out.dtype());
            float[] want = cpu[0].attention(cpu[1], cpu[2], true, null, 0f, 0, false).output().toArray();
            assertTrue(Gpu.relativeError(out.toArray(), want) < tolerance(DType.BFLOAT16));
        }
    }

    @Test
    void declinedConfigurationsRunTheGemmPath() {
        Shape odd = Shape.of(2, 2, 9, 12); // head size 12: not a multiple of 8, which cuDNN's engines need
        same("head dim 12", DType.BFLOAT16, 0,
                in -> in[0].attention(in[1], in[2], true, null, 0f, 0, false).output(), 3, odd, odd, odd);
        if (StandIn.isLoaded()) { // the refusal is kept: the same configuration builds no graph again
            long finalized = StandIn.callCount("cudnnBackendFinalize");
            same("head dim 12 again", DType.BFLOAT16, 0,
                    in -> in[0].attention(in[1], in[2], true, null, 0f, 0, false).output(), 3, odd, odd, odd);
            assertEquals(finalized, StandIn.callCount("cudnnBackendFinalize"), "descriptors finalized again");
        }
        Shape s = Shape.of(2, 2, 9, 16);
        same("weights asked for", DType.BFLOAT16, 0,
                in -> in[0].attention(in[1], in[2], true, null, 0f, 0, true).output(), 4, s, s, s);
        Shape q = Shape.of(2, 2, 5, 16), kv = Shape.of(2, 2, 9, 16), v = Shape.of(2, 2, 9, 8);
        same("Dv != D", DType.BFLOAT16, 0,
                in -> in[0].attention(in[1], in[2], false, null, 0f, 0, false).output(), 6, q, kv, v);
    }

    /**
     * Cross-attention (Tq != Tk: fewer or more queries than keys) takes the flash path too, with PyTorch's causal
     * rule (query i sees keys j <= i, the top-left diagonal), the key mask [B, Tk] and dropout over [B, H, Tq, Tk].
     */
    @ParameterizedTest
    @CsvSource({
        "BFLOAT16, false, false, 0, 2, 2, 5, 9, 16",
        "BFLOAT16, true, true, 0, 3, 2, 9, 5, 16",
        "FLOAT16, true, false, 0, 1, 2, 12, 20, 8",
        "BFLOAT16, false, true, 0.25, 3, 1, 7, 11, 16",
    })
    void crossAttentionTakesTheFlashPath(DType dtype, boolean causal, boolean masked, float p, int b, int h, int tq,
                                         int tk, int d) {
        Shape q = Shape.of(b, h, tq, d), kv = Shape.of(b, h, tk, d);
        same("cross-attention " + dtype + " causal=" + causal + " masked=" + masked + " p=" + p + " Tq=" + tq
                        + " Tk=" + tk, dtype, 2,
                in -> {
                    Tensor m = masked ? mask(b, tk, in[0].device()) : null;
                    return in[0].attention(in[1], in[2], causal, m, p, 77, false).output();
                }, 13L * tq + tk, q, kv, kv);
    }
}
