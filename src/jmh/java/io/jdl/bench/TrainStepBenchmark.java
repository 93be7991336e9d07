package io.jdl.bench;

import io.jdl.backend.cuda.CudaBackend;
import io.jdl.cuda.NativeCounters;
import io.jdl.cuda.StandIn;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
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
 * One training step (forward, cross-entropy, backward, Adam update) on {@code -p device=cpu} or {@code cuda}:
 * the MLP 784-{@code hidden}-{@code hidden}-10 (default 512; scripts/bench_torch.py's rows use 1024) and the
 * sample CNN ({@link io.jdl.models.FashionMnistModels#cnn} at width 32) at {@code batch} images, or, with
 * {@code -p model=gpt -p batch=64}, the 6-layer, 6-head, 384-wide causal transformer on 256-token windows
 * of a 65-character vocabulary (bench_torch.py's gpt row); {@link TrainStepFixture} builds them.
 * {@code -p cudaGraph=true} replays the step from a CUDA graph ({@link io.jdl.tensor.CudaGraphStep}).
 * {@code -p tf32=true} turns on TF32 tensor-core math for products and convolutions (GPU only).
 * {@code -p precision=bf16} or {@code fp16} runs forward and loss under autocast (fp16 with a GradScaler), as the
 * samples' {@code --precision} and bench_torch.py's {@code --precision}; the row name gets the precision appended.
 * On a GPU each step ends with one stream synchronisation so the time is the device's; the
 * {@code hostSyncs} counter reports the host waits inside the step before it (must be 0), and TearDown prints
 * the peak device memory as a {@code PEAK {json}} line.
 * {@link TrainStepPhases} splits the same step into forward, backward and optimizer with CUDA events.
 *
 * <p>On the host stand-in in no-compute mode ({@code scripts/bench-standin}) the time is jdl's host-side cost
 * per step (every call validated, nothing computed): the floor under a launch-bound step on a real GPU.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class TrainStepBenchmark {
    @Param({"mlp", "cnn"})
    public String model;

    @Param({"cpu"})
    public String device;

    @Param({"128"})
    public int batch;

    @Param({"512"})
    public int hidden;

    @Param({"false"})
    public boolean tf32;

    /** fp32, bf16 or fp16: the autocast of forward and loss ({@link TrainStepFixture}). */
    @Param({"fp32"})
    public String precision;

    /** {@code -p cudaGraph=true}: the step captured once as a CUDA graph and replayed (mlp and cnn, CUDA only). */
    @Param({"false"})
    public boolean cudaGraph;

    private TrainStepFixture fixture;

    /** Host syncs per step, reported by JMH next to the time. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Syncs {
        public long hostSyncs;
    }

    @Setup(Level.Trial)
    public void setUp() {
        fixture = new TrainStepFixture(model, device, batch, hidden, tf32, precision);
        if (cudaGraph) {
            fixture.captureGraph();
        }
        if (fixture.bench.cuda() != null) {
            // One warm step's native calls and kernel launches, as jdl counts them (and as the stand-in does).
            fixture.step();
            fixture.step();
            fixture.bench.synchronize();
            NativeCounters.Snapshot before = CudaBackend.counters();
            long calls = StandIn.isLoaded() ? StandIn.callCount() : 0, launches = StandIn.isLoaded() ? StandIn.launchCount() : 0;
            fixture.step();
            NativeCounters.Snapshot step = CudaBackend.counters().minus(before);
            long standInCalls = StandIn.isLoaded() ? StandIn.callCount() - calls : -1;
            long standInLaunches = StandIn.isLoaded() ? StandIn.launchCount() - launches : -1;
            fixture.bench.synchronize();
            System.out.printf("jdl counters, %s batch %d: %d native calls, %d kernel launches per training step%n",
                    model, batch, step.nativeCalls(), step.kernelLaunches());
            if (StandIn.isLoaded()) {
                System.out.printf("host stand-in, %s batch %d: %d native calls, %d kernel launches per training step%n",
                        model, batch, standInCalls, standInLaunches);
            }
        }
        fixture.bench.startMeasuring();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        fixture.bench.printPeak(fixture.row(), tf32);
        fixture.close();
    }

    @Benchmark
    public void step(Syncs syncs) {
        CudaBackend cuda = fixture.bench.cuda();
        long before = cuda == null ? 0 : cuda.stream().hostSyncCount();
        fixture.step();
        if (cuda != null) {
            syncs.hostSyncs += cuda.stream().hostSyncCount() - before;
        }
        fixture.bench.synchronize();
    }
}
