package io.jdl.backend.cpu;

import io.jdl.backend.MatrixBatch;
import io.jdl.cpunative.CpuNativeLibraries.Library;
import io.jdl.cpunative.OneDnnGemm;

/**
 * {@link CpuMatmul}'s native path: each product of a batch is one oneDNN row-major SGEMM call on the storages'
 * arrays (no copy). Products too small to repay a native call's set-up stay on the Java kernel.
 */
final class NativeMatmul {
    /** Multiply-adds of one product below which the Java kernel is as fast as a native call. */
    static final long MIN_WORK = 1L << 15;

    private NativeMatmul() {
    }

    /** Whether products (convolutions) of enough work go through the native library in this process. */
    static boolean active() {
        return CpuNative.MODE != CpuNative.Mode.OFF && Loaded.STATUS.usable();
    }

    private static final class Loaded {
        static final CpuNative.Status STATUS = CpuNative.tryLoad(Library.ONEDNN, "matrix products", OneDnnGemm::ensureLoaded);
    }

    /**
     * C = op(A)·op(B) for each of {@code batch} packed products, as {@link CpuMatmul#matmul}; returns false (having
     * done nothing) when the native path is off, missing or not worth it for these sizes.
     */
    static boolean matmul(boolean transA, boolean transB, int batch, int m, int n, int k, float[] a, float[] b, float[] c) {
        if ((long) m * n * k < MIN_WORK || !active()) {
            return false;
        }
        long aSize = (long) m * k, bSize = (long) k * n, cSize = (long) m * n;
        // A native call does not check bounds: an array shorter than the shapes say is refused here.
        if (a.length < batch * aSize || b.length < batch * bSize || c.length < batch * cSize) {
            throw new IllegalArgumentException("matmul: arrays of " + a.length + ", " + b.length + ", " + c.length
                    + " elements are too short for " + batch + " products of [" + m + ", " + k + "]·[" + k + ", " + n + "]");
        }
        for (int i = 0; i < batch; i++) {
            OneDnnGemm.sgemm(transA, transB, m, n, k, a, (int) (i * aSize), transA ? m : k, b, (int) (i * bSize),
                    transB ? k : n, c, (int) (i * cSize), n);
        }
        return true;
    }

    /**
     * C(o, i) = op(A(o, i))·op(B(o, i)) over a two-level batch laid out as the {@link MatrixBatch}es say (their
     * storages are ignored: the arrays are given), as {@link CpuMatmul}'s strided product; false (nothing done) when
     * the native path is off, missing or not worth it.
     */
    static boolean matmul(boolean transA, boolean transB, int outer, int inner, int m, int n, int k,
                          float[] a, MatrixBatch al, float[] b, MatrixBatch bl, float[] c, MatrixBatch cl) {
        if ((long) m * n * k < MIN_WORK || !active()) {
            return false;
        }
        // A native call does not check bounds: a layout reaching past its array is refused here.
        long aEnd = al.end(outer, inner, transA ? k : m, transA ? m : k), bEnd = bl.end(outer, inner, transB ? n : k,
                transB ? k : n), cEnd = cl.end(outer, inner, m, n);
        if (aEnd > a.length || bEnd > b.length || cEnd > c.length) {
            throw new IllegalArgumentException("matmul: arrays of " + a.length + ", " + b.length + ", " + c.length
                    + " elements are too short for " + outer + "x" + inner + " products of [" + m + ", " + k + "]·[" + k
                    + ", " + n + "] laid out to end at " + aEnd + ", " + bEnd + ", " + cEnd);
        }
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                OneDnnGemm.sgemm(transA, transB, m, n, k, a, start(al, o, i), al.rowStride(), b, start(bl, o, i),
                        bl.rowStride(), c, start(cl, o, i), cl.rowStride());
            }
        }
        return true;
    }

    /** Where matrix (o, i) starts; within the array, as checked. */
    private static int start(MatrixBatch l, int o, int i) {
        return Math.toIntExact(l.offset() + o * l.outerStride() + i * l.innerStride());
    }
}
