package io.jdl.samples;

import io.jdl.cuda.GraphCaptureException;
import io.jdl.data.DataLoader;
import io.jdl.device.Device;
import io.jdl.nn.Module;
import io.jdl.optim.Optimizer;
import io.jdl.samples.cli.UserError;
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
 * <p>Owns the graph and its static tensors until {@link #newEpoch()} or {@link #close()}.
 */
final class TrainingSteps implements AutoCloseable {
    /** What a step read back, when asked: the batch loss and the logits [batch, classes]. */
    record Read(double loss, float[] logits) {
    }

    private final Module model;
    private final Optimizer opt;
    private final Device device;
    private final boolean cudaGraph;
    private CudaGraphStep graph;
    private Tensor input, logits;

    TrainingSteps(Module model, Optimizer opt, Device device, boolean cudaGraph) {
        if (cudaGraph && !device.isCuda()) {
            throw new IllegalArgumentException("CUDA graphs need a CUDA device, not " + device);
        }
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
        try (Tensor out = model.forward(batch.inputs()).retain(); Tensor loss = out.crossEntropy(batch.labels())) {
            loss.backward();
            opt.step();
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
                logits = TensorScope.unscoped(model.forward(input).retain());
                Tensor loss = logits.crossEntropy(targets);
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
