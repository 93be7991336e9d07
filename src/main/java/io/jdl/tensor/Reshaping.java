package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import io.jdl.device.DType;
import java.util.Arrays;

/**
 * Ops that move elements without arithmetic and change their order: transpose, permute, concat, split. Every
 * result is a copy (a jdl tensor is dense and row-major, or a broadcast view, see {@code Views}; reshape,
 * flatten, unsqueeze, squeeze and expand are views there); the backward of each is the inverse move.
 * {@link #sumTo} is the backward of every broadcast (expand, broadcasting add, sub, mul and matmul).
 */
final class Reshaping {
    private Reshaping() {
    }

    /**
     * g summed over the dimensions it repeats relative to {@code shape} (its extra leading dimensions and those
     * where {@code shape} has size 1), shaped {@code shape}: the backward of a broadcast. g of any float dtype, the
     * result in {@code dtype}: the sums are float32 (intermediates too), the result rounded once.
     */
    static Tensor sumTo(Tensor g, Shape shape, DType dtype) {
        int[] to = g.shape.dims(), from = new int[to.length], d = shape.dims();
        Arrays.fill(from, 0, to.length - d.length, 1);
        System.arraycopy(d, 0, from, to.length - d.length, d.length);
        int[] curDims = to.clone();
        Tensor out = Conversions.empty(g, shape, dtype);
        int first = firstRepeated(from, to);
        if (first < 0) {
            if (g.dtype() == DType.FLOAT32 && dtype == DType.FLOAT32) {
                g.backend.copy(g.dense(), out.dense(), out.numel());
            } else {
                g.backend.cast(g.dense(), out.dense(), out.numel());  // a plain copy for one half dtype
            }
        }
        Tensor cur = g;
        for (int a = curDims.length - 1; first >= 0 && a >= first; a--) {
            if (curDims[a] == from[a]) {
                continue;
            }
            int outer = product(curDims, 0, a), inner = product(curDims, a + 1, curDims.length);
            Tensor next = a == first ? out : g.empty(Shape.of(Math.multiplyExact(outer, inner)));
            g.backend.sum(cur.dense(), next.dense(), outer, curDims[a], inner);
            curDims[a] = 1;
            if (cur != g) {
                cur.close();
            }
            cur = next;
        }
        return out;
    }

    private static int firstRepeated(int[] from, int[] to) {
        for (int a = 0; a < from.length; a++) {
            if (from[a] != to[a]) {
                return a;
            }
        }
        return -1;
    }

    private static int product(int[] d, int from, int to) {
        long p = 1;
        for (int i = from; i < to; i++) {
            p *= d[i];
        }
        return Math.toIntExact(p);
    }

    /** Swaps two dimensions. */
    static Tensor transpose(Tensor x, int dim0, int dim1) {
        int[] perm = new int[x.shape.rank()];
        for (int i = 0; i < perm.length; i++) {
            perm[i] = i;
        }
        int a = x.shape.axis(dim0), b = x.shape.axis(dim1);
        perm[a] = b;
        perm[b] = a;
        return permute(x, perm);
    }

    /** Reorders dimensions: the result's dimension i is x's dimension {@code perm[i]}. */
    static Tensor permute(Tensor x, int... perm) {
        x.checkOpen();
        int rank = x.shape.rank();
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
                    + rank + " dimensions of shape " + x.shape);
        }
        int[] dims = x.shape.dims(), outDims = new int[rank], inverse = new int[rank];
        for (int i = 0; i < rank; i++) {
            outDims[i] = dims[perm[i]];
            inverse[perm[i]] = i;
        }
        Tensor y = x.empty(Shape.of(outDims));
        x.backend.permute(x.dense(), y.dense(), dims, perm.clone());
        return record("permute", y, g -> accumulate(x, () -> g.permute(inverse)), x);
    }

    /** Joins tensors along {@code axis}; every other dimension must agree. */
    static Tensor concat(int axis, Tensor... parts) {
        if (Checks.notNull("concat", "parts", parts).length == 0) {
            throw new IllegalArgumentException("concat needs at least one tensor");
        }
        Tensor first = Checks.notNull("concat", "parts[0]", parts[0]);
        first.checkOpen();
        int a = first.shape.axis(axis), total = 0;
        for (Tensor p : parts) {
            Checks.sameDevice("concat", first, p);
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
            first.backend.copySlice(parts[i].dense(), y.dense(), outer, parts[i].shape.dim(a), inner, total, off, true);
        }
        int totalF = total;
        Tensor[] inputs = parts.clone();
        return record("concat", y, g -> {
            for (int i = 0; i < inputs.length; i++) {
                Tensor p = inputs[i];
                int off = offsets[i];
                accumulate(p, () -> {
                    Tensor dp = p.empty(p.shape);
                    p.backend.copySlice(dp.dense(), g.dense(), outer, p.shape.dim(a), inner, totalF, off, false);
                    return dp;
                });
            }
        }, inputs);
    }

    /** Pieces of the given sizes along {@code axis}; gradients flow back into the matching slice. */
    static Tensor[] split(Tensor x, int axis, int... sizes) {
        x.checkOpen();
        Shape shape = x.shape;
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
        try (TensorScope scope = TensorScope.open()) { // a failure frees the parts made so far
            for (int i = 0, off = 0; i < sizes.length; off += sizes[i], i++) {
                int[] dims = shape.dims();
                dims[a] = sizes[i];
                int size = sizes[i], offset = off;
                Tensor part = x.empty(Shape.of(dims));
                x.backend.copySlice(part.dense(), x.dense(), outer, size, inner, whole, offset, false);
                parts[i] = record("split", part, g -> accumulate(x, () -> {
                    Tensor dx = x.filled(shape, 0f);
                    x.backend.copySlice(g.dense(), dx.dense(), outer, size, inner, whole, offset, true);
                    return dx;
                }), x);
            }
            for (Tensor p : parts) {
                scope.keep(p);
            }
        }
        return parts;
    }
}
