package io.jdl.backend.cuda;

import io.jdl.backend.MatrixBatch;
import io.jdl.cublas.Cublas;
import io.jdl.cuda.DeviceMemory;
import io.jdl.device.DType;

/**
 * The CUDA backend's matrix products on cuBLAS: packed batches (one {@code cublasSgemmStridedBatched}) and
 * two-level strided batches ({@link MatrixBatch}). {@code cublasSgemmStridedBatched} takes one batch stride
 * per operand, so a two-level batch takes one call per matrix of the level that is not batched. The batched
 * level is the larger one whose C matrices are disjoint address ranges (a batch's outputs must not overlap),
 * else every product is its own call. For attention over [B, T, H, D] the heads' outputs interleave within a
 * row, so the B sequences are batched and the H heads looped over (H calls per product, where the packed
 * [B, H, T, D] layout took one; the copies it needed cost more).
 *
 * <p>Dtypes: float32 operands take {@code cublasSgemm*} (TF32 as the handle's math mode says); bfloat16 / float16
 * A and B take {@code cublasGemmEx} / {@code cublasGemmStridedBatchedEx} with {@code CUBLAS_COMPUTE_32F} (tensor
 * cores, float32 accumulation), C of their dtype (rounded once) or float32: {@link Types}.
 */
final class CublasMatmul {
    private CublasMatmul() {
    }

    /**
     * The cuBLAS types of a product's operands: A and B of one float dtype, C of that dtype or float32 (the
     * combinations {@code cublasGemmEx} takes with float32 compute), else {@link IllegalStateException} (the
     * tensor layer converts first).
     */
    record Types(Cublas.DataType input, Cublas.DataType output) {
        static Types of(DType a, DType b, DType c) {
            if (a != b || !a.isFloatingPoint() || c != a && c != DType.FLOAT32) {
                throw new IllegalStateException("a CUDA matrix product takes A and B of one float dtype and C of that"
                        + " dtype or FLOAT32, got A " + a + ", B " + b + ", C " + c + " (the tensor layer must convert)");
            }
            return new Types(type(a), type(c));
        }

        private static Cublas.DataType type(DType d) {
            return switch (d) {
                case BFLOAT16 -> Cublas.DataType.BF16;
                case FLOAT16 -> Cublas.DataType.F16;
                default -> Cublas.DataType.F32;
            };
        }

        boolean float32() {
            return input == Cublas.DataType.F32;
        }
    }

    /** {@code batch} packed products (see {@code Backend.matmul}); k = 0 gives zeros. */
    static void packed(Cublas cublas, CudaElementwise elementwise, Types types, boolean transA, boolean transB, int batch,
                       int m, int n, int k, DeviceMemory a, DeviceMemory b, DeviceMemory c) {
        if ((long) batch * m * n == 0) {
            return;
        }
        if (k == 0) {
            if (types.output() == Cublas.DataType.F32) {
                elementwise.fill(c, (long) batch * m * n, 0f);
            } else {
                elementwise.zeroBytes(c, (long) batch * m * n * types.output().bytes());
            }
            return;
        }
        gemm(cublas, types, transA, transB, m, n, k, a, 0, transA ? m : k, (long) m * k, b, 0, transB ? k : n,
                (long) k * n, c, 0, n, (long) m * n, batch);
    }

    /** One (strided-batched) product call in the operands' types. */
    private static void gemm(Cublas cublas, Types types, boolean transA, boolean transB, int m, int n, int k,
                             DeviceMemory a, long offsetA, int lda, long strideA, DeviceMemory b, long offsetB, int ldb,
                             long strideB, DeviceMemory c, long offsetC, int ldc, long strideC, int batch) {
        if (types.float32()) {
            cublas.gemmStridedBatched(transA, transB, m, n, k, 1f, a, offsetA, lda, strideA, b, offsetB, ldb, strideB, 0f,
                    c, offsetC, ldc, strideC, batch);
        } else {
            cublas.gemmEx(transA, transB, m, n, k, 1f, types.input(), a, offsetA, lda, strideA, b, offsetB, ldb, strideB,
                    0f, types.output(), c, offsetC, ldc, strideC, batch);
        }
    }

    /** The two-level strided products; {@code ma}, {@code mb}, {@code mc} are the blocks of a's, b's, c's storage. */
    static void strided(Cublas cublas, Types types, boolean transA, boolean transB, int outer, int inner, int m, int n, int k,
                        MatrixBatch a, DeviceMemory ma, MatrixBatch b, DeviceMemory mb, MatrixBatch c,
                        DeviceMemory mc) {
        if ((long) outer * inner * m * n == 0) {
            return;
        }
        if (k < 1) {
            throw new IllegalArgumentException("strided matmul needs an inner dimension k >= 1, got " + k);
        }
        long span = (long) (m - 1) * c.rowStride() + n;
        boolean outerOk = outer == 1 || c.outerStride() >= span, innerOk = inner == 1 || c.innerStride() >= span;
        boolean batchOuter = outerOk && (!innerOk || outer >= inner);
        int batch = batchOuter ? outer : innerOk ? inner : 1, calls = outer * inner / batch;
        for (int j = 0; j < calls; j++) {
            // call j covers matrix j of the looped level (or product j of all when nothing is batched)
            int o = batchOuter ? 0 : innerOk ? j : j / inner, i = batchOuter ? j : innerOk ? 0 : j % inner;
            gemm(cublas, types, transA, transB, m, n, k,
                    ma, at(a, o, i), a.rowStride(), stride(a, batchOuter),
                    mb, at(b, o, i), b.rowStride(), stride(b, batchOuter),
                    mc, at(c, o, i), c.rowStride(), stride(c, batchOuter), batch);
        }
    }

    private static long at(MatrixBatch x, int o, int i) {
        return x.offset() + o * x.outerStride() + i * x.innerStride();
    }

    private static long stride(MatrixBatch x, boolean outer) {
        return outer ? x.outerStride() : x.innerStride();
    }
}
