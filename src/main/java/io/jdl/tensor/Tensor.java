package io.jdl.tensor;

import io.jdl.backend.Activation;
import io.jdl.backend.Backend;
import io.jdl.backend.Backends;
import io.jdl.backend.Storage;
import io.jdl.device.Device;
import java.util.Random;

/**
 * An n-dimensional array of float32 on one device, with reverse-mode automatic differentiation.
 * The operations live in package-private families (linear algebra, pointwise, reductions, reshaping,
 * convolution and pooling, normalisation, losses, embedding, attention), each op's checks, forward and
 * backward together; this class holds the state and delegates.
 *
 * <p><b>Lifetime.</b> A tensor owns a handle on its memory and frees it on {@link #close()}; views
 * ({@link #reshape}, {@link #flatten}, {@link #unsqueeze}, {@link #squeeze}) share the memory, which is freed
 * when the last tensor on it closes, in any order (see {@code Views}). The rules, in the order they apply:
 * <ul>
 * <li><b>Scopes.</b> A tensor created while a {@link TensorScope} is open on this thread belongs to that
 *     scope, which closes it when the scope closes unless it was {@linkplain TensorScope#keep kept}
 *     (handed to the enclosing scope) or {@linkplain TensorScope#unscoped taken out of scopes}. A module's
 *     forward runs in its own scope and keeps only its result.</li>
 * <li><b>Leaves</b> ({@link #of}, {@link #zeros}, ...) and results of ops that are not recorded belong to
 *     whoever created them (or their scope). A leaf's {@link #grad()} belongs to the leaf.</li>
 * <li><b>Recorded results</b> (grad enabled and some input {@link #needsGrad()}) carry their graph.
 *     {@link #backward()} on the final scalar frees the whole graph: every recorded intermediate and every
 *     buffer saved for backward is closed, except the root (yours) and intermediates marked
 *     {@link #retain()} (then yours). Closing a recorded root without calling backward frees its graph
 *     the same way. Using a tensor the graph released throws; closing it again is a no-op.</li>
 * <li>Closing a tensor that a recorded op still reads (an input batch kept for the weight gradient, an
 *     intermediate closed by its scope) closes it for you at once; its memory is freed with that graph.</li>
 * <li>Using a closed tensor, or closing one twice, throws {@link IllegalStateException}.</li>
 * <li>A GPU tensor that becomes unreachable without being closed is freed by a {@link java.lang.ref.Cleaner}
 *     and reported as a leak (see {@link LeakDetector}); do not rely on it, close or scope.</li>
 * </ul>
 * So a training step needs no bookkeeping:
 * {@code try (TensorScope step = TensorScope.open()) { model.forward(x).crossEntropy(y).backward(); }}
 * leaves only the parameters and their gradients allocated, also when an op throws.
 *
 * <p><b>Gradients</b> accumulate into leaves across backward calls until {@link #zeroGrad()}. Calling
 * {@code backward()} twice on one graph is an error (the first call freed it). A tensor modified in place
 * ({@link #copyFrom}, {@link #fill}, optimizer steps) after a recorded op read it makes {@code backward()}
 * throw, naming the op: each allocation counts its in-place changes ({@link #version()}), shared by a tensor
 * and its views, like PyTorch.
 *
 * <p><b>Threads.</b> A tensor, and a graph with every tensor it reads, belongs to one thread at a time:
 * recording an op on a tensor that a live graph of another thread reads throws
 * {@link IllegalStateException}. Scopes and the no-grad switch are per thread. Hand a tensor to another
 * thread only with a happens-before edge (a queue, a join) and when no graph reads it.
 *
 * <p><b>Checks.</b> Each op validates shapes, devices and open state before queuing work ({@link
 * IllegalArgumentException} naming them); an op that fails after allocating frees what it allocated.
 *
 * <p><b>Asynchrony.</b> On a GPU, ops are queued on the device's stream; {@link #toArray()} and {@link #item()} wait.
 */
public final class Tensor implements AutoCloseable {
    final Shape shape;
    final Backend backend;
    final Storage storage;

    // autograd state, managed by Graph
    private boolean requiresGrad;
    Tensor grad;
    Node node;
    boolean retained;
    boolean releasedByGraph;
    boolean graphFreed;
    /** Recorded ops that read this tensor and have not been freed: close() waits for them. */
    int graphRefs;
    Thread graphThread;
    /** Closed by its owner while a graph still reads it: freed when the last such graph is. */
    boolean handleClosed;
    /** In-place modifications so far, shared with every view of the same memory; a recorded op remembers it. */
    private final VersionCounter version;
    /** The scope that will close this tensor, or null. */
    TensorScope scope;

    private Tensor(Shape shape, Backend backend, Storage storage) {
        this(shape, backend, storage, new VersionCounter());
    }

