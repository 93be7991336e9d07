package io.jdl.cpunative;

import io.jdl.bindings.openblas.cblas_h;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * OpenBLAS's {@code cblas_sgemm} on Java {@code float[]} arrays, without copies: linked with
 * {@link Linker.Option#critical(boolean) critical(true)} as {@link OneDnnGemm} is, for the same reasons.
 * Threads: OpenBLAS's own pool ({@code OPENBLAS_NUM_THREADS}, default: every core).
 */
public final class OpenBlasGemm {
    private static final MethodHandle SGEMM;

    static {
        CpuNativeLibraries.load(CpuNativeLibraries.Library.OPENBLAS);
        SGEMM = Linker.nativeLinker().downcallHandle(cblas_h.cblas_sgemm$address(), cblas_h.cblas_sgemm$descriptor(),
                Linker.Option.critical(true));
    }

    private OpenBlasGemm() {
    }

    /** Loads OpenBLAS (if not yet); throws {@link CpuNativeLibraryException} when it cannot. */
    public static void ensureLoaded() {
        // The static initialiser did the work.
    }

    /** As {@link OneDnnGemm#sgemm}: row-major, C overwritten, bounds checked by the caller. */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float[] a, int aOff, int lda,
                             float[] b, int bOff, int ldb, float[] c, int cOff, int ldc) {
        try {
            SGEMM.invokeExact(cblas_h.CblasRowMajor(), transA ? cblas_h.CblasTrans() : cblas_h.CblasNoTrans(),
                    transB ? cblas_h.CblasTrans() : cblas_h.CblasNoTrans(), m, n, k, 1f,
                    MemorySegment.ofArray(a).asSlice((long) aOff * Float.BYTES), lda,
                    MemorySegment.ofArray(b).asSlice((long) bOff * Float.BYTES), ldb, 0f,
                    MemorySegment.ofArray(c).asSlice((long) cOff * Float.BYTES), ldc);
        } catch (Throwable t) {
            throw new IllegalStateException("cblas_sgemm failed to run", t);
        }
    }
}
