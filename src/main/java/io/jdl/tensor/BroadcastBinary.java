package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import io.jdl.backend.Backend;
import io.jdl.device.DType;
import java.util.Arrays;

/**
 * Broadcasting add, sub and mul that read their operands in place, as through PyTorch's stride-0 expand: the
 * kernel takes the broadcast as element strides ({@link io.jdl.backend.Backend#broadcastBinary}), 0 along the
 * dimensions an operand lacks or has of size 1 and along those a broadcast view ({@link Tensor#expand},
 * {@link BroadcastView}) repeats, so {@code x + bias[1, c, 1, 1]}, {@code x * mask[b, 1, t]} or
 * {@code x + y.expand(..)} allocate only their result. The shapes are merged to at most 4 dimensions (adjacent
 * dimensions along which both operands step as through one); a broadcast that needs more takes the dense path
 * (see {@code Pointwise}), which materialises the views.
 *
 * <p>Backward: each operand's gradient is the output gradient (for mul, times the other operand, again read
 * in place) summed over the dimensions the operand repeats.
 */
final class BroadcastBinary {
    private BroadcastBinary() {
    }

    /** A broadcast merged to 4 dimensions: the output's sizes and each operand's element strides (0 = repeats). */
    private record Layout(int[] dims, int[] aStrides, int[] bStrides) {
    }

    /**
     * a + beta·b ({@code multiply} false) or a·b over the broadcast shape {@code dims}, in {@code dtype}; null when
     * the broadcast does not merge to 4 dimensions or holds no element (the caller then expands).
     */
    static Tensor apply(String op, Tensor a, Tensor b, int[] dims, boolean multiply, float beta, DType dtype) {
        Layout layout = layout(dims, a, b);
        if (layout == null) {
            return null;
        }
        Tensor out = Conversions.empty(a, Shape.of(dims), dtype);
        a.backend.broadcastBinary(multiply, 1f, beta, a.memory(), layout.aStrides, b.memory(), layout.bStrides,
                out.dense(), layout.dims);
        return record(op, out, g -> {
            accumulate(a, () -> multiply ? product(g, b, a) : reduced(g, a, 1f));
            accumulate(b, () -> multiply ? product(g, a, b) : reduced(g, b, beta));
        }, a, b);
    }

    /**
     * The gradient of t from g·other, summed to t's shape, in t's dtype. Where t repeats, the products stay
     * float32 until summed (a half gradient is rounded once, after the sum).
     */
    private static Tensor product(Tensor g, Tensor other, Tensor t) {
        if (g.shape.equals(t.shape)) {
            return Pointwise.mul(g, other, t.dtype());
        }
        try (Tensor p = Pointwise.mul(g, other, DType.FLOAT32)) {
            return Reshaping.sumTo(p, t.shape, t.dtype());
        }
    }

    /** factor·(g summed to t's shape), in t's dtype: float32 sums, rounded once. */
    private static Tensor reduced(Tensor g, Tensor t, float factor) {
        if (factor == 1f) {
            return Reshaping.sumTo(g, t.shape, t.dtype());
        }
        if (g.shape.equals(t.shape)) {
            return Pointwise.scaled(g, factor, t.dtype());
        }
        Tensor r = Reshaping.sumTo(g, t.shape, DType.FLOAT32);
        if (t.dtype() == DType.FLOAT32) {
            r.backend.axpby(factor, r.dense(), 0f, r.dense(), r.dense(), r.numel());
            return r;
        }
        try (r) {
            return Pointwise.scaled(r, factor, t.dtype());
        }
    }

    /**
     * t's element strides over its memory at the output's {@code rank}: 0 along the leading dimensions t lacks,
     * its size-1 dimensions and those a broadcast view repeats; -1 for a stride beyond an int (the kernel's).
     */
    private static int[] strides(Tensor t, int rank) {
        int[] d = t.shape.dims(), s = new int[rank];
        long[] ts = t.strides();
        for (int k = rank - d.length; k < rank; k++) {
            long stride = d[k - rank + d.length] == 1 ? 0 : ts[k - rank + d.length];
            s[k] = stride > Integer.MAX_VALUE ? -1 : (int) stride;
        }
        return s;
    }

    private static Layout layout(int[] out, Tensor a, Tensor b) {
        int rank = out.length;
        if (Shape.of(out).numel() > Integer.MAX_VALUE) {
            return null;  // merged sizes are ints
        }
        int[] as = strides(a, rank), bs = strides(b, rank);
        for (int k = 0; k < rank; k++) {
            if (out[k] == 0 || as[k] < 0 || bs[k] < 0) {
                return null;
            }
        }
        // Merge, from the outermost dimension in, dropping size-1 ones: [.., m, n] becomes [.., m·n] when each
        // operand steps through both as through one (stride[m] = stride[n]·n, true for contiguous and for 0).
        int[] md = new int[rank], ms = new int[rank], mb = new int[rank];
        int count = 0;
        for (int k = 0; k < rank; k++) {
            if (out[k] == 1) {
                continue;
            }
            if (count > 0 && ms[count - 1] == (long) as[k] * out[k] && mb[count - 1] == (long) bs[k] * out[k]) {
                md[count - 1] *= out[k];
                ms[count - 1] = as[k];
                mb[count - 1] = bs[k];
            } else {
                md[count] = out[k];
                ms[count] = as[k];
                mb[count] = bs[k];
                count++;
            }
        }
        int r = Backend.BROADCAST_RANK;
        if (count > r) {
            return null;
        }
        int[] dims = new int[r], sa = new int[r], sb = new int[r];
        Arrays.fill(dims, 1);
        System.arraycopy(md, 0, dims, r - count, count);
        System.arraycopy(ms, 0, sa, r - count, count);
        System.arraycopy(mb, 0, sb, r - count, count);
        return new Layout(dims, sa, sb);
    }
}
