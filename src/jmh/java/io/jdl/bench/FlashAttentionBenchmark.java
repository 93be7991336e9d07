package io.jdl.bench;

import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.Stream;
import io.jdl.cudnn.Cudnn;
import io.jdl.cudnn.CudnnDataType;
import io.jdl.cudnn.FlashAttention;
import io.jdl.cudnn.FlashAttention.Operand;
import io.jdl.cudnn.FlashAttentionPlan;
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
 * cuDNN's fused flash attention, forward + backward, causal, on raw device buffers ({@link FlashAttentionPlan}),
 * for issue #14's target row: B=8, H=8, T=512, D=64 in bf16 against {@code scripts/bench_torch.py}'s
 * "attention 8x8x512x64" (PyTorch's default SDPA backend; bench_torch.py runs it in float32 today, so a bf16
 * comparison needs its autocast row). One synchronisation per call, so the time is the device's. Needs a GPU with
 * an engine for the graph (sm80+); a configuration cuDNN declines fails the set-up with cuDNN's reason.
 * {@code seqLen} may be lowered to smoke-test the benchmark on the host stand-in (slow: it interprets the graph).
 *
 * <p>Run: {@code scripts/bench FlashAttentionBenchmark} (or {@code -p type=HALF}).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 4)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class FlashAttentionBenchmark {
    @Param({"BFLOAT16"})
    public CudnnDataType type;

    @Param({"512"})
    public int seqLen;

    private static final int B = 8, H = 8, D = 64;
    private Stream stream;
    private Cudnn cudnn;
    private CachingAllocator alloc;
    private FlashAttentionPlan forward, backward;
    private DeviceMemory q, k, v, o, dO, stats, dQ, dK, dV;

    private static FlashAttentionPlan ready(FlashAttention.Build build) {
        if (build instanceof FlashAttention.Build.Ready(FlashAttentionPlan plan)) {
            return plan;
        }
        throw new IllegalStateException(((FlashAttention.Build.Unsupported) build).reason());
    }

    @Setup(Level.Trial)
    public void setUp() {
        stream = Stream.create();
        cudnn = Cudnn.create(stream);
        alloc = new CachingAllocator();
        FlashAttention.Config c = FlashAttention.Config.of(type, B, H, seqLen, D, true);
        forward = ready(FlashAttention.plan(cudnn, c, FlashAttention.Direction.FORWARD));
        backward = ready(FlashAttention.plan(cudnn, c, FlashAttention.Direction.BACKWARD));
        long bytes = (long) B * H * seqLen * D * type.bytes();
        DeviceMemory[] io = new DeviceMemory[8];
        for (int i = 0; i < io.length; i++) {
            io[i] = alloc.allocate(bytes);
            // Every element 0x3c3c (about 1.06 in fp16) or 0x3f3f (about 0.75 in bf16): finite, equal scores.
            stream.memset(io[i], 0, type == CudnnDataType.HALF ? 0x3c : 0x3f, bytes);
        }
        q = io[0]; k = io[1]; v = io[2]; o = io[3]; dO = io[4]; dQ = io[5]; dK = io[6]; dV = io[7];
        stats = alloc.allocate((long) B * H * seqLen * Float.BYTES);
        stream.synchronize();
    }

    @Benchmark
    public void forwardBackward() {
        forward.forward(cudnn, Operand.of(q), Operand.of(k), Operand.of(v), Operand.of(o), stats, null, null,
                alloc::allocate);
        backward.backward(cudnn, Operand.of(q), Operand.of(k), Operand.of(v), Operand.of(o), Operand.of(dO), stats,
                null, null,
                Operand.of(dQ), Operand.of(dK), Operand.of(dV), alloc::allocate);
        stream.synchronize();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (DeviceMemory m : new DeviceMemory[] {q, k, v, o, dO, stats, dQ, dK, dV}) {
            m.close();
        }
        forward.close();
        backward.close();
        alloc.close();
        cudnn.close();
        stream.close();
    }
}
