package io.jdl.tensor;

import io.jdl.autograd.Autograd;
import io.jdl.autograd.NoGrad;
import io.jdl.autograd.Node;
import io.jdl.backend.Activation;
import io.jdl.backend.Backend;
import io.jdl.backend.ConvShape;
import io.jdl.backend.Device;
import io.jdl.backend.PoolShape;
import io.jdl.backend.Storage;
import io.jdl.backend.cpu.CpuBackend;
import io.jdl.backend.cuda.CudaBackend;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Consumer;

/**
 * An n-dimensional array of float32 on one device, with reverse-mode automatic differentiation.
 *
 * <p><b>Ownership.</b> A tensor owns its memory and frees it on {@link #close()}. The rules:
 * <ul>
 * <li>Tensors you create ({@link #of}, {@link #zeros}, ...) are <i>leaves</i>: you own them and close
 *     them (a module owns its parameters). A leaf's {@link #grad()} belongs to the leaf.</li>
 * <li>An operation whose inputs need no gradient (or that runs inside {@link Autograd#noGrad()})
 *     returns a tensor that you own, as above.</li>
 * <li>An operation that is <i>recorded</i> (grad enabled, some input {@link #requiresGrad()} or is
 *     itself recorded) returns a graph-owned tensor. {@link #backward()} on the final scalar frees the
 *     whole graph: every recorded intermediate and every buffer saved for backward is closed, except
 *     the root itself (you close it) and intermediates you marked with {@link #retain()} (then yours).
 *     Closing a recorded root without calling backward frees its graph the same way. Using a tensor
 *     the graph released throws {@link IllegalStateException}; closing it is a no-op.</li>
 * <li>Using a closed tensor, or closing a leaf twice, throws {@link IllegalStateException}.</li>
 * <li>Closing a tensor that a recorded op still reads (say a reshaped input batch, which needs no
 *     gradient but is kept for the weight gradient) is allowed: it is closed for you at once, and its
 *     memory is freed when that graph is freed.</li>
 * </ul>
 * So a training step needs no bookkeeping: {@code try (Tensor loss = model.forward(x).crossEntropy(y))
 * { loss.backward(); }} leaves only the parameters and their gradients allocated.
 *
 * <p><b>Gradients</b> accumulate into leaves across backward calls until {@link #zeroGrad()}.
 * Calling {@code backward()} twice on one graph is an error (the first call freed it).
 *
 * <p><b>Checks.</b> Each operation validates shapes and devices before any work is queued: a mismatch
 * is an {@link IllegalArgumentException} naming the shapes or devices involved.
 *
 * <p><b>Asynchrony.</b> On a GPU, operations are queued on the device's stream and return at once;
 * {@link #toArray()} and {@link #item()} wait for the result.
 */
public final class Tensor implements AutoCloseable {
    private final Shape shape;
    private final Backend backend;
    private final Storage storage;

    // autograd state
    private boolean requiresGrad;
    private Tensor grad;
    private Node node;
    private boolean retained;
    private boolean releasedByGraph;
    private boolean graphFreed;
    /** Recorded ops that read this tensor and have not been freed: a close() waits for them (see close()). */
    private int graphRefs;
    private boolean closeDeferred;

    private Tensor(Shape shape, Backend backend, Storage storage) {
        this.shape = shape;
        this.backend = backend;
        this.storage = storage;
    }

    /** The backend that computes on {@code device}; for CUDA it throws when no usable GPU exists. */
    public static Backend backend(Device device) {
        Checks.notNull("tensor creation", "device", device);
        return device.isCuda() ? CudaBackend.get(device.index()) : CpuBackend.INSTANCE;
    }

    // ---- creation ----

    /** A CPU tensor holding a copy of {@code data}. */
    public static Tensor of(float[] data, int... dims) {
        return of(data, Shape.of(dims), Device.CPU);
    }

    /** A tensor on {@code device} holding a copy of {@code data}. */
    public static Tensor of(float[] data, Shape shape, Device device) {
        if (Checks.notNull("Tensor.of", "data", data).length != Checks.notNull("Tensor.of", "shape", shape).numel()) {
            throw new IllegalArgumentException("shape " + shape + " has " + shape.numel() + " elements but " + data.length
                    + " values were given");
        }
        Backend b = backend(device);
        return new Tensor(shape, b, b.upload(data));
    }

    public static Tensor full(Shape shape, float value, Device device) {
        Backend b = backend(device);
        Storage s = b.allocate(Checks.notNull("Tensor.full", "shape", shape).numel());
        b.fill(s, value);
        return new Tensor(shape, b, s);
    }

    public static Tensor zeros(Shape shape, Device device) {
        return full(shape, 0f, device);
    }

