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
 * A ResNet-sized convolution forward + backward through the tensor API: x [64, 64, 56, 56] with weight
 * [64, 64, 3, 3], stride 1, padding 1, no bias; loss = sum(conv(x, w) · r), so backward computes both the
 * data and the filter gradient (about 3 · 14.8 GFLOP per call). scripts/bench_torch.py's "conv2d" row
 * runs the same graph in PyTorch. {@code device=cuda} synchronises once per call so the time is the
 * device's, and {@code tf32} lets cuDNN use TF32 tensor cores; TearDown prints the peak device memory
 * as a {@code PEAK {json}} line.
 * {@code device=cpu} runs the Java reference (seconds per call on a few cores).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 4)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class ConvBenchmark {
    @Param({"cuda"})
    public String device;

    @Param({"false"})
    public boolean tf32;

    private static final int N = 64, C = 64, K = 64, H = 56, W = 56, R = 3;
    private Tensor x, w, r;
    private BenchDevice bench;

    @Setup(Level.Trial)
    public void setUp() {
        bench = new BenchDevice(device, tf32);
        Device d = bench.device();
        Random rng = new Random(2);
        x = Tensor.randn(rng, Shape.of(N, C, H, W), d).requiresGrad(true);
        w = Tensor.randn(rng, Shape.of(K, C, R, R), d).requiresGrad(true);
        r = Tensor.randn(rng, Shape.of(N, K, H, W), d);
        bench.startMeasuring();
    }

    @Benchmark
    public void forwardBackward() {
        try (Tensor y = x.conv2d(w, null, 1, 1, 1, 1); Tensor p = y.mul(r); Tensor loss = p.sum()) {
            loss.backward();
        }
        x.zeroGrad();
        w.zeroGrad();
        bench.synchronize();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        bench.printPeak("conv2d " + N + "x" + C + "x" + H + "x" + W, tf32);
        x.close();
        w.close();
        r.close();
    }
}
