package io.jdl.bench;

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
 * <p>Run: {@code scripts/bench AttentionBenchmark -p device=cpu} (or cuda).
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

    private static final int B = 8, H = 8, T = 512, D = 64;
    private Tensor q, k, v, r;
    private BenchDevice bench;

    @Setup(Level.Trial)
    public void setUp() {
        bench = new BenchDevice(device, tf32);
        Device d = bench.device();
        Shape s = Shape.of(B, H, T, D);
        Random rng = new Random(1);
        q = Tensor.randn(rng, s, d).requiresGrad(true);
        k = Tensor.randn(rng, s, d).requiresGrad(true);
        v = Tensor.randn(rng, s, d).requiresGrad(true);
        r = Tensor.randn(rng, s, d);
        bench.startMeasuring();
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
        bench.printPeak("attention " + B + "x" + H + "x" + T + "x" + D, tf32);
        q.close();
        k.close();
        v.close();
        r.close();
    }
}
