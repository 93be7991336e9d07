package io.jdl.cublas;

import static io.jdl.bindings.cublas.cublas_v2_h.*;

import io.jdl.bindings.cudart.cuda_runtime_api_h;
import io.jdl.cuda.Cuda;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.LibraryLoad;
import io.jdl.cuda.NativeLibraries;
import io.jdl.cuda.NativeLibraryException;
import io.jdl.cuda.NativeResource;
import io.jdl.cuda.Stream;
import io.jdl.cuda.VersionCheck;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Optional;

/**
 * A cuBLAS handle bound to one {@link Stream}, with float32 matrix products in <b>row-major</b> terms.
 *
 * <p>cuBLAS is column-major; a row-major matrix is its transpose seen column-major, so the row-major
 * product C = op(A)·op(B) is computed as the column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: operands swapped,
 * transpose flags kept. That translation lives only in {@code prepare}, which the float32 products and
 * {@link #gemmEx} share.
 *
 * <p>Like cuBLAS handles, an instance is not thread-safe: use it from one thread at a time.
 * Every operand is checked against the size of its {@link DeviceMemory} before the call, so a wrong
 * dimension is an exception, never an out-of-bounds write on the device.
 */
public final class Cublas extends NativeResource {
    private final MemorySegment handle;
    private final Stream stream;
    private final Arena scalars = Arena.ofShared();
    /** alpha and beta, passed by host pointer (cuBLAS reads them before the call returns). */
    private final MemorySegment alphaBeta = scalars.allocate(ValueLayout.JAVA_FLOAT, 2);
    private boolean tf32;

    private Cublas(MemorySegment handle, Stream stream) {
        this.handle = handle;
        this.stream = stream;
    }