    /** Standard normal values from {@code random}: the same seed gives the same tensor on any device. */
    public static Tensor randn(Random random, Shape shape, Device device) {
        Checks.notNull("randn", "random", random);
        float[] data = new float[Math.toIntExact(Checks.notNull("randn", "shape", shape).numel())];
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) random.nextGaussian();
        }
        return of(data, shape, device);
    }

    /** A new uninitialised tensor on this tensor's device. */
    private Tensor empty(Shape s) {
        return new Tensor(s, backend, backend.allocate(s.numel()));
    }

    private Tensor filled(Shape s, float value) {
        Tensor t = empty(s);
        backend.fill(t.storage, value);
        return t;
    }

    // ---- properties ----

    public Shape shape() {
        return shape;
    }

    public DType dtype() {
        return DType.FLOAT32;
    }

    public Device device() {
        return backend.device();
    }

    public long numel() {
        return shape.numel();
    }

    /** The storage, for backends and the layers above; throws once closed. */
    public Storage storage() {
        checkOpen();
        return storage;
    }

    /** The backend computing on this tensor's device. */
    public Backend backendOf() {
        return backend;
    }

    public boolean isClosed() {
        return storage.isClosed() || closeDeferred;
    }

    private void checkOpen() {
        if (storage.isClosed() || closeDeferred) {
            throw new IllegalStateException("tensor " + shape + " on " + device() + (releasedByGraph
                    ? " was released by backward() (a graph's intermediates are freed with it; call retain() before"
                    + " backward() to keep one)" : " is closed"));
        }
    }

    // ---- moving data ----

    /** A copy on {@code device} (a copy even when it is already there), outside any graph. */
    public Tensor to(Device device) {
        return of(toArray(), shape, device);
    }

    /** The elements in row-major order, copied to the host (waits for queued work). */
    public float[] toArray() {
        checkOpen();
        return backend.download(storage, shape.numel());
    }

    /** The value of a one-element tensor. */
    public float item() {
        if (shape.numel() != 1) {
            throw new IllegalArgumentException("item() needs a tensor with one element, not shape " + shape);
        }
        return toArray()[0];
    }

    /** Overwrites this tensor's values with {@code src}'s (same shape and device), outside any graph. */
    public void copyFrom(Tensor src) {
        sameShape("copyFrom", src);
        backend.copy(src.storage, storage, numel());
    }

    // ---- autograd ----

    /** Marks a leaf as needing a gradient; returns this. */
    public Tensor requiresGrad(boolean value) {
        if (node != null) {
            throw new IllegalStateException("requiresGrad can only be set on leaf tensors, not on the result of an op");
        }
        requiresGrad = value;
        return this;
    }

    public boolean requiresGrad() {
        return requiresGrad;
    }

    /** Whether gradients flow to this tensor: a leaf that requires grad, or a recorded result. */
    public boolean needsGrad() {
        return requiresGrad || node != null;
    }

    /** The accumulated gradient of a leaf (owned by the leaf), or null before any backward. */
    public Tensor grad() {
        return grad;
    }

    /** Frees the accumulated gradient; the next backward starts from zero. */
    public void zeroGrad() {
        if (grad != null) {
            grad.close();
            grad = null;
        }
    }

    /** Keeps this recorded intermediate alive when its graph is freed; the caller then owns it. */
    public Tensor retain() {
        retained = true;
        return this;
    }

    /** A copy outside any graph, owned by the caller. */
    public Tensor detach() {
        checkOpen();
        Tensor t = empty(shape);
        backend.copy(storage, t.storage, numel());
        return t;
    }

    /**
     * Back-propagates from this one-element tensor: adds d(this)/d(leaf) to every leaf's
     * {@link #grad()} that requires one, then frees the graph (see the class comment).
     */
    public void backward() {
        checkOpen();
        if (numel() != 1) {
            throw new IllegalArgumentException("backward() starts from a one-element (scalar) tensor, not shape " + shape);
        }
        if (graphFreed) {
            throw new IllegalStateException("backward() called twice: the graph of this tensor was freed by the first"
                    + " backward() (build a new one by running the forward pass again)");
        }
        if (node == null) {
            if (!requiresGrad) {
                throw new IllegalStateException("backward(): tensor " + shape + " does not require grad and has no graph");
            }
            addGrad(filled(shape, 1f));
            return;
        }
        List<Tensor> order = topologicalOrder();
        try (NoGrad ignored = Autograd.noGrad()) {
            grad = filled(shape, 1f);
            // Outputs before inputs: a tensor's gradient is complete when its turn comes.
            for (int i = order.size() - 1; i >= 0; i--) {
                Tensor t = order.get(i);
                Tensor g = t.grad;
                t.grad = null;
                if (g != null) {
                    try {
                        t.node.backward(g);
                    } finally {
                        g.close();
                    }
                }
            }
        } finally {
            freeGraph(order);
        }
    }

    /** The recorded tensors reachable from this one, inputs before the ops that read them. */
    private List<Tensor> topologicalOrder() {
        List<Tensor> order = new ArrayList<>();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        ArrayDeque<Tensor> stack = new ArrayDeque<>();
        ArrayDeque<Integer> next = new ArrayDeque<>();
        stack.push(this);
        next.push(0);
        seen.add(this);
        while (!stack.isEmpty()) {
            Tensor t = stack.peek();
            int i = next.pop();
            Tensor[] inputs = t.node.inputs();
            if (i < inputs.length) {
                next.push(i + 1);
                Tensor in = inputs[i];
                if (in.storage.isClosed()) { // a closed input the graph still reads: its memory is gone
                    in.checkOpen();
                }
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

    /** Closes the buffers and intermediates of a graph; the root (this) stays open. */
    private void freeGraph(List<Tensor> order) {
        for (Tensor t : order) {
            for (Tensor in : t.node.inputs()) {
                in.dropGraphRef();
            }
            t.node.free();
            t.node = null;
            if (t.grad != null) {
                t.grad.close();
                t.grad = null;
            }
            if (t != this && !t.retained && !t.storage.isClosed()) {
                t.storage.close();
                t.releasedByGraph = true;
            }
        }
        graphFreed = true;
    }

    /** Adds {@code g} (which this call takes over) to this tensor's gradient. */
    private void addGrad(Tensor g) {
        if (!g.shape.equals(shape)) {
            throw new IllegalStateException("gradient of shape " + g.shape + " for tensor " + shape);
        }
        if (grad == null) {
            grad = g;
        } else {
            backend.axpby(1f, grad.storage, 1f, g.storage, grad.storage, numel());
            g.close();
        }
    }

    /** Computes a gradient for {@code t} only when it needs one. */
    private static void pushGrad(Tensor t, java.util.function.Supplier<Tensor> gradient) {
        if (t.needsGrad()) {
            t.addGrad(gradient.get());
        }
    }

    /** Attaches {@code backward} to {@code out} when recording; else frees {@code saved} at once. */
    private static Tensor record(Tensor out, Consumer<Tensor> backward, List<Tensor> saved, Tensor... inputs) {
        boolean needed = false;
        for (Tensor in : inputs) {
            needed |= in.needsGrad();
        }
        if (needed && Autograd.isGradEnabled()) {
            out.node = new Node(inputs, backward, saved);
            for (Tensor in : inputs) {
                in.graphRefs++;
            }
        } else {
            saved.forEach(Tensor::close);
        }
        return out;
    }

    private static Tensor record(Tensor out, Consumer<Tensor> backward, Tensor... inputs) {
        return record(out, backward, List.of(), inputs);
    }

    // ---- linear algebra ----

    /** The matrix product of [m, k] and [k, n] tensors, or batched over a leading dimension: [b, m, k]·[b, k, n]. */
    public Tensor matmul(Tensor other) {
        return matmul(other, false, false);
    }

    /**
     * op(this)·op(other), where op transposes the last two dimensions when asked: this is [.., m, k]
     * ([.., k, m] when {@code transThis}), other [.., k, n] ([.., n, k] when {@code transOther}).
     */
    public Tensor matmul(Tensor other, boolean transThis, boolean transOther) {
        sameDevice("matmul", other);
        int rank = shape.rank();
        if (rank < 2 || rank > 3 || other.shape.rank() != rank) {
            throw new IllegalArgumentException("matmul takes two 2-d or two 3-d tensors, got shapes " + shape + " and "
                    + other.shape);
        }
        int batch = rank == 3 ? shape.dim(0) : 1;
        if (rank == 3 && other.shape.dim(0) != batch) {
            throw new IllegalArgumentException("matmul batch sizes differ: shapes " + shape + " and " + other.shape);
        }
        int m = transThis ? shape.dim(-1) : shape.dim(-2);
        int k = transThis ? shape.dim(-2) : shape.dim(-1);
        int k2 = transOther ? other.shape.dim(-1) : other.shape.dim(-2);
        int n = transOther ? other.shape.dim(-2) : other.shape.dim(-1);
        if (k != k2) {
            throw new IllegalArgumentException("matmul inner dimensions differ: shapes " + shape + (transThis ? "ᵀ" : "")
                    + " and " + other.shape + (transOther ? "ᵀ" : "") + " (" + k + " vs " + k2 + ")");
        }
        Tensor out = empty(rank == 3 ? Shape.of(batch, m, n) : Shape.of(m, n));
        backend.matmul(transThis, transOther, batch, m, n, k, storage, other.storage, out.storage);
        Tensor a = this, b = other;
        return record(out, g -> {
            // C = op(A)·op(B): dop(A) = dC·op(B)ᵀ, dop(B) = op(A)ᵀ·dC, transposed back where A or B was.
            pushGrad(a, () -> transThis ? b.matmul(g, transOther, true) : g.matmul(b, false, !transOther));
            pushGrad(b, () -> transOther ? g.matmul(a, true, transThis) : a.matmul(g, !transThis, false));
        }, a, b);
    }

    /**
     * x·Wᵀ + b, PyTorch's linear: this is [.., in], {@code weight} [out, in], {@code bias} [out] or null.
     * Backward: dX = dY·W, dW = dYᵀ·X, db = column sums of dY, all as GEMMs on the GPU.
     */
    public Tensor linear(Tensor weight, Tensor bias) {
        sameDevice("linear", weight);
        if (bias != null) {
            sameDevice("linear", bias);
        }
        if (shape.rank() < 1 || weight.shape.rank() != 2 || weight.shape.dim(1) != shape.dim(-1)
                || (bias != null && (bias.shape.rank() != 1 || bias.shape.dim(0) != weight.shape.dim(0)))) {
            throw new IllegalArgumentException("linear: input " + shape + ", weight " + weight.shape + " and bias "
                    + (bias == null ? "none" : bias.shape) + " do not fit ([.., in], [out, in], [out])");
        }
        int in = weight.shape.dim(1), outF = weight.shape.dim(0), rows = Math.toIntExact(numel() / Math.max(1, in));
        int[] dims = shape.dims();
        dims[dims.length - 1] = outF;
        Tensor y = empty(Shape.of(dims));
        backend.matmul(false, true, 1, rows, outF, in, storage, weight.storage, y.storage);
        if (bias != null) {
            backend.addBias(y.storage, bias.storage, y.storage, rows, outF);
        }
        Tensor x = this;
        Consumer<Tensor> back = g -> {
            pushGrad(x, () -> {
                Tensor dx = x.empty(x.shape);
                backend.matmul(false, false, 1, rows, in, outF, g.storage, weight.storage, dx.storage);
                return dx;
            });
            pushGrad(weight, () -> {
                Tensor dw = x.empty(weight.shape);
                backend.matmul(true, false, 1, outF, in, rows, g.storage, x.storage, dw.storage);
                return dw;
            });
            if (bias != null) {
                pushGrad(bias, () -> {
                    Tensor db = x.empty(bias.shape);
                    backend.sum(g.storage, db.storage, 1, rows, outF);
                    return db;
                });
            }
        };
        return bias == null ? record(y, back, x, weight) : record(y, back, x, weight, bias);
    }

    // ---- elementwise ----

    public Tensor add(Tensor other) {
        return axpby("add", 1f, other, 1f);
    }

    public Tensor sub(Tensor other) {
        return axpby("sub", 1f, other, -1f);
    }

    private Tensor axpby(String op, float alpha, Tensor other, float beta) {
        sameShape(op, other);
        Tensor out = empty(shape);
        backend.axpby(alpha, storage, beta, other.storage, out.storage, numel());
        Tensor a = this;
        return record(out, g -> {
            pushGrad(a, () -> g.scale(alpha));
            pushGrad(other, () -> g.scale(beta));
        }, a, other);
    }

    /** Elementwise product. */
    public Tensor mul(Tensor other) {
        sameShape("mul", other);
        Tensor out = empty(shape);
        backend.mul(storage, other.storage, out.storage, numel());
        Tensor a = this;
        return record(out, g -> {
            pushGrad(a, () -> g.mul(other));
            pushGrad(other, () -> g.mul(a));
        }, a, other);
    }

    /** Every element times {@code factor}. */
    public Tensor scale(float factor) {
        checkOpen();
        Tensor out = empty(shape);
        backend.axpby(factor, storage, 0f, storage, out.storage, numel());
        Tensor a = this;
        return record(out, g -> pushGrad(a, () -> g.scale(factor)), a);
    }

    /** this[.., c] + bias[c]: adds a bias of the last dimension's size to every row. */
    public Tensor addBias(Tensor bias) {
        sameDevice("addBias", bias);
        if (shape.rank() < 1 || bias.shape.rank() != 1 || bias.shape.dim(0) != shape.dim(-1)) {
            throw new IllegalArgumentException("addBias: bias of shape " + bias.shape
                    + " does not match the last dimension of shape " + shape);
        }
        int cols = shape.dim(-1), rows = cols == 0 ? 0 : Math.toIntExact(numel() / cols);
        Tensor out = empty(shape);
        backend.addBias(storage, bias.storage, out.storage, rows, cols);
        Tensor x = this;
        return record(out, g -> {
            pushGrad(x, g::detach);
            pushGrad(bias, () -> {
                Tensor db = x.empty(bias.shape);
                backend.sum(g.storage, db.storage, 1, rows, cols);
                return db;
            });
        }, x, bias);
    }

    // ---- activations ----

    public Tensor relu() {
        return activation(Activation.RELU, 0f);
    }

    /** x for x > 0, else {@code slope}·x. */
    public Tensor leakyRelu(float slope) {
        return activation(Activation.LEAKY_RELU, slope);
    }

    public Tensor sigmoid() {
        return activation(Activation.SIGMOID, 0f);
    }

    public Tensor tanh() {
        return activation(Activation.TANH, 0f);
    }

    /** The exact GELU, x·Φ(x). */
    public Tensor gelu() {
        return activation(Activation.GELU, 0f);
    }

    private Tensor activation(Activation act, float param) {
        checkOpen();
        Tensor y = empty(shape);
        backend.activation(act, param, storage, y.storage, numel());
        Tensor x = this;
        return record(y, g -> pushGrad(x, () -> {
            Tensor dx = x.empty(shape);
            backend.activationBackward(act, param, x.storage, y.storage, g.storage, dx.storage, numel());
            return dx;
        }), x);
    }

    /** Softmax over the last dimension. */
    public Tensor softmax() {
        return softmax(false);
    }

    /** Log-softmax over the last dimension (numerically stable). */
    public Tensor logSoftmax() {
        return softmax(true);
    }

    private Tensor softmax(boolean log) {
        checkOpen();
        if (shape.rank() < 1) {
            throw new IllegalArgumentException("softmax needs at least one dimension, got shape " + shape);
        }
        int cols = shape.dim(-1), rows = cols == 0 ? 0 : Math.toIntExact(numel() / cols);
        Tensor y = empty(shape);
        backend.softmax(log, storage, y.storage, rows, cols);
        Tensor x = this;
        return record(y, g -> pushGrad(x, () -> {
            Tensor dx = x.empty(shape);
            backend.softmaxBackward(log, y.storage, g.storage, dx.storage, rows, cols);
            return dx;
        }), x);
    }

    // ---- losses ----

    /** Mean cross-entropy of logits [rows, classes] against class indices; no ignored index. */
    public Tensor crossEntropy(int[] targets) {
        return crossEntropy(targets, -100);
    }

    /**
     * Mean cross-entropy of logits [rows, classes] (or [.., classes]) against integer class targets,
     * averaged over the rows whose target is not {@code ignoreIndex} (0 when every row is ignored).
     */
    public Tensor crossEntropy(int[] targets, int ignoreIndex) {
        checkOpen();
        if (shape.rank() < 2) {
            throw new IllegalArgumentException("crossEntropy needs logits of rank >= 2 ([rows, classes]), got shape "
                    + shape);
        }
        int classes = shape.dim(-1), rows = Math.toIntExact(numel() / Math.max(1, classes));
        if (Checks.notNull("crossEntropy", "targets", targets).length != rows) {
            throw new IllegalArgumentException("crossEntropy: " + targets.length + " targets for logits of shape " + shape
                    + " (" + rows + " rows)");
        }
        int count = 0;
        for (int i = 0; i < rows; i++) {
            int t = targets[i];
            if (t == ignoreIndex) {
                continue;
            }
            if (t < 0 || t >= classes) {
                throw new IllegalArgumentException("crossEntropy: target " + t + " at row " + i + " is outside [0, "
                        + classes + ") for " + classes + " classes (logits " + shape + ", ignore index " + ignoreIndex + ")");
            }
            count++;
        }
        int[] tg = targets.clone();
        float scale = count == 0 ? 0f : 1f / count;
        Tensor out = empty(Shape.of());
        try (Tensor perRow = empty(Shape.of(rows))) {
            backend.crossEntropy(storage, tg, perRow.storage, rows, classes, ignoreIndex);
            backend.sum(perRow.storage, out.storage, 1, rows, 1);
            backend.axpby(scale, out.storage, 0f, out.storage, out.storage, 1);
        }
        Tensor x = this;
        return record(out, g -> pushGrad(x, () -> {
            Tensor d = x.empty(shape);
            try (Tensor unit = x.empty(shape)) {
                backend.crossEntropyBackward(x.storage, tg, unit.storage, rows, classes, ignoreIndex, scale);
                backend.mulScalar(unit.storage, g.storage, d.storage, d.numel());
            }
            return d;
        }), x);
    }

    /** Mean squared error mean((this - target)²), a scalar. */
    public Tensor mse(Tensor target) {
        sameShape("mse", target);
        long n = numel();
        Tensor diff = empty(shape);
        backend.axpby(1f, storage, -1f, target.storage, diff.storage, n);
        Tensor out = empty(Shape.of());
        try (Tensor sq = empty(shape)) {
            backend.mul(diff.storage, diff.storage, sq.storage, n);
            backend.sum(sq.storage, out.storage, 1, Math.toIntExact(n), 1);
            backend.axpby(1f / n, out.storage, 0f, out.storage, out.storage, 1);
        }
        Tensor x = this;
        return record(out, g -> {
            // d/dx = 2/n·(x - t)·g; d/dt is its negative.
            Tensor dx = x.empty(shape);
            backend.mulScalar(diff.storage, g.storage, dx.storage, n);
            backend.axpby(2f / n, dx.storage, 0f, dx.storage, dx.storage, n);
            pushGrad(target, () -> dx.scale(-1f));
            if (x.needsGrad()) {
                x.addGrad(dx);
            } else {
                dx.close();
            }
        }, List.of(diff), x, target);
    }

    // ---- reductions ----

    /** The sum of all elements, as a one-element tensor of shape []. */
    public Tensor sum() {
        return reduce(Shape.of(), 1, Math.toIntExact(numel()), 1, 1f);
    }

    /** The mean of all elements, shape []. */
    public Tensor mean() {
        return reduce(Shape.of(), 1, Math.toIntExact(numel()), 1, 1f / numel());
    }

    /** Sums over dimension {@code axis}, which disappears from the shape. */
    public Tensor sum(int axis) {
        int a = shape.axis(axis);
        return reduce(shape.without(a), shape.product(0, a), shape.dim(a), shape.product(a + 1, shape.rank()), 1f);
    }

    /** Means over dimension {@code axis}, which disappears from the shape. */
    public Tensor mean(int axis) {
        int a = shape.axis(axis);
        return reduce(shape.without(a), shape.product(0, a), shape.dim(a), shape.product(a + 1, shape.rank()),
                1f / shape.dim(a));
    }

    /** factor·Σ over the middle of [outer, dim, inner]; backward broadcasts the gradient back. */
    private Tensor reduce(Shape outShape, int outer, int dim, int inner, float factor) {
        checkOpen();
        Tensor out = empty(outShape);
        backend.sum(storage, out.storage, outer, dim, inner);
        if (factor != 1f) {
            backend.axpby(factor, out.storage, 0f, out.storage, out.storage, out.numel());
        }
        Tensor x = this;
        return record(out, g -> pushGrad(x, () -> {
            Tensor dx = x.empty(shape);
            backend.broadcast(g.storage, dx.storage, outer, dim, inner);
            if (factor != 1f) {
                backend.axpby(factor, dx.storage, 0f, dx.storage, dx.storage, dx.numel());
            }
            return dx;
        }), x);
    }

    // ---- shape ----

    /** The same elements in a new shape (a copy); one dimension may be -1 (inferred). */
    public Tensor reshape(int... dims) {
        checkOpen();
        int[] d = Checks.notNull("reshape", "dims", dims).clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < d.length; i++) {
            if (d[i] == -1 && infer < 0) {
                infer = i;
            } else {
                known *= d[i];
            }
        }
        if (infer >= 0 && known > 0 && numel() % known == 0) {
            d[infer] = Math.toIntExact(numel() / known);
        }
        Shape target;
        try {
            target = Shape.of(d);
        } catch (IllegalArgumentException e) {
            target = null;
        }
        if (target == null || target.numel() != numel()) {
            throw new IllegalArgumentException("reshape: cannot view shape " + shape + " (" + numel() + " elements) as "
                    + Arrays.toString(dims));
        }
        Tensor y = empty(target);
        backend.copy(storage, y.storage, numel());
        Tensor x = this;
        return record(y, g -> pushGrad(x, () -> {
            Tensor dx = x.empty(shape);
            backend.copy(g.storage, dx.storage, numel());
            return dx;
        }), x);
    }

    /** Collapses dimensions {@code startDim} and after into one: [n, c, h, w].flatten(1) is [n, c·h·w]. */
    public Tensor flatten(int startDim) {
        int a = shape.axis(startDim);
        int[] d = new int[a + 1];
        for (int i = 0; i < a; i++) {
            d[i] = shape.dim(i);
        }
        d[a] = shape.product(a, shape.rank());
        return reshape(d);
    }

    /** Swaps two dimensions (a copy). */
    public Tensor transpose(int dim0, int dim1) {
        int[] perm = new int[shape.rank()];
        for (int i = 0; i < perm.length; i++) {
            perm[i] = i;
        }
        int a = shape.axis(dim0), b = shape.axis(dim1);
        perm[a] = b;
        perm[b] = a;
        return permute(perm);
    }

    /** Reorders dimensions: the result's dimension i is this tensor's dimension {@code perm[i]} (a copy). */
    public Tensor permute(int... perm) {
        checkOpen();
        int rank = shape.rank();
        boolean[] used = new boolean[rank];
        boolean ok = Checks.notNull("permute", "perm", perm).length == rank;
        for (int i = 0; ok && i < rank; i++) {
            ok = perm[i] >= 0 && perm[i] < rank && !used[perm[i]];
            if (ok) {
                used[perm[i]] = true;
            }
        }
        if (!ok) {
            throw new IllegalArgumentException("permute: " + Arrays.toString(perm) + " is not a permutation of the "
                    + rank + " dimensions of shape " + shape);
        }
        int[] dims = shape.dims(), outDims = new int[rank], inverse = new int[rank];
        for (int i = 0; i < rank; i++) {
            outDims[i] = dims[perm[i]];
            inverse[perm[i]] = i;
        }
        Tensor y = empty(Shape.of(outDims));
        backend.permute(storage, y.storage, dims, perm.clone());
        Tensor x = this;
        return record(y, g -> pushGrad(x, () -> {
            Tensor dx = x.empty(shape);
            backend.permute(g.storage, dx.storage, outDims, inverse);
            return dx;
        }), x);
    }

    /** Joins tensors along {@code axis}; every other dimension must agree. */
    public static Tensor concat(int axis, Tensor... parts) {
        if (Checks.notNull("concat", "parts", parts).length == 0) {
            throw new IllegalArgumentException("concat needs at least one tensor");
        }
        Tensor first = Checks.notNull("concat", "parts[0]", parts[0]);
        first.checkOpen();
        int a = first.shape.axis(axis), total = 0;
        for (Tensor p : parts) {
            first.sameDevice("concat", p);
            if (p.shape.rank() != first.shape.rank() || !p.shape.without(a).equals(first.shape.without(a))) {
                throw new IllegalArgumentException("concat along axis " + axis + ": shapes " + first.shape + " and "
                        + p.shape + " differ outside that axis");
            }
            total += p.shape.dim(a);
        }
        int[] dims = first.shape.dims();
        dims[a] = total;
        int outer = first.shape.product(0, a), inner = first.shape.product(a + 1, first.shape.rank());
        Tensor y = first.empty(Shape.of(dims));
        int[] offsets = new int[parts.length];
        for (int i = 0, off = 0; i < parts.length; off += parts[i].shape.dim(a), i++) {
            offsets[i] = off;
            first.backend.copySlice(parts[i].storage, y.storage, outer, parts[i].shape.dim(a), inner, total, off, true);
        }
        int totalF = total;
        Tensor[] inputs = parts.clone();
        return record(y, g -> {
            for (int i = 0; i < inputs.length; i++) {
                Tensor p = inputs[i];
                int off = offsets[i];
                pushGrad(p, () -> {
                    Tensor dp = p.empty(p.shape);
                    p.backend.copySlice(dp.storage, g.storage, outer, p.shape.dim(a), inner, totalF, off, false);
                    return dp;
                });
            }
        }, inputs);
    }

    // ---- convolution, pooling, normalisation, dropout ----

    /**
     * 2-d convolution (cross-correlation) of [n, c, h, w] with weight [k, c / groups, r, s] and an
     * optional bias [k]; returns [n, k, outH, outW].
     */
    public Tensor conv2d(Tensor weight, Tensor bias, int stride, int padding, int dilation, int groups) {
        sameDevice("conv2d", weight);
        if (bias != null) {
            sameDevice("conv2d", bias);
        }
        if (shape.rank() != 4 || weight.shape.rank() != 4) {
            throw new IllegalArgumentException("conv2d takes input [n, c, h, w] and weight [k, c/groups, r, s], got shapes "
                    + shape + " and " + weight.shape);
        }
        int k = weight.shape.dim(0), c = shape.dim(1);
        if (groups < 1 || stride < 1 || dilation < 1 || padding < 0 || c % groups != 0 || k % groups != 0
                || weight.shape.dim(1) != c / groups) {
            throw new IllegalArgumentException("conv2d: input " + shape + " and weight " + weight.shape + " do not fit with"
                    + " groups=" + groups + ", stride=" + stride + ", padding=" + padding + ", dilation=" + dilation
                    + " (weight must be [k, c/groups, r, s] with c and k divisible by groups)");
        }
        if (bias != null && (bias.shape.rank() != 1 || bias.shape.dim(0) != k)) {
            throw new IllegalArgumentException("conv2d: bias " + bias.shape + " does not match " + k + " output channels");
        }
        // ConvShape refuses a dilated kernel larger than the padded input, computing in 64 bits.
        ConvShape cs = new ConvShape(shape.dim(0), c, shape.dim(2), shape.dim(3), k, weight.shape.dim(2),
                weight.shape.dim(3), padding, padding, stride, stride, dilation, dilation, groups);
        Tensor y = empty(Shape.of(cs.n(), k, cs.outH(), cs.outW()));
        backend.conv2d(cs, storage, weight.storage, y.storage);
        int hw = cs.outH() * cs.outW();
        if (bias != null) {
            backend.addChannelBias(y.storage, bias.storage, y.storage, cs.n(), k, hw);
        }
        Tensor x = this;
        Consumer<Tensor> back = g -> {
            pushGrad(x, () -> {
                Tensor dx = x.empty(x.shape);
                backend.conv2dBackwardData(cs, weight.storage, g.storage, dx.storage);
                return dx;
            });
            pushGrad(weight, () -> {
                Tensor dw = x.empty(weight.shape);
                backend.conv2dBackwardFilter(cs, x.storage, g.storage, dw.storage);
                return dw;
            });
            if (bias != null) {
                pushGrad(bias, () -> {
                    Tensor db = x.empty(bias.shape);
                    backend.channelBiasBackward(g.storage, db.storage, cs.n(), k, hw);
                    return db;
                });
            }
        };
        return bias == null ? record(y, back, x, weight) : record(y, back, x, weight, bias);
    }

    /** Max pooling over [n, c, h, w] with a square window. */
    public Tensor maxPool2d(int kernel, int stride, int padding) {
        return pool2d(true, kernel, stride, padding);
    }

    /** Average pooling over [n, c, h, w]; padding counts in the divisor (PyTorch's default). */
    public Tensor avgPool2d(int kernel, int stride, int padding) {
        return pool2d(false, kernel, stride, padding);
    }

    private Tensor pool2d(boolean max, int kernel, int stride, int padding) {
        checkOpen();
        String name = max ? "maxPool2d" : "avgPool2d";
        if (shape.rank() != 4) {
            throw new IllegalArgumentException(name + " takes input [n, c, h, w], got shape " + shape);
        }
        if (kernel < 1 || stride < 1 || padding < 0 || 2 * padding > kernel) {
            throw new IllegalArgumentException(name + ": kernel " + kernel + ", stride " + stride + ", padding " + padding
                    + " invalid (need kernel, stride >= 1 and 0 <= padding <= kernel/2)");
        }
        PoolShape ps = new PoolShape(max, shape.dim(0), shape.dim(1), shape.dim(2), shape.dim(3), kernel, kernel, padding,
                padding, stride, stride);
        if (ps.outH() < 1 || ps.outW() < 1) {
            throw new IllegalArgumentException(name + ": input " + shape + " is smaller than the " + kernel + "x" + kernel
                    + " window with padding " + padding);
        }
        Tensor y = empty(Shape.of(ps.n(), ps.c(), ps.outH(), ps.outW()));
        backend.pool2d(ps, storage, y.storage);
        Tensor x = this;
        return record(y, g -> pushGrad(x, () -> {
            Tensor dx = x.empty(shape);
            backend.pool2dBackward(ps, x.storage, y.storage, g.storage, dx.storage);
            return dx;
        }), x);
    }

    /**
     * Batch norm over the channels of [n, c, h, w] (or [n, c]). Training normalises with batch
     * statistics and updates {@code runningMean}/{@code runningVar} in place (momentum as in PyTorch);
     * evaluation uses the running statistics (then the input, γ and β still receive gradients).
     */
    public Tensor batchNorm2d(Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, boolean training,
                              float momentum, float eps) {
        for (Tensor t : new Tensor[] {gamma, beta, runningMean, runningVar}) {
            sameDevice("batchNorm2d", t);
        }
        if (shape.rank() != 4 && shape.rank() != 2) {
            throw new IllegalArgumentException("batchNorm2d takes input [n, c, h, w] or [n, c], got shape " + shape);
        }
        int n = shape.dim(0), c = shape.dim(1), hw = shape.product(2, shape.rank());
        for (Tensor t : new Tensor[] {gamma, beta, runningMean, runningVar}) {
            if (!t.shape.equals(Shape.of(c))) {
                throw new IllegalArgumentException("batchNorm2d: parameter of shape " + t.shape + " for " + c
                        + " channels (input " + shape + ")");
            }
        }
        if (training && (long) n * hw < 2) {
            throw new IllegalArgumentException("batchNorm2d in training needs more than one value per channel, input "
                    + shape);
        }
        Tensor y = empty(shape);
        Tensor x = this;
        if (!training) {
            backend.batchNormInference(n, c, hw, storage, gamma.storage, beta.storage, runningMean.storage,
                    runningVar.storage, y.storage, eps);
            return record(y, g -> {
                try (Tensor zero = x.filled(Shape.of(c), 0f); Tensor one = x.filled(Shape.of(c), 1f)) {
                    // dx = g·γ/√(var+ε): the inference transform itself, with zero mean and shift.
                    pushGrad(x, () -> {
                        Tensor dx = x.empty(shape);
                        backend.batchNormInference(n, c, hw, g.storage, gamma.storage, zero.storage, zero.storage,
                                runningVar.storage, dx.storage, eps);
                        return dx;
                    });
                    // dγ = Σ g·x̂ with x̂ the transform with γ = 1, β = 0; dβ = Σ g.
                    pushGrad(gamma, () -> {
                        Tensor dGamma = x.empty(gamma.shape);
                        try (Tensor xhat = x.empty(shape)) {
                            backend.batchNormInference(n, c, hw, x.storage, one.storage, zero.storage,
                                    runningMean.storage, runningVar.storage, xhat.storage, eps);
                            backend.mul(xhat.storage, g.storage, xhat.storage, xhat.numel());
                            backend.channelBiasBackward(xhat.storage, dGamma.storage, n, c, hw);
                        }
                        return dGamma;
                    });
                    pushGrad(beta, () -> {
                        Tensor dBeta = x.empty(beta.shape);
                        backend.channelBiasBackward(g.storage, dBeta.storage, n, c, hw);
                        return dBeta;
                    });
                }
            }, x, gamma, beta);
        }
        Tensor mean = empty(Shape.of(c)), invStd = empty(Shape.of(c));
        backend.batchNormTrain(n, c, hw, storage, gamma.storage, beta.storage, y.storage, runningMean.storage,
                runningVar.storage, mean.storage, invStd.storage, momentum, eps);
        return record(y, g -> {
            Tensor dx = x.empty(shape), dGamma = x.empty(gamma.shape), dBeta = x.empty(beta.shape);
            backend.batchNormBackward(n, c, hw, x.storage, g.storage, gamma.storage, mean.storage, invStd.storage,
                    dx.storage, dGamma.storage, dBeta.storage, eps);
            for (Tensor[] pair : new Tensor[][] {{x, dx}, {gamma, dGamma}, {beta, dBeta}}) {
                if (pair[0].needsGrad()) {
                    pair[0].addGrad(pair[1]);
                } else {
                    pair[1].close();
                }
            }
        }, List.of(mean, invStd), x, gamma, beta);
    }

    /**
     * Inverted dropout: zeroes each element with probability {@code p} and scales the rest by 1/(1-p),
     * with a mask that depends only on ({@code seed}, element index), identical on CPU and GPU.
     * Returns a plain copy when {@code training} is false or p is 0.
     */
    public Tensor dropout(float p, long seed, boolean training) {
        checkOpen();
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        }
        if (!training || p == 0) {
            return scale(1f);
        }
        Tensor y = empty(shape), mask = empty(shape);
        backend.dropout(storage, y.storage, mask.storage, numel(), p, seed);
        Tensor x = this;
        return record(y, g -> pushGrad(x, () -> g.mul(mask)), List.of(mask), x);
    }

    // ---- transformer operations ----

    /**
     * Layer norm over the last dimension: (x - mean)/sqrt(var + eps)·gamma + beta with the biased variance,
     * as PyTorch's {@code layer_norm}; {@code gamma} and {@code beta} are [C] (or null: 1 and 0).
     */
    public Tensor layerNorm(Tensor gamma, Tensor beta, float eps) {
        checkOpen();
        if (gamma != null) {
            sameDevice("layerNorm", gamma);
        }
        if (beta != null) {
            sameDevice("layerNorm", beta);
        }
        if (shape.rank() < 1 || shape.dim(-1) < 1) {
            throw new IllegalArgumentException("layerNorm needs a non-empty last dimension, got shape " + shape);
        }
        int cols = shape.dim(-1), rows = Math.toIntExact(numel() / cols);
        for (Tensor p : new Tensor[] {gamma, beta}) {
            if (p != null && !p.shape.equals(Shape.of(cols))) {
                throw new IllegalArgumentException("layerNorm: parameter of shape " + p.shape + " for normalised size "
                        + cols + " (input " + shape + ")");
            }
        }
        if (!(eps > 0)) {
            throw new IllegalArgumentException("layerNorm: eps must be > 0, got " + eps);
        }
        Tensor y = empty(shape), mean = empty(Shape.of(rows)), rstd = empty(Shape.of(rows));
        backend.layerNorm(storage, gamma == null ? null : gamma.storage, beta == null ? null : beta.storage, y.storage,
                mean.storage, rstd.storage, rows, cols, eps);
        Tensor x = this;
        Consumer<Tensor> back = g -> {
            boolean wantX = x.needsGrad(), wantG = gamma != null && gamma.needsGrad(), wantB = beta != null
                    && beta.needsGrad();
            Tensor dx = x.empty(shape), dGamma = wantG ? x.empty(gamma.shape) : null, dBeta = wantB
                    ? x.empty(beta.shape) : null;
            backend.layerNormBackward(x.storage, gamma == null ? null : gamma.storage, mean.storage, rstd.storage,
                    g.storage, dx.storage, dGamma == null ? null : dGamma.storage, dBeta == null ? null : dBeta.storage,
                    rows, cols);
            if (wantX) {
                x.addGrad(dx);
            } else {
                dx.close();
            }
            if (wantG) {
                gamma.addGrad(dGamma);
            }
            if (wantB) {
                beta.addGrad(dBeta);
            }
        };
        List<Tensor> saved = List.of(mean, rstd);
        if (gamma != null && beta != null) {
            return record(y, back, saved, x, gamma, beta);
        }
        return gamma != null ? record(y, back, saved, x, gamma) : beta != null ? record(y, back, saved, x, beta)
                : record(y, back, saved, x);
    }

    /**
     * Looks rows of this [vocab, dim] weight up: returns shape {@code idsShape} + [dim] with row i equal to
     * {@code this[ids[i]]}. Backward scatter-adds into the weight (repeated ids accumulate).
     *
     * @throws IllegalArgumentException naming the id and the vocabulary size when an id lies outside [0, vocab)
     */
    public Tensor embedding(int[] ids, int... idsShape) {
        checkOpen();
        if (shape.rank() != 2) {
            throw new IllegalArgumentException("embedding: the weight must be [vocab, dim], got shape " + shape);
        }
        int vocab = shape.dim(0), dim = shape.dim(1);
        Checks.notNull("embedding", "ids", ids);
        int[] outDims = Arrays.copyOf(Checks.notNull("embedding", "idsShape", idsShape).length == 0 ? new int[] {ids.length} : idsShape,
                (idsShape.length == 0 ? 1 : idsShape.length) + 1);
        outDims[outDims.length - 1] = dim;
        Shape out = Shape.of(outDims);
        if (out.numel() != (long) ids.length * dim) {
            throw new IllegalArgumentException("embedding: " + ids.length + " ids do not fill shape "
                    + Arrays.toString(idsShape));
        }
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new IllegalArgumentException("embedding: token id " + ids[i] + " at position " + i
                        + " is outside the vocabulary [0, " + vocab + ") (vocabulary size " + vocab + ", weight "
                        + shape + ")");
            }
        }
        int[] idsCopy = ids.clone();
        Tensor y = empty(out);
        backend.embedding(storage, idsCopy, y.storage, dim);
        Tensor w = this;
        return record(y, g -> pushGrad(w, () -> {
            Tensor dw = w.empty(w.shape);
            backend.embeddingBackward(g.storage, idsCopy, dw.storage, vocab, dim);
            return dw;
        }), w);
    }

    /**
     * softmax(Q·Kᵀ/√d + mask)·V for q [B, H, Tq, D], k [B, H, Tk, D], v [B, H, Tk, Dv]; returns [B, H, Tq, Dv].
     * See {@link #attention} for the masks and dropout.
     */
    public Tensor scaledDotProductAttention(Tensor k, Tensor v, boolean causal, Tensor keyPaddingMask, float dropoutP,
                                            long seed) {
        return attention(k, v, causal, keyPaddingMask, dropoutP, seed, false).output();
    }

    /**
     * Scaled dot-product attention with this tensor as the queries: {@code softmax(Q·Kᵀ/√D + mask)·V}.
     * q is [B, H, Tq, D], k [B, H, Tk, D], v [B, H, Tk, Dv]; the output is [B, H, Tq, Dv]. Q·Kᵀ, P·V and the
     * four backward products are batched GEMMs (strided-batched cuBLAS on the GPU); the scale, the masks and
     * the softmax (forward and backward) are one row kernel; nothing returns to the host.
     *
     * @param causal          query i sees keys j <= i only (top-left aligned, as PyTorch's {@code is_causal})
     * @param keyPaddingMask  null, or [B, Tk] (or [B, 1, 1, Tk]): 0 hides key j of batch b, non-zero keeps it;
     *                        a query with every key hidden gets a zero output (not NaN)
     * @param dropoutP        attention dropout on the probabilities (0 for none), mask from ({@code seed}, index),
     *                        identical on the CPU and the GPU
     * @param returnWeights   whether to return a copy of the attention probabilities [B, H, Tq, Tk] (before
     *                        dropout), outside any graph and owned by the caller
     */
    public Attention attention(Tensor k, Tensor v, boolean causal, Tensor keyPaddingMask, float dropoutP, long seed,
                               boolean returnWeights) {
        Tensor q = this;
        sameDevice("attention", k);
        sameDevice("attention", v);
        if (q.shape.rank() != 4 || k.shape.rank() != 4 || v.shape.rank() != 4) {
            throw new IllegalArgumentException("attention takes q, k, v of rank 4 [batch, heads, tokens, head_dim], got "
                    + q.shape + ", " + k.shape + ", " + v.shape);
        }
        int b = q.shape.dim(0), h = q.shape.dim(1), tq = q.shape.dim(2), d = q.shape.dim(3);
        int tk = k.shape.dim(2), dv = v.shape.dim(3);
        if (k.shape.dim(0) != b || v.shape.dim(0) != b || k.shape.dim(1) != h || v.shape.dim(1) != h
                || k.shape.dim(3) != d || v.shape.dim(2) != tk || tq < 1 || tk < 1 || d < 1) {
            throw new IllegalArgumentException("attention: q " + q.shape + ", k " + k.shape + " and v " + v.shape
                    + " do not fit (need q [B, H, Tq, D], k [B, H, Tk, D], v [B, H, Tk, Dv])");
        }
        if (keyPaddingMask != null) {
            sameDevice("attention", keyPaddingMask);
            Shape m = keyPaddingMask.shape;
            boolean ok = m.equals(Shape.of(b, tk)) || m.equals(Shape.of(b, 1, 1, tk));
            if (!ok) {
                throw new IllegalArgumentException("attention: key padding mask of shape " + m
                        + " does not broadcast to the scores [" + b + ", " + h + ", " + tq + ", " + tk
                        + "] (expected [" + b + ", " + tk + "] or [" + b + ", 1, 1, " + tk + "]: batch " + b
                        + ", keys " + tk + ")");
            }
        }
        if (!(dropoutP >= 0 && dropoutP < 1)) {
            throw new IllegalArgumentException("attention dropout probability must be in [0, 1), got " + dropoutP);
        }
        int bh = b * h;
        float scale = (float) (1 / Math.sqrt(d));
        Tensor p = empty(Shape.of(b, h, tq, tk));
        backend.matmul(false, true, bh, tq, tk, d, q.storage, k.storage, p.storage);
        backend.attentionSoftmax(p.storage, keyPaddingMask == null ? null : keyPaddingMask.storage, p.storage, b, h, tq,
                tk, scale, causal);
        Tensor weights = null;
        if (returnWeights) {
            weights = empty(p.shape);
            backend.copy(p.storage, weights.storage, p.numel());
        }
        Tensor pd = p, dropMask = null;
        if (dropoutP > 0) {
            pd = empty(p.shape);
            dropMask = empty(p.shape);
            backend.dropout(p.storage, pd.storage, dropMask.storage, p.numel(), dropoutP, seed);
        }
        Tensor out = empty(Shape.of(b, h, tq, dv));
        backend.matmul(false, false, bh, tq, dv, tk, pd.storage, v.storage, out.storage);
        Tensor probs = p, probsDropped = pd, mask = dropMask;
        List<Tensor> saved = dropMask == null ? List.of(p) : List.of(p, pd, dropMask);
        Tensor recorded = record(out, g -> {
            pushGrad(v, () -> {
                Tensor dV = v.empty(v.shape);
                backend.matmul(true, false, bh, tk, dv, tq, probsDropped.storage, g.storage, dV.storage);
                return dV;
            });
            if (!q.needsGrad() && !k.needsGrad()) {
                return;
            }
            try (Tensor ds = q.empty(probs.shape)) {
                backend.matmul(false, true, bh, tq, tk, dv, g.storage, v.storage, ds.storage);
                if (mask != null) {
                    backend.mul(ds.storage, mask.storage, ds.storage, ds.numel());
                }
                backend.attentionSoftmaxBackward(probs.storage, ds.storage, ds.storage, bh * tq, tk, scale);
                pushGrad(q, () -> {
                    Tensor dQ = q.empty(q.shape);
                    backend.matmul(false, false, bh, tq, d, tk, ds.storage, k.storage, dQ.storage);
                    return dQ;
                });
                pushGrad(k, () -> {
                    Tensor dK = k.empty(k.shape);
                    backend.matmul(true, false, bh, tk, d, tq, ds.storage, q.storage, dK.storage);
                    return dK;
                });
            }
        }, saved, q, k, v);
        return new Attention(recorded, weights);
    }

    /**
     * Splits along {@code axis} into pieces of the given sizes (which must add up to that dimension);
     * each piece is a copy, and gradients flow back into the matching slice.
     */
    public Tensor[] split(int axis, int... sizes) {
        checkOpen();
        int a = shape.axis(axis), total = 0;
        for (int s : Checks.notNull("split", "sizes", sizes)) {
            if (s < 0) {
                throw new IllegalArgumentException("split: negative size in " + Arrays.toString(sizes));
            }
            total += s;
        }
        if (total != shape.dim(a)) {
            throw new IllegalArgumentException("split: sizes " + Arrays.toString(sizes) + " add up to " + total
                    + ", not dimension " + a + " of shape " + shape + " (" + shape.dim(a) + ")");
        }
        int outer = shape.product(0, a), inner = shape.product(a + 1, shape.rank()), whole = shape.dim(a);
        Tensor[] parts = new Tensor[sizes.length];
        Tensor x = this;
        for (int i = 0, off = 0; i < sizes.length; off += sizes[i], i++) {
            int[] dims = shape.dims();
            dims[a] = sizes[i];
            int size = sizes[i], offset = off;
            Tensor part = empty(Shape.of(dims));
            backend.copySlice(part.storage, storage, outer, size, inner, whole, offset, false);
            parts[i] = record(part, g -> pushGrad(x, () -> {
                Tensor dx = x.filled(x.shape, 0f);
                backend.copySlice(g.storage, dx.storage, outer, size, inner, whole, offset, true);
                return dx;
            }), x);
        }
        return parts;
    }

    // ---- checks ----

    private void sameDevice(String op, Tensor other) {
        checkOpen();
        Checks.notNull(op, "a tensor argument", other).checkOpen();
        if (!device().equals(other.device())) {
            throw new IllegalArgumentException(op + ": tensors on different devices: " + device() + " and "
                    + other.device() + " (shapes " + shape + " and " + other.shape + "); move one with to(device)");
        }
    }

    private void sameShape(String op, Tensor other) {
        sameDevice(op, other);
        if (!shape.equals(other.shape)) {
            throw new IllegalArgumentException(op + ": shapes " + shape + " and " + other.shape + " differ");
        }
    }

    // ---- lifetime ----

    /**
     * Frees the memory (and the gradient of a leaf). Closing a recorded result that was never
     * back-propagated frees its graph too. Throws {@link IllegalStateException} when already closed,
     * except for intermediates the graph released (then it does nothing).
     */
    @Override
    public void close() {
        if (closeDeferred) {
            throw new IllegalStateException("tensor " + shape + " on " + device() + " was already closed");
        }
        if (node == null && graphRefs > 0 && !storage.isClosed()) {
            // A recorded op still needs these values for backward(): closed for the caller now, freed with the graph.
            closeDeferred = true;
            zeroGrad();
            return;
        }
        if (storage.isClosed()) {
            if (releasedByGraph) {
                return;
            }
            throw new IllegalStateException("tensor " + shape + " on " + device() + " was already closed");
        }
        if (node != null) {
            freeGraph(topologicalOrderQuiet());
        }
        zeroGrad();
        storage.close();
    }

    /** Like {@link #topologicalOrder} but skips inputs that are already closed (we are tearing down). */
    private List<Tensor> topologicalOrderQuiet() {
        List<Tensor> order = new ArrayList<>();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        ArrayDeque<Tensor> todo = new ArrayDeque<>();
        todo.push(this);
        seen.add(this);
        while (!todo.isEmpty()) {
            Tensor t = todo.pop();
            order.add(t);
            for (Tensor in : t.node.inputs()) {
                if (in.node != null && seen.add(in)) {
                    todo.push(in);
                }
            }
        }
        return order;
    }

    /** A graph that read this tensor was freed; frees the memory too if the caller already closed it. */
    private void dropGraphRef() {
        if (--graphRefs == 0 && closeDeferred && !storage.isClosed()) {
            zeroGrad();
            storage.close();
        }
    }

    @Override
    public String toString() {
        return "Tensor" + shape + " " + dtype() + " on " + device() + (isClosed() ? " (closed)" : "")
                + (node != null ? " (recorded)" : requiresGrad ? " (requires grad)" : "");
    }
}
