package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import io.jdl.backend.Backend;
import java.util.Arrays;

/**
 * Broadcasting add, sub and mul that read their operands in place, as through PyTorch's stride-0 expand: jdl
 * tensors are dense and carry no strides, so the kernel takes the broadcast as strides instead
 * ({@link io.jdl.backend.Backend#broadcastBinary}), and {@code x + bias[1, c, 1, 1]} or {@code x * mask[b, 1, t]}
 * allocate only their result where an expanded copy of the smaller operand was made before (one broadcast
 * pass per repeated dimension). The shapes are merged to at most 4 dimensions (adjacent dimensions along
 * which both operands are contiguous, or both repeat); a broadcast that needs more keeps the expand path.
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
     * a + beta·b ({@code multiply} false) or a·b over the broadcast shape {@code dims}; null when the broadcast
     * does not merge to 4 dimensions or holds no element (the caller then expands).
     */
    static Tensor apply(String op, Tensor a, Tensor b, int[] dims, boolean multiply, float beta) {
        Layout layout = layout(dims, a.shape.dims(), b.shape.dims());
        if (layout == null) {
            return null;
        }
        Tensor out = a.empty(Shape.of(dims));
        a.backend.broadcastBinary(multiply, 1f, beta, a.storage, layout.aStrides, b.storage, layout.bStrides,
                out.storage, layout.dims);
        return record(op, out, g -> {
            accumulate(a, () -> multiply ? reduced(g.mul(b), dims, a.shape) : reduced(g, dims, a.shape, 1f));
            accumulate(b, () -> multiply ? reduced(g.mul(a), dims, b.shape) : reduced(g, dims, b.shape, beta));
        }, a, b);
    }

    /** t [dims] summed to {@code shape}; t is closed. */
    private static Tensor reduced(Tensor t, int[] dims, Shape shape) {
        try (t) {
            return Reshaping.sumTo(t, dims, padded(shape.dims(), dims.length), shape);
        }
    }

    /** factor·(g [dims] summed to {@code shape}). */
    private static Tensor reduced(Tensor g, int[] dims, Shape shape, float factor) {
        Tensor r = Reshaping.sumTo(g, dims, padded(shape.dims(), dims.length), shape);
        if (factor != 1f) {
            r.backend.axpby(factor, r.storage, 0f, r.storage, r.storage, r.numel());
        }
        return r;
    }

    /** d with leading 1s up to {@code rank} dimensions. */
    private static int[] padded(int[] d, int rank) {
        int[] p = new int[rank];
        Arrays.fill(p, 0, rank - d.length, 1);
        System.arraycopy(d, 0, p, rank - d.length, d.length);
        return p;
    }

    private static Layout layout(int[] out, int[] a, int[] b) {
        int rank = out.length;
        if (Shape.of(out).numel() > Integer.MAX_VALUE) {
            return null;  // merged sizes are ints
        }
        int[] ad = padded(a, rank), bd = padded(b, rank);
        long aStride = 1, bStride = 1;
        int[] as = new int[rank], bs = new int[rank];
        for (int k = rank - 1; k >= 0; k--) {
            if (out[k] == 0) {
                return null;
            }
            as[k] = ad[k] == 1 ? 0 : (int) aStride;
            bs[k] = bd[k] == 1 ? 0 : (int) bStride;
            aStride *= ad[k];
            bStride *= bd[k];
            if (aStride > Integer.MAX_VALUE || bStride > Integer.MAX_VALUE) {
                return null;  // int strides in the kernel
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
