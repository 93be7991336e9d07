package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import java.util.Arrays;

/**
 * Views: tensors that share another tensor's memory instead of copying it. {@link Tensor#reshape},
 * {@link Tensor#flatten}, {@link Tensor#unsqueeze}, {@link Tensor#squeeze} and {@link Tensor#expand} return views,
 * as in PyTorch.
 *
 * <p><b>What a view is.</b> A jdl tensor is either dense (its elements are the first {@code numel} elements of its
 * storage, row-major) or a <em>broadcast view</em>: the dense elements of a smaller base shape read with stride 0
 * along the dimensions it repeats ({@link BroadcastView}), which is what {@code expand} makes. A view is a new
 * {@link Tensor} with its own shape and its own handle on the same memory ({@link io.jdl.backend.Storage#share()}).
 * reshape, flatten, unsqueeze and squeeze of a dense tensor keep the element order, so every backend call reads
 * them as it would the base. Of a broadcast view they stay views where the strides allow it (PyTorch's rule for
 * {@code view}: regrouped dimensions that step through memory as one), and otherwise return a dense copy, as
 * PyTorch's {@code reshape} does ({@code [4, 3]} expanded from {@code [1, 3]} flattened to {@code [12]}).
 * Ops whose result is not the same elements in the same order — {@code permute}, {@code transpose},
 * {@code split}, {@code concat} — copy (see {@code Reshaping}); the attention head split and merge avoid those
 * copies with strided GEMM operands instead ({@link io.jdl.backend.MatrixBatch}).
 *
 * <p><b>Reading a broadcast view.</b> The op families reach a tensor's storage only through
 * {@link Tensor#dense()} (the elements dense and row-major: a broadcast view's are materialised into a buffer the
 * view owns, see {@link BroadcastView} for its lifetime), {@link Tensor#written} (an in-place write, refused for a
 * broadcast view) and {@link Tensor#memory()} with {@link Tensor#strides()} (the memory as stored, for ops that
 * take strides). Broadcasting add, sub and mul ({@link BroadcastBinary}) and matmul's batch dimensions
 * ({@link BroadcastMatmul}) read broadcast views in place, stride 0 where they repeat; every other op reads the
 * materialised copy, the same values the dense copy would hold.
 *
 * <p><b>Lifetime.</b> A view is a tensor like any other: it belongs to the scope it was made in (or to the
 * caller) and is closed once, by its owner. Base and views each hold a handle on the memory; the memory is
 * freed when the last handle closes, so they may be closed in either order: closing the base leaves its
 * views readable, and closing a view frees nothing the base still uses (but its materialised copy, if an op
 * made one). A view of a closed tensor cannot be made. A view keeps its memory alive for as long as it is open,
 * so a small view of a large intermediate kept past its scope keeps the whole intermediate allocated;
 * {@link Tensor#detach()} copies. {@code CpuStorage.liveCount()} and the CUDA allocator count memory, not
 * handles: a view allocates nothing. An unclosed view that becomes unreachable is reported by the
 * {@link LeakDetector} like any tensor, and freeing it releases only its handle (and its materialised copy).
 *
 * <p><b>Writes.</b> An in-place change through the base or a dense view ({@link Tensor#copyFrom},
 * {@link Tensor#fill}, optimizer steps) is seen by all of them, and raises the version counter they share:
 * a recorded op that read any of them then refuses to back-propagate, naming the op. An in-place write into a
 * broadcast view is refused with PyTorch's message ("more than one element of the written-to tensor refers to a
 * single memory location"); {@link Tensor#contiguous()} or {@link Tensor#detach()} give a dense copy that takes
 * writes. Gradients are never accumulated in place into memory another open handle still reads, or into a
 * broadcast view (the engine adds out of place then; a gradient that arrives as a broadcast view is stored dense).
 *
 * <p><b>Autograd.</b> A view op's backward is the reverse view of the gradient (no copy either way); expand's is
 * the sum over the repeated dimensions.
 */
final class Views {
    private Views() {
    }

    /** The same elements in a new shape; one dimension may be -1 (inferred). */
    static Tensor reshape(Tensor x, int... dims) {
        x.checkOpen();
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
        if (infer >= 0 && known > 0 && x.numel() % known == 0) {
            d[infer] = Math.toIntExact(x.numel() / known);
        }
        Shape target;
        try {
            target = Shape.of(d);
        } catch (IllegalArgumentException e) {
            target = null;
        }
        if (target == null || target.numel() != x.numel()) {
            throw new IllegalArgumentException("reshape: cannot view shape " + x.shape + " (" + x.numel()
                    + " elements) as " + Arrays.toString(dims));
        }
        return viewAs(x, target, "reshape");
    }

    /** Collapses dimensions {@code startDim} and after into one. */
    static Tensor flatten(Tensor x, int startDim) {
        x.checkOpen();
        int a = x.shape.axis(startDim);
        int[] d = Arrays.copyOf(x.shape.dims(), a + 1);
        d[a] = x.shape.product(a, x.shape.rank());
        return viewAs(x, Shape.of(d), "flatten");
    }

    /** A size-1 dimension inserted at {@code dim}, in [-rank - 1, rank] as in PyTorch. */
    static Tensor unsqueeze(Tensor x, int dim) {
        x.checkOpen();
        int rank = x.shape.rank(), a = dim < 0 ? dim + rank + 1 : dim;
        if (a < 0 || a > rank) {
            throw new IllegalArgumentException("unsqueeze: dimension " + dim + " is outside [" + (-rank - 1) + ", "
                    + rank + "] for shape " + x.shape);
        }
        int[] d = new int[rank + 1];
        for (int i = 0, j = 0; i <= rank; i++) {
            d[i] = i == a ? 1 : x.shape.dim(j++);
        }
        return viewAs(x, Shape.of(d), "unsqueeze");
    }

