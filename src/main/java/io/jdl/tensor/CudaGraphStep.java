package io.jdl.tensor;

import io.jdl.backend.Backend;
import io.jdl.backend.Backends;
import io.jdl.backend.CapturedGraph;
import io.jdl.device.Device;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;
import java.util.function.Supplier;

/**
 * One training step (forward, loss, backward, optimizer) captured as a CUDA graph and replayed with a
 * single launch: no per-op host work, no allocation, no host synchronisation per step.
 *
 * <pre>{@code
 * Tensor x = Tensor.zeros(Shape.of(batch, 784), device);              // static input
 * x.copyFrom(firstBatch); opt.zeroGrad();                              // 1. one eager warm-up step
 * model.forward(x).crossEntropy(firstTargets).backward(); opt.step(); //    (creates optimizer state, picks cuDNN algorithms)
 * try (CudaGraphStep step = CudaGraphStep.capture(device, () -> {     // 2. capture (runs nothing)
 *          opt.zeroGrad();
 *          Tensor loss = model.forward(x).crossEntropy(firstTargets);
 *          loss.backward();
 *          opt.step();
 *          return loss; })) {                                          //    the static output
 *     for (Batch b : batches) {
 *         x.copyFrom(b.x());  step.setTargets(b.targets());            // 3. new values into the static inputs
 *         step.replay();                                               //    one launch
 *         float loss = step.output().item();                           //    (reading waits for it)
 *     }
 * }
 * }</pre>
 *
 * <p><b>Rules</b> (as PyTorch's {@code torch.cuda.graph}):
 * <ul>
 * <li><b>Warm up first.</b> Run the step eagerly at least once before capturing: the optimizer creates its
 *     state tensors and cuDNN chooses its algorithms on the first step, which a capture cannot do (an optimizer
 *     without state refuses to step inside a capture).</li>
 * <li><b>Static inputs.</b> A replay reads the memory the capture read: copy each batch into the same input
 *     tensors ({@link Tensor#copyFrom}) and the cross-entropy targets with {@link #setTargets}; the targets
 *     given to {@code crossEntropy} inside the capture only shape it (rows, classes, ignored rows).</li>
 * <li><b>No host reads or uploads</b> inside the capture: {@code item()}, {@code toArray()}, {@code Tensor.of}
 *     from host values, embedding ids throw {@code GraphCaptureException} ("cannot read a device value inside
 *     CUDA graph capture: ..."), and the capture is discarded with the memory it took (gradients that its
 *     backward created were never computed: {@code zeroGrad()} before the next step).</li>
 * <li><b>Gradients.</b> Call {@code zeroGrad()} inside the step, before backward: the gradients are then
 *     created by the captured backward in the graph's memory, and every replay writes them afresh. Do not
 *     close or zero them between replays. After the last replay they hold its gradients (as after an eager
 *     step): an eager step that follows must begin with {@code zeroGrad()}.</li>
 * <li><b>What is baked in:</b> shapes, the learning rate, every scalar argument. Adam's step count and dropout
 *     seeds are not: they add a replay counter that the graph keeps on the device, so replay k computes what
 *     the k-th eager step after the capture would (and {@link #replay} advances the host copies of those
 *     counters, so a checkpoint stays right). Recapture after changing the batch size, the learning rate (a
 *     replay refuses to run with a changed one) or the optimizer's state (loading a checkpoint).</li>
 * </ul>
 *
 * <p><b>Lifetime.</b> Owns the graph, its private memory pool and the output tensor until {@link #close()};
 * tensors created in the step that outlive it (gradients) keep their memory until closed. One thread.
 */
public final class CudaGraphStep implements AutoCloseable {
    /** What the step being captured on this thread registered (see {@link #advancesPerReplay}, {@link #bakesIn}). */
    private static final ThreadLocal<Registrations> CAPTURING = new ThreadLocal<>();

    /** A host value the graph holds as a constant: the value then, and how to read it now. */
    private record Baked(String what, Supplier<Object> current, Object captured) {
    }

    private record Registrations(List<IntConsumer> counters, List<Baked> baked) {
    }

    private final CapturedGraph graph;
    private final Tensor output;
    private final Registrations registered;
    private boolean closed;

    private CudaGraphStep(CapturedGraph graph, Tensor output, Registrations registered) {
        this.graph = graph;
        this.output = output;
        this.registered = registered;
    }

