package io.jdl.bench;

import io.jdl.device.Device;
import io.jdl.models.FashionMnistModels;
import io.jdl.nn.Module;
import io.jdl.nn.Transformer;
import io.jdl.optim.Adam;
import io.jdl.optim.GradScaler;
import io.jdl.tensor.Autocast;
import io.jdl.tensor.CudaGraphStep;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;

/**
 * One training-step workload, shared by {@link TrainStepBenchmark} (JMH wall-clock time) and
 * {@link TrainStepPhases} (CUDA-event time per phase), so both time exactly the same step: forward,
 * cross-entropy, backward, Adam update, with fixed-seed random inputs.
 *
 * <ul>
 *   <li>{@code mlp}: 784-{@code hidden}-{@code hidden}-10 ReLU, input [batch, 784];</li>
 *   <li>{@code cnn}: {@link FashionMnistModels#cnn} at width 32, input [batch, 1, 28, 28];</li>
 *   <li>{@code gpt}: 6 layers, 6 heads, 384 wide, causal, 65-token vocabulary, [batch, 256] token ids.</li>
 * </ul>
 * scripts/bench_torch.py builds the same three models in PyTorch.
 *
 * <p>{@code precision} is the autocast of the forward pass and the loss, as {@code --precision} in the samples and
 * {@code torch.autocast} in bench_torch.py: {@code fp32} (none), {@code bf16} ({@link Autocast#bf16()}, float32
 * masters), {@code fp16} ({@link Autocast#fp16()} and a {@link GradScaler}: scaled backward, unscale, step, update,
 * so one host read of the inf flag per step). TF32 is the separate {@code tf32} switch.
 *
 * <p>Lifetime: the fixture owns the model, the optimizer and the input; {@link #close()} frees them. It is
 * used by one thread.
 */
final class TrainStepFixture implements AutoCloseable {
    static final int GPT_TOKENS = 256, GPT_VOCAB = 65;

    final String model;
    final int batch;
    /** The device the step runs on: synchronisation and peak memory. */
    final BenchDevice bench;
    private final Module net;
    private final Transformer gpt;
    private final Adam optimizer;
    private final Tensor input;
    private final int[] ids, labels;
    /** With {@link #captureGraph()}: the step as a CUDA graph, replayed by {@link #step()}. */
    private CudaGraphStep graph;
    private final String precision;
    /** fp16 only: PyTorch's dynamic loss scaling. */
    private final GradScaler scaler;

    /**
     * @param device cpu, cuda or cuda:N
     * @param tf32      TF32 tensor-core math for matrix products and convolutions on a GPU (ignored on the CPU)
     * @param precision fp32, bf16 or fp16: the autocast of forward and loss
     */
    TrainStepFixture(String model, String device, int batch, int hidden, boolean tf32, String precision) {
        if (batch < 1) {
            throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        }
        if (!java.util.List.of("fp32", "bf16", "fp16").contains(precision)) {
            throw new IllegalArgumentException("precision is fp32, bf16 or fp16 (TF32 is -p tf32=true), not " + precision);
        }
        this.precision = precision;
        this.model = model;
        this.batch = batch;
        Random rng = new Random(0);
        net = switch (model) {
            case "mlp" -> FashionMnistModels.mlp(rng, hidden, 0);
            case "cnn" -> FashionMnistModels.cnn(rng, 32);
            case "gpt" -> Transformer.causalLm(new Transformer.Config(GPT_VOCAB, GPT_TOKENS, 384, 6, 6, 0f, false), rng);
            default -> throw new IllegalArgumentException("model is mlp, cnn or gpt, not " + model);
        };
        gpt = net instanceof Transformer t ? t : null;
        bench = new BenchDevice(device, tf32);
        Device d = bench.device();
        net.to(d);
        optimizer = new Adam(net.parameters(), 1e-3f);
        scaler = precision.equals("fp16") ? new GradScaler() : null;
        if (gpt != null) {
            input = null;
            ids = rng.ints(batch * GPT_TOKENS, 0, GPT_VOCAB).toArray();
            labels = rng.ints(batch * GPT_TOKENS, 0, GPT_VOCAB).toArray();
        } else {
            input = Tensor.randn(rng, model.equals("mlp") ? Shape.of(batch, 784) : Shape.of(batch, 1, 28, 28), d);
            ids = null;
            labels = rng.ints(batch, 0, 10).toArray();
        }
    }

    /** The autocast scope of {@link #precision} for forward and loss ({@link Autocast#disabled()} for fp32). */
    Autocast autocast() {
        return switch (precision) {
            case "bf16" -> Autocast.bf16();
            case "fp16" -> Autocast.fp16();
            default -> Autocast.disabled();
        };
    }

    /** The forward pass: logits the caller closes. */
    Tensor logits() {
        return gpt != null ? gpt.forward(ids, batch, GPT_TOKENS, null) : net.forward(input);
    }

    /** Cross-entropy of {@code logits} against the fixed labels: a scalar the caller closes. */
    Tensor loss(Tensor logits) {
        return logits.crossEntropy(labels);
    }

    /** The Adam update, then clearing the gradients for the next step. */
    void optimizerStep() {
        optimizer.step();
        optimizer.zeroGrad();
    }

    /**
     * Captures the step as a CUDA graph (after one eager warm-up step); from then on {@link #step()} copies the
     * labels into the graph's static targets and replays it, as a training loop with {@code --cuda-graph} does.
     */
    void captureGraph() {
        if (gpt != null) {
            throw new IllegalArgumentException("the gpt step uploads token ids, which a CUDA graph cannot capture");
        }
        if (scaler != null) {
            throw new IllegalArgumentException("fp16's GradScaler reads its inf flag on the host each step, which a CUDA"
                    + " graph cannot capture; use bf16");
        }
        step();
        graph = CudaGraphStep.capture(bench.device(), () -> {
            optimizer.zeroGrad();
            Tensor loss;
            try (Autocast ac = autocast(); Tensor logits = logits()) {
                loss = loss(logits);
            }
            loss.backward();
            optimizer.step();
            return loss;
        });
    }

    /** One whole step (no synchronisation). */
    void step() {
        if (graph != null) {
            graph.setTargets(labels);
            graph.replay();
            return;
        }
        if (scaler == null) {
            try (Autocast ac = autocast(); Tensor logits = logits(); Tensor loss = loss(logits)) {
                loss.backward();
            }
            optimizerStep();
            return;
        }
        try (Autocast ac = autocast(); Tensor logits = logits(); Tensor loss = loss(logits);
             Tensor scaled = scaler.scale(loss)) {
            scaled.backward();
        }
        scaler.step(optimizer);
        scaler.update();
        optimizer.zeroGrad();
    }

    /** The row name bench_torch.py uses for the same workload, e.g. "mlp b=128", or "mlp b=128 bf16" under autocast. */
    String row() {
        return model + " b=" + (gpt != null ? batch + "x" + GPT_TOKENS : batch) + (precision.equals("fp32") ? "" : " " + precision);
    }

    @Override
    public void close() {
        if (graph != null) {
            graph.close();
        }
        if (scaler != null) {
            scaler.close();
        }
        optimizer.close();
        if (input != null) {
            input.close();
        }
        net.close();
    }
}
