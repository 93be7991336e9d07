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
 * Issue #14's fused-attention target: scaled dot-product attention forward + backward in bfloat16 for
 * (B=8, H=8, T=512, D=64) through the tensor API, {@code sum(attention(q, k, v) · r).backward()} on bf16
 * leaves, which on a GPU runs cuDNN's flash attention (the run fails if it took the GEMM path instead, so the
 * row never silently measures the fallback). PyTorch's side, {@code scaled_dot_product_attention} with its
 * default backend on the same shapes, is scripts/bench_torch_sdpa.py; the GPU bundle's {@code flash} stage runs
 * both. {@code device=cpu} runs the float32 GEMM reference on rounded inputs (no fused kernel there).
 *
 * <p>Run: {@code scripts/bench FusedAttentionBenchmark -p device=cuda}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 4)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class FusedAttentionBenchmark {
    @Param({"cuda"})
    public String device;

    @Param({"false", "true"})
    public boolean causal;

    private static final int B = 8, H = 8, T = 512, D = 64;
    private Tensor q, k, v, r;
    private BenchDevice bench;

    @Setup(Level.Trial)
    public void setUp() {
        bench = new BenchDevice(device, false);
        Device d = bench.device();
        Shape s = Shape.of(B, H, T, D);
        Random rng = new Random(1);
        q = leaf(rng, s, d);
        k = leaf(rng, s, d);
        v = leaf(rng, s, d);
        try (Tensor f = Tensor.randn(rng, s, d)) {
            r = f.to(DType.BFLOAT16);
        }
        long before = FlashAttentionPlan.executions();
        forwardBackward();
        if (d.isCuda() && FlashAttentionPlan.executions() - before != 2) {
            throw new IllegalStateException("attention " + B + "x" + H + "x" + T + "x" + D + " bf16 did not run cuDNN's"
                    + " flash attention here (cuDNN declined it: see FlashAttention); not measuring the GEMM fallback");
        }
        bench.startMeasuring();
    }

    private static Tensor leaf(Random rng, Shape s, Device d) {
        try (Tensor f = Tensor.randn(rng, s, d)) {
            return f.to(DType.BFLOAT16).requiresGrad(true);
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
        bench.printPeak("attention " + B + "x" + H + "x" + T + "x" + D + " bf16" + (causal ? " causal" : ""), false);
        q.close();
        k.close();
        v.close();
        r.close();
    }
}