    /** Dimension {@code dim} removed when its size is 1; otherwise the same shape (PyTorch's {@code squeeze(dim)}). */
    static Tensor squeeze(Tensor x, int dim) {
        x.checkOpen();
        int a = x.shape.axis(dim);
        int[] dims = x.shape.dims();
        if (dims[a] != 1) {
            return viewAs(x, x.shape, "squeeze");
        }
        int[] d = new int[dims.length - 1];
        for (int i = 0, j = 0; i < dims.length; i++) {
            if (i != a) {
                d[j++] = dims[i];
            }
        }
        return viewAs(x, Shape.of(d), "squeeze");
    }

    /**
     * x repeated along its size-1 dimensions to {@code dims} (PyTorch's {@code expand}): new leading dimensions
     * may be added, -1 keeps a size. A broadcast view of x's memory, no copy (see {@link BroadcastView}); backward
     * sums the gradient over the repeated dimensions (in float32 for half tensors, rounded once).
     */
    static Tensor expand(Tensor x, int... dims) {
        x.checkOpen();
        DTypeRules.requireFloat("expand", "x", x);
        int rank = Checks.notNull("expand", "dims", dims).length, lead = rank - x.shape.rank();
        int[] from = new int[rank], to = dims.clone();
        for (int i = 0; i < rank; i++) {
            from[i] = i < lead ? 1 : x.shape.dim(i - lead);
            if (i >= lead && to[i] == -1) {
                to[i] = from[i];
            }
            if (lead < 0 || to[i] < 0 || from[i] != to[i] && from[i] != 1) {
                throw new IllegalArgumentException("expand: shape " + x.shape + " cannot expand to "
                        + Arrays.toString(dims) + " (only size-1 dimensions repeat; -1 keeps a size)");
            }
        }
        if (Arrays.equals(to, x.shape.dims())) {
            return viewAs(x, x.shape, "expand");
        }
        long[] xs = x.strides(), strides = new long[rank];  // new and repeated dimensions step 0
        for (int i = lead; i < rank; i++) {
            strides[i] = from[i] == 1 && to[i] != 1 ? 0 : xs[i - lead];
        }
        Shape source = x.shape;
        Tensor view = x.view(Shape.of(to), BroadcastView.of(to, strides));
        // the gradient summed back in g's dtype: a half gradient is summed in float32 and rounded once
        return record("expand", view, g -> accumulate(x, () -> Reshaping.sumTo(g, source, g.dtype())), x);
    }


    /**
     * A dense tensor of x's elements: a new handle on x's memory when x is dense, a copy of a broadcast view's
     * elements otherwise (PyTorch's {@code contiguous}); backward passes the gradient through.
     */
    static Tensor contiguous(Tensor x) {
        x.checkOpen();
        return x.broadcast == null ? viewAs(x, x.shape, "contiguous") : copied(x, x.shape, "contiguous");
    }

    /**
     * x viewed as {@code target} (same numel); backward views the gradient back as x's shape. A broadcast view
     * stays one when its strides allow it (PyTorch's rule for {@code view}); otherwise, as PyTorch's
     * {@code reshape} does, the result is a dense copy.
     */
    private static Tensor viewAs(Tensor x, Shape target, String op) {
        Shape source = x.shape;
        BroadcastView layout = null;
        if (x.broadcast != null) {
            long[] strides = restrided(source.dims(), x.strides(), target.dims());
            layout = strides == null ? null : BroadcastView.of(target.dims(), strides);
            if (layout == null) {
                return copied(x, target, op);
            }
        }
        return record(op, x.view(target, layout), g -> accumulate(x, () -> g.view(source, null)), x);
    }

    /** A dense copy of x's elements (any dtype) shaped {@code target}; backward views the gradient as x's shape. */
    private static Tensor copied(Tensor x, Shape target, String op) {
        Shape source = x.shape;
        return record(op, copy(x, target), g -> accumulate(x, () -> g.view(source, null)), x);
    }

    /** A dense copy of x's elements (any dtype) shaped {@code target} (same numel), outside any graph. */
    static Tensor copy(Tensor x, Shape target) {
        Tensor y = Tensor.wrap(target, x.backend, x.backend.allocate(target.numel(), x.dtype()));
        x.backend.cast(x.dense(), y.dense(), target.numel());
        return y;
    }

    /**
     * The strides of {@code to} viewing the elements of a tensor of {@code from} with {@code strides}, or null
     * when no strides can (PyTorch's {@code computeStride}): runs of dimensions that step through memory as one
     * are regrouped, each run keeping its innermost stride.
     */
    static long[] restrided(int[] from, long[] strides, int[] to) {
        long[] out = new long[to.length];
        if (Shape.of(from).numel() == 0) {
            return null;  // nothing to view: the caller copies (no elements)
        }
        int v = to.length - 1;
        long base = strides.length == 0 ? 1 : strides[strides.length - 1], fromCount = 1, toCount = 1;
        for (int d = from.length - 1; d >= 0; d--) {
            fromCount *= from[d];
            if (d == 0 || from[d - 1] != 1 && strides[d - 1] != fromCount * base) {
                while (v >= 0 && (toCount < fromCount || to[v] == 1)) {
                    out[v] = toCount * base;
                    toCount *= to[v];
                    v--;
                }
                if (toCount != fromCount) {
                    return null;
                }
                if (d > 0) {
                    base = strides[d - 1];
                    fromCount = 1;
                    toCount = 1;
                }
            }
        }
        return v == -1 ? out : null;
    }
}