    /** A handle whose work is queued on {@code stream}; TF32 off (exact float32). */
    public static Cublas create(Stream stream) {
        ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            check(cublasCreate_v2(out), "cublasCreate");
            Cublas cublas = new Cublas(out.get(ValueLayout.ADDRESS, 0), stream);
            check(cublasSetStream_v2(cublas.handle, stream.handle()), "cublasSetStream");
            cublas.setTf32(false);
            return cublas;
        }
    }

    /** cuBLAS(Lt), loaded on first use after the CUDA runtime, as major * 10000 + minor * 100 + patch. */
    private static final LibraryLoad LIBRARY = new LibraryLoad("cuBLAS", Cublas::loadAndCheck);

    private static long loadAndCheck() {
        Cuda.ensureLoaded();
        NativeLibraries.load(NativeLibraries.Library.CUBLAS);
        // libraryPropertyType comes from CUDA's library_types.h, bound with the runtime.
        int major = property(cuda_runtime_api_h.MAJOR_VERSION());
        int minor = property(cuda_runtime_api_h.MINOR_VERSION());
        int patch = property(cuda_runtime_api_h.PATCH_LEVEL());
        VersionCheck.verify("cuBLAS", major, minor, patch, CUBLAS_VER_MAJOR(), CUBLAS_VER_MINOR(), CUBLAS_VER_PATCH());
        return major * 10000 + minor * 100 + patch;
    }

    private static int property(int which) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            check(cublasGetProperty(which, out), "cublasGetProperty");
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /**
     * Loads cuBLAS (after the CUDA runtime) and checks its version; cheap after the first call.
     *
     * @throws NativeLibraryException with the places searched, when cuBLAS or the runtime is missing or unusable
     */
    public static void ensureLoaded() {
        LIBRARY.version();
    }

    /** The loaded cuBLAS version as major * 10000 + minor * 100 + patch (130101 is 13.1.1); loads it if needed. */
    public static int version() {
        return (int) LIBRARY.version();
    }

    /** Why cuBLAS cannot be used, or empty when it is loaded; never throws. */
    public static Optional<String> loadFailure() {
        return LIBRARY.failure();
    }

    static void check(int status, String call) {
        io.jdl.cuda.NativeCounters.countCall();
        if (status != CUBLAS_STATUS_SUCCESS()) {
            throw new CublasException(call, status, Cuda.cString(cublasGetStatusName(status)),
                    Cuda.cString(cublasGetStatusString(status)));
        }
    }

    public Stream stream() {
        return stream;
    }

    /** TF32 tensor-core math for float32 products: faster, about 10 mantissa bits. Off by default. */
    public void setTf32(boolean enabled) {
        check(cublasSetMathMode(handle(), enabled ? CUBLAS_TF32_TENSOR_OP_MATH() : CUBLAS_DEFAULT_MATH()), "cublasSetMathMode");
        tf32 = enabled;
    }

    /** The TF32 setting this object last applied (no native call). */
    public boolean tf32() {
        return tf32;
    }

    /** Applies {@code enabled} only when it differs from the handle's current mode: one native call per change. */
    public void useTf32(boolean enabled) {
        if (enabled != tf32) {
            setTf32(enabled);
        }
    }

    /** The handle's math mode as cuBLAS reports it ({@code cublasGetMathMode}), e.g. CUBLAS_DEFAULT_MATH (0). */
    public int mathMode() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            check(cublasGetMathMode(handle(), out), "cublasGetMathMode");
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /**
     * Row-major C[m×n] = alpha·op(A)·op(B) + beta·C, where op(A) is m×k and op(B) is k×n.
     * A is stored m×k (k×m when {@code transA}); B is stored k×n (n×k when {@code transB}).
     */
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, DeviceMemory a,
                     DeviceMemory b, float beta, DeviceMemory c) {
        gemmStridedBatched(transA, transB, m, n, k, alpha, a, 0, b, 0, beta, c, 0, 1);
    }

    /**
     * {@code batch} row-major products C_i = alpha·op(A_i)·op(B_i) + beta·C_i, matrix i of each operand
     * starting {@code i * stride} floats after the first (a stride of 0 shares one matrix).
     */
    public void gemmStridedBatched(boolean transA, boolean transB, int m, int n, int k, float alpha,
                                   DeviceMemory a, long strideA, DeviceMemory b, long strideB, float beta,
                                   DeviceMemory c, long strideC, int batch) {
        gemmStridedBatched(transA, transB, m, n, k, alpha, a, 0, transA ? m : k, strideA, b, 0, transB ? k : n,
                strideB, beta, c, 0, n, strideC, batch);
    }

    /**
     * As {@link #gemmStridedBatched(boolean, boolean, int, int, int, float, DeviceMemory, long, DeviceMemory, long,
     * float, DeviceMemory, long, int)} with matrices inside larger blocks: matrix i of X starts
     * {@code offsetX + i·strideX} floats into its block and its rows are {@code ldX} floats apart (row-major
     * leading dimensions, at least the stored row length). The batch's C matrices must not overlap.
     */
    public void gemmStridedBatched(boolean transA, boolean transB, int m, int n, int k, float alpha,
                                   DeviceMemory a, long offsetA, int lda, long strideA,
                                   DeviceMemory b, long offsetB, int ldb, long strideB, float beta,
                                   DeviceMemory c, long offsetC, int ldc, long strideC, int batch) {
        ColumnMajor g = prepare(transA, transB, m, n, k, alpha, beta, a, offsetA, lda, strideA, b, offsetB, ldb, strideB,
                c, offsetC, ldc, strideC, batch, Float.BYTES, Float.BYTES);
        MemorySegment betaPtr = alphaBeta.asSlice(Float.BYTES);
        if (batch == 1) {
            check(cublasSgemm_v2(handle(), g.opB, g.opA, n, m, k, alphaBeta, g.b, g.ldb, g.a, g.lda, betaPtr, g.c, g.ldc),
                    "cublasSgemm");
        } else {
            check(cublasSgemmStridedBatched(handle(), g.opB, g.opA, n, m, k, alphaBeta, g.b, g.ldb, strideB, g.a, g.lda,
                    strideA, betaPtr, g.c, g.ldc, strideC, batch), "cublasSgemmStridedBatched");
        }
    }

    /** Element types of {@link #gemmEx} operands, as cuBLAS's {@code cudaDataType}. */
    public enum DataType {
        F32(Float.BYTES), F16(2), BF16(2);

        private final int bytes;

        DataType(int bytes) {
            this.bytes = bytes;
        }

        /** Bytes per element. */
        public int bytes() {
            return bytes;
        }

        int cuda() {
            return switch (this) {
                case F32 -> cuda_runtime_api_h.CUDA_R_32F();
                case F16 -> cuda_runtime_api_h.CUDA_R_16F();
                case BF16 -> cuda_runtime_api_h.CUDA_R_16BF();
            };
        }
    }

    /**
     * Mixed-precision row-major products with float32 accumulation ({@code cublasGemmEx}, or
     * {@code cublasGemmStridedBatchedEx} when {@code batch > 1}, with {@code CUBLAS_COMPUTE_32F}):
     * C_i = alpha·op(A_i)·op(B_i) + beta·C_i, A and B of type {@code input}, C of type {@code output}, operands laid
     * out as in {@link #gemmStridedBatched} with strides in elements. The products and sums are float32; a half
     * {@code output} is rounded once, to nearest even, at the end. The combinations are those cuBLAS supports for
     * {@code CUBLAS_COMPUTE_32F}: A and B both {@code BF16} or both {@code F16}, with C of that type or {@code F32};
     * or all {@code F32} (then TF32 applies when {@link #setTf32} is on). Half buffers hold the 16-bit patterns.
     *
     * @throws IllegalArgumentException for another combination, a negative size or stride, or an operand whose device
     *                                  block is too small for its elements in its type, before anything is queued
     */
    public void gemmEx(boolean transA, boolean transB, int m, int n, int k, float alpha, DataType input, DeviceMemory a,
                       long strideA, DeviceMemory b, long strideB, float beta, DataType output, DeviceMemory c,
                       long strideC, int batch) {
        gemmEx(transA, transB, m, n, k, alpha, input, a, 0, transA ? m : k, strideA, b, 0, transB ? k : n, strideB, beta,
                output, c, 0, n, strideC, batch);
    }

    /**
     * As {@link #gemmEx(boolean, boolean, int, int, int, float, DataType, DeviceMemory, long, DeviceMemory, long,
     * float, DataType, DeviceMemory, long, int)} with matrices inside larger blocks, as the float32
     * {@link #gemmStridedBatched(boolean, boolean, int, int, int, float, DeviceMemory, long, int, long, DeviceMemory,
     * long, int, long, float, DeviceMemory, long, int, long, int)}: offsets, leading dimensions and strides in
     * elements of the operand's type (cuBLAS's {@code lda}/{@code strideA} count elements, not bytes).
     */
    public void gemmEx(boolean transA, boolean transB, int m, int n, int k, float alpha, DataType input,
                       DeviceMemory a, long offsetA, int lda, long strideA,
                       DeviceMemory b, long offsetB, int ldb, long strideB, float beta, DataType output,
                       DeviceMemory c, long offsetC, int ldc, long strideC, int batch) {
        if (input == null || output == null) {
            throw new IllegalArgumentException("gemmEx: input and output types must not be null");
        }
        if (output != input && output != DataType.F32) {
            throw new IllegalArgumentException("gemmEx: A and B of " + input + " with C of " + output + " is not a"
                    + " combination cuBLAS supports with CUBLAS_COMPUTE_32F; C must be " + input + " or F32");
        }
        ColumnMajor g = prepare(transA, transB, m, n, k, alpha, beta, a, offsetA, lda, strideA, b, offsetB, ldb, strideB,
                c, offsetC, ldc, strideC, batch, input.bytes, output.bytes);
        MemorySegment betaPtr = alphaBeta.asSlice(Float.BYTES);
        if (batch == 1) {
            check(cublasGemmEx(handle(), g.opB, g.opA, n, m, k, alphaBeta, g.b, input.cuda(), g.ldb, g.a, input.cuda(),
                    g.lda, betaPtr, g.c, output.cuda(), g.ldc, CUBLAS_COMPUTE_32F(), CUBLAS_GEMM_DEFAULT()),
                    "cublasGemmEx");
        } else {
            check(cublasGemmStridedBatchedEx(handle(), g.opB, g.opA, n, m, k, alphaBeta, g.b, input.cuda(), g.ldb,
                    strideB, g.a, input.cuda(), g.lda, strideA, betaPtr, g.c, output.cuda(), g.ldc, strideC, batch,
                    CUBLAS_COMPUTE_32F(), CUBLAS_GEMM_DEFAULT()), "cublasGemmStridedBatchedEx");
        }
    }

    /**
     * cuBLAS's view of a row-major product: the operations, leading dimensions and first-matrix pointers of the
     * swapped, column-major call Cᵀ (n×m) = op(B)ᵀ·op(A)ᵀ.
     */
    private record ColumnMajor(int opA, int opB, int lda, int ldb, int ldc, MemorySegment a, MemorySegment b,
                               MemorySegment c) {
    }

    /**
     * Checks the sizes and each operand (its matrices, of elements of the given size, inside its block), stores alpha
     * and beta for the call, and returns the column-major call's parameters.
     */
    private ColumnMajor prepare(boolean transA, boolean transB, int m, int n, int k, float alpha, float beta,
                                DeviceMemory a, long offsetA, int lda, long strideA, DeviceMemory b, long offsetB,
                                int ldb, long strideB, DeviceMemory c, long offsetC, int ldc, long strideC, int batch,
                                int inputBytes, int outputBytes) {
        if (m < 0 || n < 0 || k < 0 || batch < 1) {
            throw new IllegalArgumentException("gemm sizes must be non-negative and batch >= 1: m=" + m + " n=" + n
                    + " k=" + k + " batch=" + batch);
        }
        lda = Math.max(1, lda);
        ldb = Math.max(1, ldb);
        ldc = Math.max(1, ldc);
        checkOperand("A", a, offsetA, transA ? k : m, transA ? m : k, lda, strideA, batch, inputBytes);
        checkOperand("B", b, offsetB, transB ? n : k, transB ? k : n, ldb, strideB, batch, inputBytes);
        checkOperand("C", c, offsetC, m, n, ldc, strideC, batch, outputBytes);
        alphaBeta.setAtIndex(ValueLayout.JAVA_FLOAT, 0, alpha);
        alphaBeta.setAtIndex(ValueLayout.JAVA_FLOAT, 1, beta);
        return new ColumnMajor(transA ? CUBLAS_OP_T() : CUBLAS_OP_N(), transB ? CUBLAS_OP_T() : CUBLAS_OP_N(), lda, ldb,
                ldc, a.pointer(offsetA * inputBytes), b.pointer(offsetB * inputBytes), c.pointer(offsetC * outputBytes));
    }

    /**
     * Throws unless {@code batch} rows × cols matrices (rows ld apart, stride apart, from offset; elements of
     * {@code elementBytes}) fit in m.
     */
    private static void checkOperand(String name, DeviceMemory m, long offset, int rows, int cols, int ld, long stride,
                                     int batch, int elementBytes) {
        if (m == null) {
            throw new IllegalArgumentException("gemm: operand " + name + " is null");
        }
        if (stride < 0 || offset < 0 || rows > 0 && ld < cols) {
            throw new IllegalArgumentException("gemm: operand " + name + " has offset " + offset + ", stride " + stride
                    + " and leading dimension " + ld + " for rows of " + cols + " (need offset, stride >= 0, ld >= row)");
        }
        long end = (long) rows * cols == 0 ? offset : offset + (batch - 1) * stride + (long) (rows - 1) * ld + cols;
        if (m.bytes() < end * elementBytes) {
            throw new IllegalArgumentException("gemm: operand " + name + " needs " + end * elementBytes
                    + " bytes but its device block has " + m.bytes());
        }
    }

    /** y = alpha·x + y over {@code n} floats. */
    public void axpy(long n, float alpha, DeviceMemory x, DeviceMemory y) {
        checkVector("x", x, n);
        checkVector("y", y, n);
        alphaBeta.setAtIndex(ValueLayout.JAVA_FLOAT, 0, alpha);
        check(cublasSaxpy_v2_64(handle(), n, alphaBeta, x.pointer(), 1, y.pointer(), 1), "cublasSaxpy");
    }

    /** x = alpha·x over {@code n} floats. */
    public void scal(long n, float alpha, DeviceMemory x) {
        checkVector("x", x, n);
        alphaBeta.setAtIndex(ValueLayout.JAVA_FLOAT, 0, alpha);
        check(cublasSscal_v2_64(handle(), n, alphaBeta, x.pointer(), 1), "cublasSscal");
    }

    /**
     * Row-major C[m×n] = alpha·op(A) + beta·op(B) (cublasSgeam): sums, scaled copies and transposes.
     * A is stored m×n (n×m when {@code transA}); likewise B.
     */
    public void geam(boolean transA, boolean transB, int m, int n, float alpha, DeviceMemory a, float beta,
                     DeviceMemory b, DeviceMemory c) {
        checkVector("A", a, (long) m * n);
        checkVector("B", b, (long) m * n);
        checkVector("C", c, (long) m * n);
        alphaBeta.setAtIndex(ValueLayout.JAVA_FLOAT, 0, alpha);
        alphaBeta.setAtIndex(ValueLayout.JAVA_FLOAT, 1, beta);
        // Column-major view: Cᵀ (n×m) = alpha·op(A)ᵀ + beta·op(B)ᵀ.
        check(cublasSgeam(handle(), transA ? CUBLAS_OP_T() : CUBLAS_OP_N(), transB ? CUBLAS_OP_T() : CUBLAS_OP_N(),
                n, m, alphaBeta, a.pointer(), Math.max(1, transA ? m : n), alphaBeta.asSlice(Float.BYTES), b.pointer(),
                Math.max(1, transB ? m : n), c.pointer(), Math.max(1, n)), "cublasSgeam");
    }

    private static void checkVector(String name, DeviceMemory m, long elements) {
        if (elements < 0 || m.bytes() < elements * Float.BYTES) {
            throw new IllegalArgumentException("cuBLAS operand " + name + " needs " + elements * Float.BYTES
                    + " bytes but its device block has " + m.bytes());
        }
    }

    MemorySegment handle() {
        checkOpen();
        return handle;
    }

    /**
     * Makes cuBLAS use {@code workspace} (device memory the caller keeps alive while this handle may use it)
     * instead of its own pool: calls captured into a CUDA graph then allocate nothing inside cuBLAS. NVIDIA
     * recommends 32 MiB on Hopper and newer, 4 MiB before ({@link #recommendedWorkspaceBytes}).
     */
    public void setWorkspace(DeviceMemory workspace) {
        checkOpen();
        check(cublasSetWorkspace_v2(handle, workspace.pointer(), workspace.bytes()), "cublasSetWorkspace");
    }

    /** cuBLAS's recommended user workspace for a GPU of compute capability {@code major}.x. */
    public static long recommendedWorkspaceBytes(int major) {
        return (major >= 9 ? 32L : 4L) << 20;
    }

    @Override
    protected void release() {
        try {
            check(cublasDestroy_v2(handle), "cublasDestroy");
        } finally {
            scalars.close();
        }
    }

    @Override
    protected String describe() {
        return "cuBLAS handle";
    }
}
