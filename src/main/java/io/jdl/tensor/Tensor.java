package io.jdl.tensor;

import io.jdl.backend.Activation;
import io.jdl.backend.Backend;
import io.jdl.backend.Storage;
import io.jdl.device.DType;
import io.jdl.device.Device;
import java.lang.ref.Cleaner;
import java.util.Random;

/**
 * An n-dimensional array of one {@link DType} (float32 unless asked) on one device, with reverse-mode automatic
 * differentiation.
 * The operations live in package-private families (linear algebra, pointwise, reductions, reshaping,
 * convolution and pooling, normalisation, losses, embedding, attention), each op's checks, forward and
 * backward together; this class holds the state and delegates.
 *
 * <p><b>Lifetime.</b> A tensor owns a handle on its memory and frees it on {@link #close()}; views
 * ({@link #reshape}, {@link #flatten}, {@link #unsqueeze}, {@link #squeeze}, {@link #expand}) share the memory,
 * which is freed when the last tensor on it closes, in any order (see {@code Views}). The rules, in order:
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
 * <p><b>Dtypes.</b> Half ops compute in float32 and round once; arithmetic refuses integer and bool tensors (DTypeRules).
 *
 * <p><b>Asynchrony.</b> On a GPU, ops are queued on the device's stream; {@link #toArray()} and {@link #item()} wait.
 */
public final class Tensor implements AutoCloseable {
    final Shape shape;
    final Backend backend;
    /** The elements as stored: read only through {@link #dense()}, {@link #written} or {@link #memory()}. */
    private final Storage storage;
    /** How a broadcast view ({@link #expand}) reads {@link #storage}, or null for a dense tensor. */
    final BroadcastView broadcast;

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
    /** This tensor's registration with the {@link LeakDetector}, or null (see {@link LeakDetector#closeStorage}). */
    Cleaner.Cleanable leakCheck;

    private Tensor(Shape shape, Backend backend, Storage storage, VersionCounter version, BroadcastView broadcast) {
        this.shape = shape;
        this.backend = backend;
        this.storage = storage;
        this.version = version;
        this.broadcast = broadcast;
        leakCheck = LeakDetector.track(this, storage, broadcast);
        TensorScope.adopt(this);
    }

    // ---- creation ----

    /** A CPU tensor holding a copy of {@code data}. */
    public static Tensor of(float[] data, int... dims) {
        return of(data, Shape.of(dims), Device.CPU);
    }

    /** A tensor on {@code device} holding a copy of {@code data}. */
    public static Tensor of(float[] data, Shape shape, Device device) {
        return Conversions.ofFloats(data, shape, device);
    }

    /** An INT64 tensor on {@code device} holding a copy of {@code data} (PyTorch's default integer dtype). */
    public static Tensor of(long[] data, Shape shape, Device device) {
        return Conversions.ofLongs(data, shape, device);
    }

    /** An INT32 tensor on {@code device} holding a copy of {@code data}. */
    public static Tensor of(int[] data, Shape shape, Device device) {
        return Conversions.ofInts(data, shape, device);
    }

    /** A tensor of {@code dtype} from its elements' little-endian bytes, bit for bit (see {@link #toBytes()}). */
    public static Tensor ofBytes(byte[] littleEndian, Shape shape, DType dtype, Device device) {
        return Conversions.ofBytes(littleEndian, shape, dtype, device);
    }

    /** Every element {@code value} converted to {@code dtype} (see {@link #to(DType)}). */
    public static Tensor full(Shape shape, float value, DType dtype, Device device) {
        return Conversions.full(shape, value, dtype, device);
    }

    public static Tensor zeros(Shape shape, DType dtype, Device device) {
        return full(shape, 0f, dtype, device);
    }

    static Tensor wrap(Shape shape, Backend backend, Storage storage) { // a new tensor on new memory
        return new Tensor(shape, backend, storage, new VersionCounter(), null);
    }

    public static Tensor full(Shape shape, float value, Device device) {
        return Conversions.full(shape, value, device);
    }

    public static Tensor zeros(Shape shape, Device device) {
        return full(shape, 0f, device);
    }

    /** Standard normal values from {@code random}: the same seed gives the same tensor on any device. */
    public static Tensor randn(Random random, Shape shape, Device device) {
        return of(Conversions.gaussians(random, shape), shape, device);
    }