    private Tensor(Shape shape, Backend backend, Storage storage, VersionCounter version) {
        this.shape = shape;
        this.backend = backend;
        this.storage = storage;
        this.version = version;
        LeakDetector.track(this, storage);
        TensorScope.adopt(this);
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
        Backend b = Backends.of(Checks.notNull("tensor creation", "device", device));
        return new Tensor(shape, b, b.upload(data));
    }

    public static Tensor full(Shape shape, float value, Device device) {
        Backend b = Backends.of(Checks.notNull("tensor creation", "device", device));
        Tensor t = new Tensor(shape, b, b.allocate(Checks.notNull("Tensor.full", "shape", shape).numel()));
        b.fill(t.storage, value);
        return t;
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

    /** A view of this tensor's memory in {@code s} (same numel): no copy, a new handle (see {@code Views}). */
    Tensor view(Shape s) {
        checkOpen();
        return new Tensor(s, backend, storage.share(), version);
    }

    /** A new uninitialised tensor on this tensor's device. */
    Tensor empty(Shape s) {
        return new Tensor(s, backend, backend.allocate(s.numel()));
    }

    Tensor filled(Shape s, float value) {
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

    /** How many times this tensor was modified in place (see the class comment). */
    public int version() {
        return version.value;
    }

    /** Counts an in-place change of this tensor's memory, seen by every view of it. */
    void bumpVersion() {
        version.value++;
    }

    public boolean isClosed() {
        return storage.isClosed() || handleClosed;
    }

    void checkOpen() {
        // backward() may read what its owner closed while the graph still needed it (see the class comment).
        if (storage.isClosed() || handleClosed && !TensorScope.inBackward()) {
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

    /** The value of a one-element tensor (waits for queued work). */
    public float item() {
        if (shape.numel() != 1) {
            throw new IllegalArgumentException("item() needs a tensor with one element, not shape " + shape);
        }
        return toArray()[0];
    }

    /** Overwrites this tensor's values with {@code src}'s (same shape and device), outside any graph; views see it. */
    public void copyFrom(Tensor src) {
        Checks.sameShape("copyFrom", this, src);
        Checks.notRecorded("copyFrom", this);
        backend.copy(src.storage, storage, numel());
        bumpVersion();
    }

    /** Sets every element to {@code value} in place, outside any graph. */
    public void fill(float value) {
        checkOpen();
        Checks.notRecorded("fill", this);
        backend.fill(storage, value);
        bumpVersion();
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

    /** Back-propagates from this scalar into every leaf's {@link #grad()}, then frees the graph (see above). */
    public void backward() {
        TensorScope.unscopedWhile(() -> Graph.backward(this));
    }

    /** Runs an op in its own scope: what it allocated before failing is freed; its result goes to the caller. */
    private static Tensor guarded(java.util.function.Supplier<Tensor> op) {
        return TensorScope.keeping(op);
    }

    // ---- operations (see each family for the details) ----

    /** Matrix product with PyTorch's broadcasting: [.., m, k]·[.., k, n], batch dimensions broadcast. */
    public Tensor matmul(Tensor other) {
        return guarded(() -> LinearAlgebra.matmul(this, other, false, false));
    }

    /** op(this)·op(other), where op transposes the last two dimensions when asked. */
    public Tensor matmul(Tensor other, boolean transThis, boolean transOther) {
        return guarded(() -> LinearAlgebra.matmul(this, other, transThis, transOther));
    }

    /** x·Wᵀ + b, PyTorch's linear: this [.., in], weight [out, in], bias [out] or null. */
    public Tensor linear(Tensor weight, Tensor bias) {
        return guarded(() -> LinearAlgebra.linear(this, weight, bias));
    }

    /** this + other, broadcasting as NumPy and PyTorch do. */
    public Tensor add(Tensor other) {
        return guarded(() -> Pointwise.add(this, other, 1f));
    }

    /** this - other, broadcasting. */
    public Tensor sub(Tensor other) {
        return guarded(() -> Pointwise.add(this, other, -1f));
    }

    /** Elementwise product, broadcasting. */
    public Tensor mul(Tensor other) {
        return guarded(() -> Pointwise.mul(this, other));
    }

    /** Every element times {@code factor}. */
    public Tensor scale(float factor) {
        return guarded(() -> Pointwise.scale(this, factor));
    }

    /** this[.., c] + bias[c]: adds a bias of the last dimension's size to every row. */
    public Tensor addBias(Tensor bias) {
        return guarded(() -> Pointwise.addBias(this, bias));
    }

    public Tensor relu() {
        return guarded(() -> Pointwise.activation(this, Activation.RELU, 0f));
    }

    /** x for x > 0, else {@code slope}·x. */
    public Tensor leakyRelu(float slope) {
        return guarded(() -> Pointwise.activation(this, Activation.LEAKY_RELU, slope));
    }

    public Tensor sigmoid() {
        return guarded(() -> Pointwise.activation(this, Activation.SIGMOID, 0f));
    }

    public Tensor tanh() {
        return guarded(() -> Pointwise.activation(this, Activation.TANH, 0f));
    }

    /** The exact GELU, x·Φ(x). */
    public Tensor gelu() {
        return guarded(() -> Pointwise.activation(this, Activation.GELU, 0f));
    }

    /** Softmax over the last dimension. */
    public Tensor softmax() {
        return guarded(() -> Pointwise.softmax(this, false));
    }

    /** Log-softmax over the last dimension (numerically stable). */
    public Tensor logSoftmax() {
        return guarded(() -> Pointwise.softmax(this, true));
    }

    /** Inverted dropout with a mask from ({@code seed}, index), identical on every device. */
    public Tensor dropout(float p, long seed, boolean training) {
        return guarded(() -> Pointwise.dropout(this, p, seed, training));
    }

    /** Mean cross-entropy of logits [.., classes] (classes last) against class indices; -100 is ignored. */
    public Tensor crossEntropy(int[] targets) {
        return guarded(() -> Losses.crossEntropy(this, targets, Losses.DEFAULT_IGNORE_INDEX));
    }

    /** Mean cross-entropy over the rows whose target is not {@code ignoreIndex}. */
    public Tensor crossEntropy(int[] targets, int ignoreIndex) {
        return guarded(() -> Losses.crossEntropy(this, targets, ignoreIndex));
    }

    /** Mean squared error mean((this - target)²), a scalar. */
    public Tensor mse(Tensor target) {
        return guarded(() -> Losses.mse(this, target));
    }

    /** The sum of all elements, shape []. */
    public Tensor sum() {
        return guarded(() -> Reductions.sumAll(this, false));
    }

    /** The mean of all elements, shape []. */
    public Tensor mean() {
        return guarded(() -> Reductions.sumAll(this, true));
    }

    /** Sums over dimension {@code axis}, which disappears from the shape. */
    public Tensor sum(int axis) {
        return guarded(() -> Reductions.sumAxis(this, axis, false));
    }

    /** Means over dimension {@code axis}, which disappears from the shape. */
    public Tensor mean(int axis) {
        return guarded(() -> Reductions.sumAxis(this, axis, true));
    }

    /**
     * The same elements in a new shape, one dimension may be -1 (inferred): a view sharing this tensor's
     * memory, no copy. An in-place change through either is seen by both and counts in the version they
     * share; each is closed on its own, in either order, and the memory is freed when the last one closes.
     */
    public Tensor reshape(int... dims) {
        return guarded(() -> Views.reshape(this, dims));
    }

    /** Collapses dimensions {@code startDim} and after into one ([n, c, h, w].flatten(1) is [n, c·h·w]); a view. */
    public Tensor flatten(int startDim) {
        return guarded(() -> Views.flatten(this, startDim));
    }

    /** Inserts a dimension of size 1 at {@code dim} (negative counts from the end of the result); a view. */
    public Tensor unsqueeze(int dim) {
        return guarded(() -> Views.unsqueeze(this, dim));
    }

    /** Removes dimension {@code dim} if its size is 1 (else the same shape), as PyTorch's {@code squeeze(dim)}; a view. */
    public Tensor squeeze(int dim) {
        return guarded(() -> Views.squeeze(this, dim));
    }

    /** Repeats size-1 dimensions to {@code dims} (-1 keeps a size; new leading dimensions allowed), a copy. */
    public Tensor expand(int... dims) {
        return guarded(() -> Reshaping.expand(this, dims));
    }

    /** Swaps two dimensions (a copy). */
    public Tensor transpose(int dim0, int dim1) {
        return guarded(() -> Reshaping.transpose(this, dim0, dim1));
    }

    /** Reorders dimensions: the result's dimension i is this tensor's dimension {@code perm[i]} (a copy). */
    public Tensor permute(int... perm) {
        return guarded(() -> Reshaping.permute(this, perm));
    }

    /** Joins tensors along {@code axis}; every other dimension must agree. */
    public static Tensor concat(int axis, Tensor... parts) {
        return guarded(() -> Reshaping.concat(axis, parts));
    }

    /** Splits along {@code axis} into copies of the given sizes, which must add up to that dimension. */
    public Tensor[] split(int axis, int... sizes) {
        return Reshaping.split(this, axis, sizes);
    }

    /** 2-d cross-correlation of [n, c, h, w] with weight [k, c / groups, r, s] and bias [k] or null. */
    public Tensor conv2d(Tensor weight, Tensor bias, int stride, int padding, int dilation, int groups) {
        return guarded(() -> ConvolutionPooling.conv2d(this, weight, bias, stride, padding, dilation, groups));
    }

    /** Max pooling over [n, c, h, w] with a square window. */
    public Tensor maxPool2d(int kernel, int stride, int padding) {
        return guarded(() -> ConvolutionPooling.pool2d(this, true, kernel, stride, padding));
    }

    /** Average pooling over [n, c, h, w]; padding counts in the divisor (PyTorch's default). */
    public Tensor avgPool2d(int kernel, int stride, int padding) {
        return guarded(() -> ConvolutionPooling.pool2d(this, false, kernel, stride, padding));
    }

    /** Batch norm over the channels of [n, c, h, w] or [n, c]; training updates the running statistics in place. */
    public Tensor batchNorm2d(Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, boolean training,
                              float momentum, float eps) {
        return guarded(() -> Normalisation.batchNorm2d(this, gamma, beta, runningMean, runningVar, training, momentum, eps));
    }

    /** Layer norm over the last dimension, as PyTorch's {@code layer_norm}; gamma and beta [C] or null. */
    public Tensor layerNorm(Tensor gamma, Tensor beta, float eps) {
        return guarded(() -> Normalisation.layerNorm(this, gamma, beta, eps));
    }

    /** Looks rows of this [vocab, dim] weight up: returns {@code idsShape} + [dim]; ids outside [0, vocab) throw. */
    public Tensor embedding(int[] ids, int... idsShape) {
        return guarded(() -> EmbeddingLookup.embedding(this, ids, idsShape));
    }

    /** softmax(Q·Kᵀ/√d + mask)·V with this as Q [B, H, Tq, D]; see {@link #attention}. */
    public Tensor scaledDotProductAttention(Tensor k, Tensor v, boolean causal, Tensor keyPaddingMask, float dropoutP,
                                            long seed) {
        return ScaledDotProductAttention.attention(this, k, v, causal, keyPaddingMask, dropoutP, seed, false).output();
    }

    /**
     * Scaled dot-product attention with this tensor as the queries [B, H, Tq, D], k [B, H, Tk, D], v [B, H, Tk, Dv].
     * {@code keyPaddingMask} is null or [B, Tk] (or [B, 1, 1, Tk]) where <b>1 keeps a key and 0 hides it</b> (the
     * opposite of PyTorch's boolean {@code key_padding_mask}, where True hides); returns the output and, when
     * {@code returnWeights}, a copy of the probabilities. Q·Kᵀ and P·V are batched GEMMs around one softmax kernel.
     */
    public Attention attention(Tensor k, Tensor v, boolean causal, Tensor keyPaddingMask, float dropoutP, long seed,
                               boolean returnWeights) {
        return ScaledDotProductAttention.attention(this, k, v, causal, keyPaddingMask, dropoutP, seed, returnWeights);
    }

    /**
     * Multi-head self-attention with this tensor as the fused projection qkv [B, T, 3·H·D] (per token q, k, v,
     * each {@code heads} heads of D, i.e. [B, T, 3, H, D]); returns the output [B, T, H·D] (heads side by side)
     * and, when asked, the weights [B, H, T, T]. The same values as splitting qkv into [B, H, T, D] tensors,
     * {@link #attention} and merging the heads back, without copying for the split or the merge: the GEMMs read
     * and write the [B, T, 3, H, D] and [B, T, H, D] layouts in place. Arguments as in {@link #attention}.
     */
    public Attention selfAttention(int heads, boolean causal, Tensor keyPaddingMask, float dropoutP, long seed,
                                   boolean returnWeights) {
        return ScaledDotProductAttention.selfAttention(this, heads, causal, keyPaddingMask, dropoutP, seed,
                returnWeights);
    }

    // ---- lifetime ----

    /**
     * Frees the memory (and the gradient of a leaf). Closing a recorded result that was never
     * back-propagated frees its graph too. Throws {@link IllegalStateException} when already closed,
     * except for intermediates the graph released (then it does nothing).
     */
    @Override
    public void close() {
        if (handleClosed || storage.isClosed() && !releasedByGraph) {
            throw new IllegalStateException("tensor " + shape + " on " + device() + " was already closed");
        }
        if (storage.isClosed()) {
            return;
        }
        handleClosed = true;
        zeroGrad();
        if (graphRefs > 0) {
            return; // a recorded op still needs these values for backward(): freed with its graph
        }
        if (node != null) {
            Graph.free(this);
        }
        storage.close();
    }

    @Override
    public String toString() {
        return "Tensor" + shape + " " + dtype() + " on " + device() + (isClosed() ? " (closed)" : "")
                + (node != null ? " (recorded by " + node.op + ")" : requiresGrad ? " (requires grad)" : "");
    }
}
