package io.jdl.tensor;

import io.jdl.autograd.Autograd;
import io.jdl.autograd.NoGrad;
import io.jdl.device.DType;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The autograd engine: records ops on their results ({@link #record}), accumulates gradients
 * ({@link #accumulate}) and runs and frees graphs ({@link #backward}, {@link #free}). The ownership rules
 * it implements are spelled out on {@link Tensor}.
 */
final class Graph {
    private Graph() {
    }

    /**
     * Attaches {@code backward} (named {@code op}) to {@code out} when recording: grad is enabled and an
     * input needs a gradient. Otherwise frees {@code saved} at once and returns {@code out} as a plain tensor.
     */
    static Tensor record(String op, Tensor out, Consumer<Tensor> backward, List<Tensor> saved, Tensor... inputs) {
        boolean needed = false;
        for (Tensor in : inputs) {
            needed |= in.needsGrad();
        }
        if (!needed || !Autograd.isGradEnabled()) {
            saved.forEach(Tensor::close);
            return out;
        }
        Thread me = Thread.currentThread();
        for (Tensor in : inputs) {
            // Cheap thread confinement: a graph's tensors are counted and freed without locks.
            if (in.graphRefs > 0 && in.graphThread != me || in.node != null && in.node.thread != me) {
                saved.forEach(Tensor::close);
                throw new IllegalStateException(op + ": tensor " + in.shape() + " is part of a graph being recorded"
                        + " on thread " + (in.node != null ? in.node.thread : in.graphThread).getName() + ", not "
                        + me.getName() + " (a graph, its tensors and the modules that build it belong to one"
                        + " thread until it is freed)");
            }
        }
        saved.forEach(TensorScope::unscoped); // the node owns them now, not the scope they were made in
        out.node = new Node(op, inputs, backward, saved);
        for (Tensor in : inputs) {
            in.graphRefs++;
            in.graphThread = me;
        }
        return out;
    }

    static Tensor record(String op, Tensor out, Consumer<Tensor> backward, Tensor... inputs) {
        return record(op, out, backward, List.of(), inputs);
    }

    /** Adds the gradient {@code gradient} computes to {@code t}'s, computing it only when {@code t} needs one. */
    static void accumulate(Tensor t, Supplier<Tensor> gradient) {
        if (t.needsGrad()) {
            add(t, gradient.get());
        }
    }

    /** Adds {@code g} (which this call takes over) to {@code t}'s gradient, or closes it when t needs none. */
    static void accumulate(Tensor t, Tensor g) {
        if (t.needsGrad()) {
            add(t, g);
        } else {
            g.close();
        }
    }

    private static void add(Tensor t, Tensor g) {
        if (!g.shape().equals(t.shape())) {
            g.close();
            throw new IllegalStateException("gradient of shape " + g.shape() + " for tensor " + t.shape());
        }
        if (g.broadcast != null) { // gradients are stored dense, and may be added to in place
            Tensor d = g.detach();
            g.close();
            g = d;
        }
        if (t.dtype() != DType.FLOAT32 || g.dtype() != DType.FLOAT32) {
            addInDType(t, g);
        } else if (t.grad == null) {
            TensorScope.claim(g);
            t.grad = g;
        } else if (t.grad.memory().isShared() || t.grad.broadcast != null) {
            // The gradient is a view of memory another open tensor reads (e.g. the very gradient being
            // pushed back, or g itself), or a broadcast view (one element for many): add out of place rather
            // than change it under that reader.
            Tensor sum = t.grad.empty(t.shape);
            t.backend.axpby(1f, t.grad.dense(), 1f, g.dense(), sum.dense(), t.numel());
            TensorScope.claim(sum);
            t.grad.close();
            t.grad = sum;
            g.close();
        } else {
            t.backend.axpby(1f, t.grad.dense(), 1f, g.dense(), t.grad.written("gradient accumulation"), t.numel());
            g.close();
        }
    }

    /**
     * A gradient lands in its tensor's dtype (a half leaf gets a half gradient, as in PyTorch); sums of half
     * gradients are taken in float32 and rounded once.
     */
    private static void addInDType(Tensor t, Tensor g) {
        Tensor mine = g.dtype() == t.dtype() ? g : Conversions.to(g, t.dtype());
        if (mine != g) {
            g.close();
        }
        if (t.grad == null) {
            TensorScope.claim(mine);
            t.grad = mine;
            return;
        }
        Tensor sum;
        try (mine) {
            sum = DTypeRules.pointwise("gradient accumulation", t.grad, mine, (a, b, d) -> Pointwise.add(a, b, 1f, d));
        }
        TensorScope.claim(sum);
        t.grad.close();
        t.grad = sum;
    }

    /** Back-propagates from the one-element {@code root} into every leaf that requires grad, then frees the graph. */
    static void backward(Tensor root) {
        root.checkOpen();
        if (root.numel() != 1) {
            throw new IllegalArgumentException("backward() starts from a one-element (scalar) tensor, not shape "
                    + root.shape());
        }
        if (root.graphFreed) {
            throw new IllegalStateException("backward() called twice: the graph of this tensor was freed by the first"
                    + " backward() (build a new one by running the forward pass again)");
        }
        if (root.node == null) {
            if (!root.requiresGrad()) {
                throw new IllegalStateException("backward(): tensor " + root.shape()
                        + " does not require grad and has no graph");
            }
            add(root, root.filled(root.shape(), 1f));
            return;
        }
        List<Tensor> order = order(root);
        try {
            for (Tensor t : order) {
                for (Tensor in : t.node.inputs) {
                    if (in.memory().isClosed()) { // an input the graph still reads was freed: its memory is gone
                        in.checkOpen();
                    }
                }
                t.node.checkVersions();
            }
            try (NoGrad ignored = Autograd.noGrad()) {
                root.grad = root.filled(root.shape(), 1f);
                // Outputs before inputs: a tensor's gradient is complete when its turn comes.
                for (int i = order.size() - 1; i >= 0; i--) {
                    Tensor t = order.get(i);
                    Tensor g = t.grad;
                    t.grad = null;
                    if (g != null) {
                        // A step that fails half-way (e.g. a device out-of-memory) closes what it made that no
                        // tensor took as its gradient; gradients already accumulated stay with their tensors.
                        List<Tensor> made = TensorScope.trackBackwardStep();
                        try {
                            t.node.backward.accept(g);
                        } catch (RuntimeException | Error e) {
                            for (Tensor m : made) {
                                if (!m.isClosed()) {
                                    m.close();
                                }
                            }
                            throw e;
                        } finally {
                            TensorScope.endBackwardStep();
                            g.close();
                        }
                    }
                }
            }
        } finally {
            free(root, order);
        }
    }

    /** {@link Tensor#close()}: frees t's handle, its gradient and its graph, or defers to the graph still reading it. */
    static void close(Tensor t) {
        if (t.handleClosed || t.memory().isClosed() && !t.releasedByGraph) {
            throw new IllegalStateException("tensor " + t.shape() + " on " + t.device() + " was already closed");
        }
        if (t.memory().isClosed()) {
            return;
        }
        t.handleClosed = true;
        t.zeroGrad();
        if (t.graphRefs > 0) {
            return; // a recorded op still needs these values for backward(): freed with its graph
        }
        if (t.node != null) {
            free(t);
        }
        LeakDetector.closeStorage(t);
    }

    /** Frees the graph below {@code root} (a recorded tensor) without back-propagating. */
    static void free(Tensor root) {
        free(root, order(root));
    }

    /**
     * Closes the saved buffers and the intermediates of a graph and drops its reads of leaves; the root
     * stays open, and so do intermediates marked {@link Tensor#retain()} (they become leaves).
     */
    private static void free(Tensor root, List<Tensor> order) {
        for (Tensor t : order) {
            Node node = t.node;
            t.node = null;
            node.freeSaved();
            for (Tensor in : node.inputs) {
                // The last graph reading a tensor its owner closed frees it.
                if (--in.graphRefs == 0 && in.handleClosed && in.node == null && !in.memory().isClosed()) {
                    LeakDetector.closeStorage(in);
                }
            }
            if (t.grad != null) {
                t.grad.close();
                t.grad = null;
            }
            if (t != root && !t.retained) {
                if (!t.memory().isClosed()) {
                    LeakDetector.closeStorage(t);
                }
                t.releasedByGraph = true;
            }
        }
        root.graphFreed = true;
    }

    /** The recorded tensors reachable from {@code root}, inputs before the ops that read them. */
    private static List<Tensor> order(Tensor root) {
        List<Tensor> order = new ArrayList<>();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        ArrayDeque<Tensor> stack = new ArrayDeque<>();
        ArrayDeque<Integer> next = new ArrayDeque<>();
        stack.push(root);
        next.push(0);
        seen.add(root);
        while (!stack.isEmpty()) {
            Tensor t = stack.peek();
            int i = next.pop();
            Tensor[] inputs = t.node.inputs;
            if (i < inputs.length) {
                next.push(i + 1);
                Tensor in = inputs[i];
                if (in.node != null && seen.add(in)) {
                    stack.push(in);
                    next.push(0);
                }
            } else {
                stack.pop();
                order.add(t);
            }
        }
        return order;
    }
}
