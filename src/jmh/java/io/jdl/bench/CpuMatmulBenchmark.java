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

/** The CPU reference backend's matrix product (the MLP's 128x784·784x1024 layer and a square one). */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class CpuMatmulBenchmark {
    @Param({"128x784x1024", "512x512x512"})
    public String mkn;

    private Tensor a, b;

    @Setup(Level.Trial)
    public void setUp() {
        String[] d = mkn.split("x");
        int m = Integer.parseInt(d[0]), k = Integer.parseInt(d[1]), n = Integer.parseInt(d[2]);
        a = Tensor.randn(new Random(0), Shape.of(m, k), Device.CPU);
        b = Tensor.randn(new Random(1), Shape.of(k, n), Device.CPU);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        a.close();
        b.close();
    }

    @Benchmark
    public float[] matmul() {
        try (Tensor c = a.matmul(b)) {
            return c.toArray();
        }
    }
}