    /** A view of this tensor's memory as {@code s}, read through {@code layout} (null: dense); see {@code Views}. */
    Tensor view(Shape s, BroadcastView layout) {
        checkOpen();
        return new Tensor(s, backend, storage.share(), version, layout);
    }

    // ---- the elements: the op families reach the storage only through these ----

    /** The elements dense and row-major in {@link #shape}: a broadcast view's materialised ({@link BroadcastView}). */
    Storage dense() {
        return broadcast == null ? storage : broadcast.materialise(backend, storage, shape);
    }

    /** The storage an in-place write by {@code op} goes to; a broadcast view refuses it, as PyTorch does. */
    Storage written(String op) {
        return broadcast == null ? storage : BroadcastView.refuseWrite(op, shape, broadcast);
    }

    /** The memory as stored, for ops that read {@link #strides()} and for lifetime: not dense for a broadcast view. */
    Storage memory() {
        return storage;
    }

    /** Element strides into {@link #memory()}: row-major, 0 along the dimensions a broadcast view repeats. */
    long[] strides() {
        return broadcast == null ? BroadcastView.denseStrides(shape.dims()) : broadcast.strides(shape.dims());
    }

    /** A new uninitialised float32 tensor on this tensor's device. */
    Tensor empty(Shape s) {
        return wrap(s, backend, backend.allocate(s.numel()));
    }

    Tensor filled(Shape s, float value) {
        return Conversions.full(s, value, device());
    }

    // ---- properties ----

    public Shape shape() {
        return shape;
    }

