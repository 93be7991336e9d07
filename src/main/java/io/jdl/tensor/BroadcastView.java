package io.jdl.tensor;

import io.jdl.backend.Backend;
import io.jdl.backend.Storage;
import io.jdl.device.DType;
import java.util.Arrays;

/**
 * The layout of a broadcast view ({@link Tensor#expand}): the dense, row-major elements of a base shape
 * {@link #baseDims} (the view's rank, 1 along every repeated dimension) read with stride 0 along the dimensions
 * the view repeats, as PyTorch's {@code expand}. A tensor without one is dense (every other tensor).
 *
 * <p><b>Materialised copy.</b> An op that needs dense operands reads a broadcast view through
 * {@link Tensor#dense()}, which writes the view's elements into a dense buffer held here and returns it. The
 * buffer is allocated at the first such read and rewritten at every read, so it always holds the base's current
 * values: after an in-place change of the base, after a CUDA graph replay changed them on the device (a version
 * check on the host would not see that), and inside a capture, which then records the rewrite. Lifetime, like a
 * confined {@link java.lang.foreign.Arena}'s segments: the buffer belongs to the view; it is freed when the view's
 * handle on its memory is ({@link #release()}, from {@code LeakDetector.closeStorage}, or by the leak detector
 * when the view leaks), and is never handed to anyone but the backend call that reads it, on the view's thread.
 * Views that stride-aware ops read in place (broadcasting add, sub and mul; matmul's batch dimensions) never
 * allocate it.
 */
final class BroadcastView {
    /** The shape of the elements in memory, at the view's rank: 1 along each dimension the view repeats. */
    final int[] baseDims;
    private Storage dense;

    BroadcastView(int[] baseDims) {
        this.baseDims = baseDims;
    }

    /** Element strides of a tensor of {@code dims} over this layout's memory: row-major in the base, 0 where it repeats. */
    long[] strides(int[] dims) {
        long[] s = new long[dims.length];
        long step = 1;
        for (int k = dims.length - 1; k >= 0; k--) {
            s[k] = baseDims[k] == 1 && dims[k] != 1 ? 0 : step;
            step *= baseDims[k];
        }
        return s;
    }

    /** Row-major element strides of a dense tensor of {@code dims}. */
    static long[] denseStrides(int[] dims) {
        long[] s = new long[dims.length];
        long step = 1;
        for (int k = dims.length - 1; k >= 0; k--) {
            s[k] = step;
            step *= dims[k];
        }
        return s;
    }

    /**
     * The layout of a tensor of {@code dims} whose element strides over a base's memory are {@code strides}, or
     * null when they are not the dense strides of a base shape with stride 0 along repeated dimensions, or
     * nothing repeats (then the tensor is dense).
     */
    static BroadcastView of(int[] dims, long[] strides) {
        int[] base = new int[dims.length];
        boolean repeats = false;
        for (int k = 0; k < dims.length; k++) {
            base[k] = strides[k] == 0 ? 1 : dims[k];
            repeats |= strides[k] == 0 && dims[k] != 1;
        }
        BroadcastView v = new BroadcastView(base);
        long[] expected = v.strides(dims);
        for (int k = 0; k < dims.length; k++) {
            if (dims[k] != 1 && expected[k] != strides[k]) {
                return null;
            }
        }
        return repeats ? v : null;
    }

    long baseNumel() {
        long n = 1;
        for (int d : baseDims) {
            n *= d;
        }
        return n;
    }

    /**
     * The view's elements, dense and row-major in {@code shape}, rewritten from {@code memory} now (see the class
     * comment); the buffer stays owned by this layout.
     */
    Storage materialise(Backend backend, Storage memory, Shape shape) {
        if (dense == null) {
            dense = backend.allocate(shape.numel(), memory.dtype());
        }
        if (shape.numel() == 0) {
            return dense;
        }
        if (memory.dtype() == DType.FLOAT32) {
            repeat(backend, memory, dense, shape.dims());
            return dense;
        }
        // The broadcast kernel is float32's: halves go there and back exactly (every value came from the dtype).
        try (Storage f32 = backend.allocate(baseNumel(), DType.FLOAT32);
             Storage out = backend.allocate(shape.numel(), DType.FLOAT32)) {
            backend.cast(memory, f32, baseNumel());
            repeat(backend, f32, out, shape.dims());
            backend.cast(out, dense, shape.numel());
        }
        return dense;
    }

    /** out [to] = src [baseDims] repeated: one broadcast pass per repeated dimension, outermost first. */
    private void repeat(Backend backend, Storage src, Storage out, int[] to) {
        int last = -1;
        for (int a = 0; a < to.length; a++) {
            if (baseDims[a] != to[a]) {
                last = a;
            }
        }
        int[] cur = baseDims.clone();
        Storage from = src;
        try {
            for (int a = 0; a <= last; a++) {
                if (cur[a] == to[a]) {
                    continue;
                }
                int outer = Shape.of(cur).product(0, a), inner = Shape.of(cur).product(a + 1, cur.length);
                cur[a] = to[a];
                Storage next = a == last ? out : backend.allocate(Shape.of(cur).numel());
                try {
                    backend.broadcast(from, next, outer, to[a], inner);  // [outer, 1, inner] -> [outer, n, inner]
                } catch (RuntimeException | Error e) {
                    if (next != out) {
                        next.close();
                    }
                    throw e;
                }
                if (from != src) {
                    from.close();
                }
                from = next;
            }
        } finally {
            if (from != src && from != out) {
                from.close();
            }
        }
    }

    /** Throws PyTorch's refusal of an in-place write by {@code op} into a broadcast view of {@code shape}. */
    static Storage refuseWrite(String op, Shape shape, BroadcastView layout) {
        throw new IllegalStateException(op + ": unsupported operation: more than one element of the written-to tensor"
                + " refers to a single memory location (a broadcast view of shape " + shape + " over " + layout
                + " made by expand). Please clone() the tensor (contiguous() or detach() in jdl) before performing"
                + " the operation.");
    }

    /** Frees the materialised copy, if any (the view's handle is being closed). */
    void release() {
        Storage d = dense;
        dense = null;
        if (d != null && !d.isClosed()) {
            d.close();
        }
    }

    /** The materialised copy, for the leak detector to free with the view's memory; may be null. */
    Storage materialised() {
        return dense;
    }

    @Override
    public String toString() {
        return Arrays.toString(baseDims);
    }
}
