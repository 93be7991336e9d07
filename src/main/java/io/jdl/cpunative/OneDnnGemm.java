package io.jdl.cpunative;

import io.jdl.bindings.dnnl.dnnl_h;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * oneDNN's row-major single-precision GEMM ({@code dnnl_sgemm}) on Java {@code float[]} arrays, without copies.
 *
 * <p>Why no copy: the handle is linked with {@link Linker.Option#critical(boolean) critical(true)}, which lets a
 * downcall take heap segments ({@link MemorySegment#ofArray(float[])}); the JVM keeps the arrays in place for the
 * duration of the call (no garbage collection can move them, so none can start until it returns). That is right
 * for a GEMM: it does not call back into Java, and it ends in milliseconds.
 *
 * <p>Profiling: with JFR recording under its default or profile settings (execution sampling), repeated sgemm
 * calls corrupt the C heap and abort the JVM (results/cpu/jfr-critical-sgemm-crash.txt). The critical linkage is
 * not the cause: the same loop through an ordinary downcall on off-heap copies aborts the same way, and without
 * JFR, or with {@code settings=none}, 20,000 products run clean. Profile with {@code -Djdl.cpu.native=off}, or
 * with {@code jdk.ExecutionSample#enabled=false}, until that is understood.
 *
 * <p>Threads: oneDNN in Debian's build runs on OpenMP; the number of threads is OpenMP's ({@code OMP_NUM_THREADS},
 * default: every core), fixed when the library is loaded.
 */
public final class OneDnnGemm {
    private static final MethodHandle SGEMM;

    static {
        CpuNativeLibraries.load(CpuNativeLibraries.Library.ONEDNN);
        SGEMM = Linker.nativeLinker().downcallHandle(dnnl_h.dnnl_sgemm$address(), dnnl_h.dnnl_sgemm$descriptor(),
                Linker.Option.critical(true));
    }

    private OneDnnGemm() {
    }

    /** Loads oneDNN (if not yet); throws {@link CpuNativeLibraryException} when it cannot. */
    public static void ensureLoaded() {
        // The static initialiser did the work.
    }

    /**
     * {@code C = op(A)·op(B)}, all row-major: A is m×k (k×m when transA) at {@code a[aOff..]} with row stride lda,
     * B is k×n (n×k when transB) with row stride ldb, C is m×n with row stride ldc and is overwritten. The caller
     * checks the bounds (this is a native call: an index past an array corrupts memory).
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float[] a, int aOff, int lda,
                             float[] b, int bOff, int ldb, float[] c, int cOff, int ldc) {
        sgemm(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, 0f, c, cOff, ldc);
    }

    /**
     * {@code C = op(A)·op(B) + beta·C}, as {@link #sgemm(boolean, boolean, int, int, int, float[], int, int, float[],
     * int, int, float[], int, int)} otherwise: beta 1 accumulates a product onto C (a sum over images, chunk by
     * chunk); with beta 0, C's old contents are never read (NaN in C stays out of the result).
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float[] a, int aOff, int lda,
                             float[] b, int bOff, int ldb, float beta, float[] c, int cOff, int ldc) {
        if (k == 0) { // an empty sum is 0, but dnnl_sgemm returns without writing C (measured: C kept its values)
            for (int i = 0; i < m; i++) {
                for (int j = cOff + i * ldc, end = j + n; j < end; j++) {
                    c[j] = beta == 0f ? 0f : beta * c[j];
                }
            }
            return;
        }
        int status;
        try {
            status = (int) SGEMM.invokeExact((byte) (transA ? 'T' : 'N'), (byte) (transB ? 'T' : 'N'), (long) m, (long) n,
                    (long) k, 1f, slice(a, aOff), (long) lda, slice(b, bOff), (long) ldb, beta, slice(c, cOff), (long) ldc);
        } catch (Throwable t) {
            throw new IllegalStateException("dnnl_sgemm failed to run", t);
        }
        OneDnn.check(status, "dnnl_sgemm");
    }

    private static MemorySegment slice(float[] array, int offset) {
        return MemorySegment.ofArray(array).asSlice((long) offset * Float.BYTES);
    }
}