    public DType dtype() {
        return storage.dtype();
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
            throw Checks.closed(this);
        }
    }

    // ---- moving data ----

    /** A copy on {@code device}, same dtype (a copy even when it is already there), outside any graph. */
    public Tensor to(Device device) {
        return dtype() == DType.FLOAT32 ? of(toArray(), shape, device) : ofBytes(toBytes(), shape, dtype(), device);
    }

    /** A copy converted to {@code dtype} by {@link DType}'s rules (PyTorch's), differentiable between float dtypes. */
    public Tensor to(DType dtype) {
        return guarded(() -> Conversions.to(this, dtype));
    }

    /** The elements in row-major order as float32 (converted from other dtypes), copied to the host (waits). */
    public float[] toArray() {
        return Conversions.toFloats(this);
    }

    /** The elements of an integer or bool tensor as int64 (a float tensor throws: convert it explicitly). */
    public long[] toLongArray() {
        return Conversions.toLongs(this);
    }

    /** The elements' little-endian bytes, bit for bit: halves as bit patterns, bool as 0 or 1 (safetensors' layout). */
    public byte[] toBytes() {
        return Conversions.toBytes(this);
    }

    /** The value of a one-element tensor (waits for queued work). */
    public float item() {
        return Conversions.item(this);
    }

    /** Overwrites this tensor's values with {@code src}'s (same shape and device), outside any graph; views see it. */
    public void copyFrom(Tensor src) {
        Checks.sameShape("copyFrom", this, src);
        Checks.notRecorded("copyFrom", this);
        Checks.sameDType("copyFrom", src, this);
        backend.cast(src.dense(), written("copyFrom"), numel());
        bumpVersion();
    }

    /** Sets every element to {@code value} in place, outside any graph. */
    public void fill(float value) {
        checkOpen();
        Checks.notRecorded("fill", this);
        Conversions.fill(this, value);
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
        return Views.copy(this, shape);
    }

    /** Back-propagates from this scalar into every leaf's {@link #grad()}, then frees the graph (see above). */
    public void backward() {
        TensorScope.unscopedWhile(() -> Graph.backward(this));
    }

    /** Runs an op as in its own scope: what it allocated before failing is freed; its result goes to the caller. */
    private static Tensor guarded(java.util.function.Supplier<Tensor> op) {
        return TensorScope.op(op);
    }

    // ---- operations (see each family for the details) ----

    /** Matrix product with PyTorch's broadcasting: [.., m, k]·[.., k, n], batch dimensions broadcast. */
    public Tensor matmul(Tensor other) {
        return matmul(other, false, false);
    }

    /** op(this)·op(other), where op transposes the last two dimensions when asked. */
    public Tensor matmul(Tensor other, boolean transThis, boolean transOther) {
        return guarded(() -> DTypeRules.lowPrecision("matmul", DTypeRules.MATMUL_ARGS, new Tensor[] {this, other},
                t -> LinearAlgebra.matmul(t[0], t[1], transThis, transOther)));
    }

    /** x·Wᵀ + b, PyTorch's linear: this [.., in], weight [out, in], bias [out] or null. */
    public Tensor linear(Tensor weight, Tensor bias) {
        return linear(weight, bias, FusedActivation.NONE);
    }

    /** act(x·Wᵀ + b): {@link #linear(Tensor, Tensor)} then {@code act}, fused in one bias pass, same results. */
    public Tensor linear(Tensor weight, Tensor bias, FusedActivation act) {
        Checks.notNull("linear", "act", act);
        return guarded(() -> DTypeRules.lowPrecision("linear", DTypeRules.WEIGHTED_ARGS, new Tensor[] {this, weight, bias},
                t -> LinearAlgebra.linear(t[0], t[1], t[2], act.kind, act.slope)));
    }

    /** this + other, broadcasting as NumPy and PyTorch do. */
    public Tensor add(Tensor other) {
        return guarded(() -> DTypeRules.pointwise("add", this, other, (a, b, d) -> Pointwise.add(a, b, 1f, d)));
    }

    /** this - other, broadcasting. */
    public Tensor sub(Tensor other) {
        return guarded(() -> DTypeRules.pointwise("sub", this, other, (a, b, d) -> Pointwise.add(a, b, -1f, d)));
    }

    /** Elementwise product, broadcasting. */
    public Tensor mul(Tensor other) {
        return guarded(() -> DTypeRules.pointwise("mul", this, other, Pointwise::mul));
    }

    /** Every element times {@code factor}. */
    public Tensor scale(float factor) {
        return guarded(() -> DTypeRules.pointwise("scale", this, (x, d) -> Pointwise.scale(x, factor, d)));
    }

    /** this[.., c] + bias[c]: adds a bias of the last dimension's size to every row. */
    public Tensor addBias(Tensor bias) {
        return guarded(() -> DTypeRules.pointwise("addBias", this, bias, Pointwise::addBias));
    }

    public Tensor relu() {
        return guarded(() -> DTypeRules.pointwise("relu", this, (x, d) -> Pointwise.activation(x, Activation.RELU, 0f, d)));
    }

    /** x for x > 0, else {@code slope}·x. */
    public Tensor leakyRelu(float slope) {
        return guarded(() -> DTypeRules.pointwise("leakyRelu", this, (x, d) -> Pointwise.activation(x, Activation.LEAKY_RELU, slope, d)));
    }

    public Tensor sigmoid() {
        return guarded(() -> DTypeRules.pointwise("sigmoid", this, (x, d) -> Pointwise.activation(x, Activation.SIGMOID, 0f, d)));
    }

    public Tensor tanh() {
        return guarded(() -> DTypeRules.pointwise("tanh", this, (x, d) -> Pointwise.activation(x, Activation.TANH, 0f, d)));
    }

    /** The exact GELU, x·Φ(x). */
    public Tensor gelu() {
        return guarded(() -> DTypeRules.pointwise("gelu", this, (x, d) -> Pointwise.activation(x, Activation.GELU, 0f, d)));
    }

    /** Softmax over the last dimension. */
    public Tensor softmax() {
        return guarded(() -> DTypeRules.pointwise("softmax", this, (x, d) -> Pointwise.softmax(x, false, d)));
    }

    /** Log-softmax over the last dimension (numerically stable). */
    public Tensor logSoftmax() {
        return guarded(() -> DTypeRules.pointwise("logSoftmax", this, (x, d) -> Pointwise.softmax(x, true, d)));
    }

    /** Inverted dropout with a mask from ({@code seed}, index), identical on every device. */
    public Tensor dropout(float p, long seed, boolean training) {
        return guarded(() -> DTypeRules.pointwise("dropout", this, (x, d) -> Pointwise.dropout(x, p, seed, training)));
    }

    /** Mean cross-entropy of logits [.., classes] (classes last) against class indices; -100 is ignored. */
    public Tensor crossEntropy(int[] targets) {
        return guarded(() -> DTypeRules.unary("crossEntropy", this, x -> Losses.crossEntropy(x, targets, Losses.DEFAULT_IGNORE_INDEX)));
    }

    /** Mean cross-entropy over the rows whose target is not {@code ignoreIndex}. */
    public Tensor crossEntropy(int[] targets, int ignoreIndex) {
        return guarded(() -> DTypeRules.unary("crossEntropy", this, x -> Losses.crossEntropy(x, targets, ignoreIndex)));
    }

    /** Mean squared error mean((this - target)²), a scalar. */
    public Tensor mse(Tensor target) {
        return guarded(() -> DTypeRules.promoted("mse", this, target, Losses::mse));
    }

    /** The sum of all elements, shape []. */
    public Tensor sum() {
        return guarded(() -> DTypeRules.pointwise("sum", this, (x, d) -> Reductions.sumAll(x, false, d)));
    }

    /** The mean of all elements, shape []. */
    public Tensor mean() {
        return guarded(() -> DTypeRules.pointwise("mean", this, (x, d) -> Reductions.sumAll(x, true, d)));
    }

    /** Sums over dimension {@code axis}, which disappears from the shape. */
    public Tensor sum(int axis) {
        return guarded(() -> DTypeRules.pointwise("sum", this, (x, d) -> Reductions.sumAxis(x, axis, false, d)));
    }

    /** Means over dimension {@code axis}, which disappears from the shape. */
    public Tensor mean(int axis) {
        return guarded(() -> DTypeRules.pointwise("mean", this, (x, d) -> Reductions.sumAxis(x, axis, true, d)));
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

    /** Repeats size-1 dimensions to {@code dims} (-1 keeps a size; new leading ones allowed): a broadcast view (Views). */
    public Tensor expand(int... dims) {
        return guarded(() -> Views.expand(this, dims));
    }

    /** A dense tensor of these elements: a copy of a broadcast view ({@link #expand}), else a view; differentiable. */
    public Tensor contiguous() {
        return guarded(() -> Views.contiguous(this));
    }

    /** Swaps two dimensions (a copy). */
    public Tensor transpose(int dim0, int dim1) {
        return guarded(() -> DTypeRules.unary("transpose", this, x -> Reshaping.transpose(x, dim0, dim1)));
    }

    /** Reorders dimensions: the result's dimension i is this tensor's dimension {@code perm[i]} (a copy). */
    public Tensor permute(int... perm) {
        return guarded(() -> DTypeRules.unary("permute", this, x -> Reshaping.permute(x, perm)));
    }

    /** Joins tensors along {@code axis}; every other dimension must agree. */
    public static Tensor concat(int axis, Tensor... parts) {
        return guarded(() -> DTypeRules.same("concat", null, parts, p -> Reshaping.concat(axis, p)));
    }

    /** Splits along {@code axis} into copies of the given sizes, which must add up to that dimension. */
    public Tensor[] split(int axis, int... sizes) {
        DTypeRules.requireFloat32("split", DTypeRules.MATMUL_ARGS, this);
        return Reshaping.split(this, axis, sizes);
    }

    /** 2-d cross-correlation of [n, c, h, w] with weight [k, c / groups, r, s] and bias [k] or null. */
    public Tensor conv2d(Tensor weight, Tensor bias, int stride, int padding, int dilation, int groups) {
        return conv2d(weight, bias, stride, padding, dilation, groups, FusedActivation.NONE);
    }

    /** {@link #conv2d(Tensor, Tensor, int, int, int, int)} then {@code act}, fused in one bias pass, same results. */
    public Tensor conv2d(Tensor weight, Tensor bias, int stride, int padding, int dilation, int groups,
                         FusedActivation act) {
        Checks.notNull("conv2d", "act", act);
        return guarded(() -> DTypeRules.lowPrecision("conv2d", DTypeRules.WEIGHTED_ARGS, new Tensor[] {this, weight, bias},
                t -> ConvolutionPooling.conv2d(t[0], t[1], t[2], stride, padding, dilation, groups, act.kind,
                        act.slope)));
    }

    /** Max pooling over [n, c, h, w] with a square window. */
    public Tensor maxPool2d(int kernel, int stride, int padding) {
        return guarded(() -> DTypeRules.unary("maxPool2d", this, x -> ConvolutionPooling.pool2d(x, true, kernel, stride, padding)));
    }

    /** Average pooling over [n, c, h, w]; padding counts in the divisor (PyTorch's default). */
    public Tensor avgPool2d(int kernel, int stride, int padding) {
        return guarded(() -> DTypeRules.unary("avgPool2d", this, x -> ConvolutionPooling.pool2d(x, false, kernel, stride, padding)));
    }

    /** Batch norm over the channels of [n, c, h, w] or [n, c]; training updates the running statistics in place. */
    public Tensor batchNorm2d(Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, boolean training,
                              float momentum, float eps) {
        DTypeRules.requireFloat32("batchNorm2d", DTypeRules.RUNNING_ARGS, runningMean, runningVar);
        return guarded(() -> DTypeRules.normalised("batchNorm2d", DTypeRules.NORM_ARGS, new Tensor[] {this, gamma, beta},
                t -> Normalisation.batchNorm2d(t[0], t[1], t[2], runningMean, runningVar, training, momentum, eps)));
    }

    /** Layer norm over the last dimension, as PyTorch's {@code layer_norm}; gamma and beta [C] or null. */
    public Tensor layerNorm(Tensor gamma, Tensor beta, float eps) {
        return guarded(() -> DTypeRules.normalised("layerNorm", DTypeRules.NORM_ARGS, new Tensor[] {this, gamma, beta},
                t -> Normalisation.layerNorm(t[0], t[1], t[2], eps)));
    }

    /** Looks rows of this [vocab, dim] weight up: returns {@code idsShape} + [dim]; ids outside [0, vocab) throw. */
    public Tensor embedding(int[] ids, int... idsShape) {
        return guarded(() -> DTypeRules.unary("embedding", this, x -> EmbeddingLookup.embedding(x, ids, idsShape)));
    }

    /** softmax(Q·Kᵀ/√d + mask)·V with this as Q [B, H, Tq, D]; see {@link #attention}. */
    public Tensor scaledDotProductAttention(Tensor k, Tensor v, boolean causal, Tensor keyPaddingMask, float dropoutP,
                                            long seed) {
        return attention(k, v, causal, keyPaddingMask, dropoutP, seed, false).output();
    }

    /**
     * Scaled dot-product attention with this tensor as the queries [B, H, Tq, D], k [B, H, Tk, D], v [B, H, Tk, Dv].
     * {@code keyPaddingMask} is null or [B, Tk] (or [B, 1, 1, Tk]) where <b>1 keeps a key and 0 hides it</b> (the
     * opposite of PyTorch's boolean {@code key_padding_mask}, where True hides); returns the output and, when
     * {@code returnWeights}, a copy of the probabilities. Q·Kᵀ and P·V are batched GEMMs around one softmax kernel;
     * bf16/fp16 q, k, v on a GPU run cuDNN's fused flash attention instead where cuDNN accepts the configuration.
     */
    public Attention attention(Tensor k, Tensor v, boolean causal, Tensor keyPaddingMask, float dropoutP, long seed,
                               boolean returnWeights) {
        return DTypeRules.attention("attention", DTypeRules.ATTENTION_ARGS, new Tensor[] {this, k, v, keyPaddingMask},
                t -> ScaledDotProductAttention.attention(t[0], t[1], t[2], causal, t[3], dropoutP, seed, returnWeights));
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
        return DTypeRules.attention("selfAttention", DTypeRules.SELF_ATTENTION_ARGS, new Tensor[] {this, keyPaddingMask},
                t -> ScaledDotProductAttention.selfAttention(t[0], heads, causal, t[1], dropoutP, seed, returnWeights));
    }

    // ---- lifetime ----

    /**
     * Frees the memory (and the gradient of a leaf). Closing a recorded result that was never
     * back-propagated frees its graph too. Throws {@link IllegalStateException} when already closed,
     * except for intermediates the graph released (then it does nothing).
     */
    @Override
    public void close() {
        Graph.close(this);
    }

    @Override
    public String toString() {
        return "Tensor" + shape + " " + dtype() + " on " + device() + (isClosed() ? " (closed)" : "")
                + (node != null ? " (recorded by " + node.op + ")" : requiresGrad ? " (requires grad)" : "");
    }
}
