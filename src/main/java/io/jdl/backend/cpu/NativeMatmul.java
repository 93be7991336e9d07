package io.jdl.backend.cpu;

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
     * C = op(A)·op(B) for each of {@code batch} products, as {@link CpuMatmul#matmul}; returns false (having done
     * nothing) when the native path is off, missing or not worth it for these sizes.
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
        int lda = transA ? m : k, ldb = transB ? k : n;
        for (int i = 0; i < batch; i++) {
            int aOff = (int) (i * aSize), bOff = (int) (i * bSize), cOff = (int) (i * cSize);
            OneDnnGemm.sgemm(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, n);
        }
        return true;
    }
}
