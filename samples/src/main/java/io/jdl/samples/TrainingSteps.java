package io.jdl.samples;

import io.jdl.cuda.GraphCaptureException;
import io.jdl.data.DataLoader;
import io.jdl.device.Device;
import io.jdl.nn.Module;
import io.jdl.optim.Optimizer;
import io.jdl.samples.cli.UserError;
import io.jdl.tensor.Autocast;
import io.jdl.tensor.CudaGraphStep;
import io.jdl.tensor.Tensor;
import io.jdl.tensor.TensorScope;

/**
 * The image samples' optimizer step on one batch: eager, or with {@code --cuda-graph} replayed from a CUDA graph.
 *
 * <p>With graphs, an epoch's first batch runs eagerly (the warm-up a capture needs, and the first step at the
 * epoch's learning rate), then the step is captured with static input, logits and loss tensors and replayed for
 * the epoch's other batches of that shape; a batch of another shape (the last, partial one) runs eagerly. The
 * learning rate is baked into a graph, so {@link #newEpoch()} (called after each change) drops it.
 *
 * <p>The forward pass and the loss run in the run's {@link TrainPrecision} autocast scope (also inside a captured
 * graph: its casts are kernels like any other); backward and the step go through {@link PrecisionStep}. fp16 with
 * graphs is refused before this class is built ({@link TrainOptions#precision}).
 *
 * <p>Owns the graph and its static tensors until {@link #newEpoch()} or {@link #close()}; not the optimizer.
 */
final class TrainingSteps implements AutoCloseable {
    /** What a step read back, when asked: the batch loss and the logits [batch, classes]. */
    record Read(double loss, float[] logits) {
    }

    private final Module model;
    private final Optimizer opt;
    private final Device device;
    private final boolean cudaGraph;
    private final TrainPrecision precision;
    private final PrecisionStep amp;
    private CudaGraphStep graph;
    private Tensor input, logits;

    TrainingSteps(Module model, Optimizer opt, Device device, boolean cudaGraph, TrainPrecision precision,
                  PrecisionStep amp) {
        if (cudaGraph && !device.isCuda()) {
            throw new IllegalArgumentException("CUDA graphs need a CUDA device, not " + device);
        }
        if (cudaGraph && precision == TrainPrecision.FP16) {
            throw new IllegalArgumentException("CUDA graphs cannot capture fp16's loss scaler (a host read per step)");
        }
        this.precision = precision;
        this.amp = amp;
        this.model = model;
        this.opt = opt;
        this.device = device;
        this.cudaGraph = cudaGraph;
    }

    /** Call at the start of each epoch, after setting its learning rate: the next batch recaptures. */
    void newEpoch() {
        closeGraph();
    }

    /** One optimizer step on {@code batch}; reads the loss and logits back (a host sync) only when {@code read}. */
    Read step(DataLoader.Batch batch, boolean read) {
        Tensor x = batch.inputs();
        if (graph != null && x.shape().equals(input.shape())) {
            input.copyFrom(x);
            graph.setTargets(batch.labels());
            graph.replay();
            return read ? new Read(graph.output().item(), logits.toArray()) : null;
        }
        Read r = eager(batch, read);
        if (cudaGraph && graph == null) {
            capture(batch);
        }
        return r;
    }

    private Read eager(DataLoader.Batch batch, boolean read) {
        opt.zeroGrad(); // after replays the gradients hold the last replay's: backward would add to them
        // The scope frees whatever the step makes outside the modules (autocast casts, fp16's scaled loss).
        try (TensorScope scope = TensorScope.open(); Autocast ac = precision.autocast();
             Tensor out = model.forward(batch.inputs()).retain(); Tensor loss = out.crossEntropy(batch.labels())) {
            amp.backwardAndStep(loss);
            opt.zeroGrad();
            return read ? new Read(loss.item(), out.toArray()) : null;
        }
    }

    private void capture(DataLoader.Batch shapeOf) {
        input = TensorScope.unscoped(Tensor.zeros(shapeOf.inputs().shape(), device));
        int[] targets = shapeOf.labels().clone(); // shapes the graph; each replay's come from setTargets
        try {
            graph = CudaGraphStep.capture(device, () -> {
                opt.zeroGrad();
                Tensor loss;
                try (Autocast ac = precision.autocast()) {
                    logits = TensorScope.unscoped(model.forward(input).retain());
                    loss = logits.crossEntropy(targets);
                }
                loss.backward();
                opt.step();
                return loss;
            });
        } catch (GraphCaptureException e) {
            closeGraph();
            throw UserError.runtime("--cuda-graph: this model's training step cannot be captured as a CUDA graph: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeGraph();
            throw e;
        }
    }

    private void closeGraph() {
        if (graph != null) {
            opt.zeroGrad(); // the gradients were made by the graph, in its memory
        }
        for (AutoCloseable c : new AutoCloseable[] {graph, logits, input}) {
            if (c != null && !(c instanceof Tensor t && t.isClosed())) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new IllegalStateException("closing the CUDA graph step", e);
                }
            }
        }
        graph = null;
        logits = null;
        input = null;
    }

    @Override
    public void close() {
        closeGraph();
    }
}
