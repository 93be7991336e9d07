package io.jdl.bench;

import static io.jdl.bindings.cudart.cuda_runtime_api_h.cudaStreamSynchronize;

import io.jdl.cuda.Cuda;
import io.jdl.cuda.CudaDevice;
import io.jdl.cuda.Stream;
import java.lang.foreign.MemorySegment;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The safe layer's cost per call: the same trivial CUDA runtime call (synchronising an idle stream)
 * as a raw jextract downcall and through {@link Stream#synchronize()} (open check + status check).
 * Needs a GPU.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class DowncallBenchmark {
    private Stream stream;
    private MemorySegment handle;

    @Setup(Level.Trial)
    public void setUp() {
        CudaDevice.requireAvailable();
        stream = Stream.create();
        handle = stream.handle();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        stream.close();
    }

    @Benchmark
    public int rawDowncall() {
        return cudaStreamSynchronize(handle);
    }

    @Benchmark
    public void safeLayer() {
        stream.synchronize();
    }

    @Benchmark
    public void rawDowncallChecked() {
        Cuda.check(cudaStreamSynchronize(handle), "cudaStreamSynchronize");
    }
}
