package io.jdl.bench;

import io.jdl.cudnn.FlashAttentionPlan;
import io.jdl.device.DType;
import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Scaled dot-product attention forward + backward for (B=8, H=8, T=512, D=64), causal, through the
 * tensor API: Q·Kᵀ, masked softmax, P·V and the four backward products. {@code device=cpu} runs the Java
 * reference; {@code device=cuda} (needs a GPU) synchronises once per call, so the time is the device's,
 * {@code tf32} lets the products use TF32 tensor cores, and TearDown prints the peak device memory of one
 * call as a {@code PEAK {json}} line (the probabilities [B, H, T, T] dominate:
 * 8·8·512·512·4 B = 64 MiB each).
 *
 * <p>{@code precision=bf16} (or fp16) makes q, k, v half-precision leaves: issue #14's fused-attention target.
 * On CUDA that runs cuDNN's flash attention (no [T, T] buffers), and the setup fails rather than measure the
 * GEMM fallback if cuDNN declined; PyTorch's side, {@code scaled_dot_product_attention} with its default backend,
 * is scripts/bench_torch_sdpa.py (the GPU bundle's {@code flash} stage runs both). On the CPU it is the float32
 * GEMM reference on rounded inputs.
 *
 * <p>Run: {@code scripts/bench AttentionBenchmark -p device=cpu} (or cuda; {@code -p precision=bf16}).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 4)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class AttentionBenchmark {
    @Param({"cpu", "cuda"})
    public String device;

    @Param({"true"})
    public boolean causal;

    @Param({"false"})
    public boolean tf32;

    @Param({"fp32"})
    public String precision;

    private static final int B = 8, H = 8, T = 512, D = 64;
    private Tensor q, k, v, r;
    private BenchDevice bench;

    @Setup(Level.Trial)
    public void setUp() {
        bench = new BenchDevice(device, tf32);
        Device d = bench.device();
        Shape s = Shape.of(B, H, T, D);
        Random rng = new Random(1);
        DType dtype = switch (precision) {
            case "fp32" -> DType.FLOAT32;
            case "bf16" -> DType.BFLOAT16;
            case "fp16" -> DType.FLOAT16;
            default -> throw new IllegalArgumentException("precision is fp32, bf16 or fp16, not " + precision);
        };
        q = leaf(rng, s, d, dtype);
        k = leaf(rng, s, d, dtype);
        v = leaf(rng, s, d, dtype);
        r = Tensor.randn(rng, s, d);
        if (dtype != DType.FLOAT32 && d.isCuda()) {
            long before = FlashAttentionPlan.executions();
            forwardBackward();
            if (FlashAttentionPlan.executions() - before != 2) {
                throw new IllegalStateException("attention " + B + "x" + H + "x" + T + "x" + D + " " + precision
                        + " did not run cuDNN's flash attention here (cuDNN declined it); not measuring the GEMM path");
            }
        }
        bench.startMeasuring();
    }

    private static Tensor leaf(Random rng, Shape s, Device d, DType dtype) {
        try (Tensor f = Tensor.randn(rng, s, d)) {
            return (dtype == DType.FLOAT32 ? f.detach() : f.to(dtype)).requiresGrad(true);
        }
    }

    @Benchmark
    public void forwardBackward() {
        try (Tensor o = q.scaledDotProductAttention(k, v, causal, null, 0f, 0L); Tensor p = o.mul(r);
             Tensor loss = p.sum()) {
            loss.backward();
        }
        q.zeroGrad();
        k.zeroGrad();
        v.zeroGrad();
        bench.synchronize();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        bench.printPeak("attention " + B + "x" + H + "x" + T + "x" + D + (precision.equals("fp32") ? "" : " " + precision),
                tf32);
        q.close();
        k.close();
        v.close();
        r.close();
    }
}
