package io.jdl.bench;

import io.jdl.backend.ConvShape;
import io.jdl.backend.Storage;
import io.jdl.backend.cpu.CpuBackend;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The CPU reference backend's convolution on the `cnn` sample's second layer at batch 128:
 * 16 → 32 channels, 3x3, padding 1, on 14x14 maps (about 0.23 GFLOP per pass).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class CpuConvBenchmark {
    private static final CpuBackend CPU = CpuBackend.INSTANCE;
    private final ConvShape shape = new ConvShape(128, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1);
    private Storage x, w, y, dy, dx, dw;

    private static Storage random(Random rng, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return CPU.upload(v);
    }

    @Setup(Level.Trial)
    public void setUp() {
        Random rng = new Random(0);
        int xn = shape.n() * shape.c() * shape.h() * shape.w();
        int yn = shape.n() * shape.k() * shape.outH() * shape.outW();
        x = random(rng, xn);
        w = random(rng, shape.k() * shape.c() * shape.r() * shape.s());
        dy = random(rng, yn);
        y = CPU.allocate(yn);
        dx = CPU.allocate(xn);
        dw = CPU.allocate((long) shape.k() * shape.c() * shape.r() * shape.s());
    }

    @Benchmark
    public Storage forward() {
        CPU.conv2d(shape, x, w, y);
        return y;
    }

    /** Forward, then the data and filter gradients: one training step's work for this layer. */
    @Benchmark
    public Storage forwardBackward() {
        CPU.conv2d(shape, x, w, y);
        CPU.conv2dBackwardData(shape, w, dy, dx);
        CPU.conv2dBackwardFilter(shape, x, dy, dw);
        return dw;
    }
}
