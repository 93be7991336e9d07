package io.jdl.bench;

import io.jdl.backend.Device;
import io.jdl.backend.cuda.CudaBackend;
import io.jdl.models.FashionMnistModels;
import io.jdl.nn.Module;
import io.jdl.nn.Transformer;
import io.jdl.optim.Adam;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
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
 * sample CNN ({@link FashionMnistModels#cnn} at width 32) at {@code batch} images, or, with
 * {@code -p model=gpt -p batch=64}, the 6-layer, 6-head, 384-wide causal transformer on 256-token windows
 * of a 65-character vocabulary (bench_torch.py's gpt row). On a GPU each step ends with one stream
 * synchronisation so the time is the device's; the {@code hostSyncs} counter reports the host waits inside
 * the step before it (must be 0).
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

    private static final int GPT_TOKENS = 256, GPT_VOCAB = 65;

    private Module net;
    private Transformer gpt;
    private int[] ids;
    private Adam optimizer;
    private Tensor input;
    private int[] labels;
    private CudaBackend cuda;

    /** Host syncs per step, reported by JMH next to the time. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class Syncs {
        public long hostSyncs;
    }

    @Setup(Level.Trial)
    public void setUp() {
        Device d = Device.parse(device);
        Random rng = new Random(0);
        switch (model) {
            case "mlp" -> net = FashionMnistModels.mlp(rng, hidden, 0);
            case "cnn" -> net = FashionMnistModels.cnn(rng, 32);
            case "gpt" -> net = gpt = Transformer.causalLm(new Transformer.Config(GPT_VOCAB, GPT_TOKENS, 384, 6, 6, 0f, false), rng);
            default -> throw new IllegalArgumentException("model is mlp, cnn or gpt, not " + model);
        }
        net.to(d);
        optimizer = new Adam(net.parameters(), 1e-3f);
        if (gpt != null) {
            ids = rng.ints(batch * GPT_TOKENS, 0, GPT_VOCAB).toArray();
            labels = rng.ints(batch * GPT_TOKENS, 0, GPT_VOCAB).toArray();
        } else {
            input = Tensor.randn(rng, model.equals("mlp") ? Shape.of(batch, 784) : Shape.of(batch, 1, 28, 28), d);
            labels = rng.ints(batch, 0, 10).toArray();
        }
        cuda = d.isCuda() ? CudaBackend.get(d.index()) : null;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        optimizer.close();
        if (input != null) {
            input.close();
        }
        net.close();
    }

    @Benchmark
    public void step(Syncs syncs) {
        long before = cuda == null ? 0 : cuda.stream().hostSyncCount();
        try (Tensor logits = gpt != null ? gpt.forward(ids, batch, GPT_TOKENS, null) : net.forward(input);
             Tensor loss = logits.crossEntropy(labels)) {
            loss.backward();
        }
        optimizer.step();
        optimizer.zeroGrad();
        if (cuda != null) {
            syncs.hostSyncs += cuda.stream().hostSyncCount() - before;
            cuda.synchronize();
        }
    }
}