    /**
     * Captures {@code step} on {@code device}; its result (the loss) becomes the static {@link #output()}.
     * The step runs in its own {@link TensorScope}; nothing it queues runs until {@link #replay()}.
     *
     * @throws UnsupportedOperationException when {@code device} is not a CUDA device
     * @throws IllegalStateException         when a capture is already running on this thread, or the step
     *                                       reads a device value or uploads host data (then nothing leaks)
     */
    public static CudaGraphStep capture(Device device, Supplier<Tensor> step) {
        Checks.notNull("CudaGraphStep.capture", "device", device);
        Checks.notNull("CudaGraphStep.capture", "step", step);
        if (!device.isCuda()) {
            throw new UnsupportedOperationException("CUDA graph capture needs a CUDA device, got " + device
                    + " (on the CPU run the step eagerly)");
        }
        if (CAPTURING.get() != null) {
            throw new IllegalStateException("a CUDA graph step is already being captured on this thread");
        }
        Backend backend = Backends.of(device);
        Registrations registered = new Registrations(new ArrayList<>(), new ArrayList<>());
        Tensor[] output = new Tensor[1];
        CAPTURING.set(registered);
        CapturedGraph graph;
        try {
            graph = backend.captureGraph(() -> {
                try (TensorScope scope = TensorScope.open()) {
                    Tensor result = step.get();
                    if (result == null || !result.device().equals(device)) {
                        throw new IllegalArgumentException("the captured step must return its output (the loss) on "
                                + device + ", got " + result);
                    }
                    output[0] = TensorScope.unscoped(result);
                }
            });
        } catch (RuntimeException | Error e) {
            if (output[0] != null) {
                output[0].close();
            }
            throw e;
        } finally {
            CAPTURING.remove();
            // The capture ran no step: the host counters it advanced go back (a failed capture's too).
            registered.counters().forEach(c -> c.accept(-1));
        }
        return new CudaGraphStep(graph, output[0], registered);
    }

    /** Whether a step is being captured on this thread (for code that must act differently, like Adam). */
    public static boolean isCapturing() {
        return CAPTURING.get() != null;
    }

    /**
     * Registers host state that one step advances by one (Adam's step counts, dropout seed positions) when
     * called during a capture; a no-op otherwise. {@code advance.accept(n)} moves it by n: -1 after the
     * capture (which ran no step), +1 per replay, so it always says what an eager run would.
     */
    public static void advancesPerReplay(IntConsumer advance) {
        Registrations r = CAPTURING.get();
        if (r != null) {
            r.counters().add(advance);
        }
    }

    /**
     * Registers, during a capture, a host value that the recorded work uses as a constant (an optimizer's
     * learning rate): {@link #replay()} then refuses to run once it differs from its value at capture, instead
     * of silently replaying the old one. A no-op outside a capture.
     */
    public static void bakesIn(String what, Supplier<Object> current) {
        Registrations r = CAPTURING.get();
        if (r != null) {
            r.baked().add(new Baked(what, current, current.get()));
        }
    }

    /**
     * Queues one replay of the step; returns at once.
     *
     * @throws IllegalStateException when a value baked into the graph changed since the capture (recapture)
     */
    public void replay() {
        checkOpen();
        for (Baked b : registered.baked()) {
            Object now = b.current().get();
            if (!now.equals(b.captured())) {
                throw new IllegalStateException("the " + b.what() + " changed from " + b.captured() + " to " + now
                        + " since the step was captured, and the graph holds the old value: capture the step again");
            }
        }
        graph.replay();
        registered.counters().forEach(c -> c.accept(1));
    }

    /** The static output (the loss): rewritten by every replay; reading it waits for the replays queued. */
    public Tensor output() {
        checkOpen();
        return output;
    }

    /** Copies the cross-entropy targets for the next replays (see {@link CapturedGraph#setTargets}). */
    public void setTargets(int[] targets) {
        checkOpen();
        graph.setTargets(targets);
    }

    /** Replays so far. */
    public long replays() {
        return graph.replays();
    }

    /** Device memory the capture obtained from the driver for the graph's private pool. */
    public long poolBytes() {
        return graph.poolBytes();
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the CUDA graph step is closed");
        }
    }

    /** Frees the graph, its pool and the output; idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (!output.isClosed()) {
                output.close();
            }
        } finally {
            graph.close();
        }
    }
}
