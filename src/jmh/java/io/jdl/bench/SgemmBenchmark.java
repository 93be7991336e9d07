package io.jdl.bench;

import io.jdl.cublas.Cublas;
import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.CudaDevice;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.Stream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
 * Square SGEMM through the safe layer, synchronised per call so that the time is the device's:
 * TFLOP/s = 2·n³ / time. {@code n=64} is launch-bound, {@code n=4096} compute-bound; {@code tf32}
 * switches tensor-core math on. The operands are random (N(0, 1)). Needs a GPU; scripts/bench_torch.py's
 * "sgemm" rows are the PyTorch side.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class SgemmBenchmark {
    @Param({"64", "4096"})
    public int n;

    @Param({"false", "true"})
    public boolean tf32;

    private Stream stream;
    private CachingAllocator allocator;
    private Cublas cublas;
    private DeviceMemory a, b, c;

    @Setup(Level.Trial)
    public void setUp() {
        CudaDevice.requireAvailable();
        stream = Stream.create();
        allocator = new CachingAllocator();
        cublas = Cublas.create(stream);
        cublas.setTf32(tf32);
        long bytes = (long) n * n * Float.BYTES;
        a = allocator.allocate(bytes);
        b = allocator.allocate(bytes);
        c = allocator.allocate(bytes);
        // Random operands: zeros can run faster than real data and would flatter the time.
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(bytes, Float.BYTES);
            Random rng = new Random(n);
            for (DeviceMemory m : new DeviceMemory[] {a, b}) {
                for (long i = 0; i < (long) n * n; i++) {
                    host.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rng.nextGaussian());
                }
                stream.copyToDevice(host, 0, m, 0, bytes);
                stream.synchronize();
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        a.close();
        b.close();
        c.close();
        cublas.close();
        allocator.close();
        stream.close();
    }

    @Benchmark
    public void sgemm() {
        cublas.gemm(false, false, n, n, n, 1f, a, b, 0f, c);
        stream.synchronize();
    }
}
