package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import java.util.Arrays;

/**
 * Views: tensors that share another tensor's memory instead of copying it. {@link Tensor#reshape},
 * {@link Tensor#flatten}, {@link Tensor#unsqueeze} and {@link Tensor#squeeze} return views, as in PyTorch.
 *
 * <p><b>What a view is.</b> Every jdl tensor is dense and row-major: its elements are the first
 * {@code numel} floats of its storage, in order. A view is a new {@link Tensor} with its own shape and its
 * own handle on the same memory ({@link io.jdl.backend.Storage#share()}); since the element order does not
 * change, every backend call reads and writes a view exactly as it would the base, with no offsets or
 * strides and no copy. Ops whose result is not the same elements in the same order — {@code permute},
 * {@code transpose}, {@code expand}, {@code split}, {@code concat} — copy (see {@code Reshaping}); the
 * attention head split and merge avoid those copies with strided GEMM operands instead
 * ({@link io.jdl.backend.MatrixBatch}), and broadcasting add, sub and mul read the smaller operand through
 * stride-0 dimensions ({@link BroadcastBinary}) instead of expanding it. {@code expand} itself still returns a
 * dense copy: a tensor has no strides to make it a view, and every backend call reads its operands dense.
 *
 * <p><b>Lifetime.</b> A view is a tensor like any other: it belongs to the scope it was made in (or to the
 * caller) and is closed once, by its owner. Base and views each hold a handle on the memory; the memory is
 * freed when the last handle closes, so they may be closed in either order: closing the base leaves its
 * views readable, and closing a view frees nothing the base still uses. A view of a closed tensor cannot be
 * made. A view keeps its memory alive for as long as it is open, so a small view of a large
 * intermediate kept past its scope keeps the whole intermediate allocated; {@link Tensor#detach()} copies.
 * {@code CpuStorage.liveCount()} and the CUDA allocator count memory, not handles: a view allocates nothing.
 * An unclosed view that becomes unreachable is reported by the {@link LeakDetector} like any tensor, and
 * freeing it releases only its handle.
 *
 * <p><b>Writes.</b> An in-place change through the base or a view ({@link Tensor#copyFrom},
 * {@link Tensor#fill}, optimizer steps) is seen by all of them, and raises the version counter they share:
 * a recorded op that read any of them then refuses to back-propagate, naming the op. Gradients are never
 * accumulated in place into memory another open handle still reads (the engine adds out of place then).
 *
 * <p><b>Autograd.</b> A view op's backward is the reverse view of the gradient: no copy either way.
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

    /** x's memory viewed as {@code target} (same numel); backward views the gradient back as x's shape. */
    private static Tensor viewAs(Tensor x, Shape target, String op) {
        Shape source = x.shape;
        return record(op, x.view(target), g -> accumulate(x, () -> g.view(source)), x);
    }
}
