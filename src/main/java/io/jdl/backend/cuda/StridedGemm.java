package io.jdl.backend.cuda;

import io.jdl.backend.MatrixBatch;
import io.jdl.cublas.Cublas;
import io.jdl.cuda.DeviceMemory;

/**
 * The CUDA backend's two-level strided batched product (see {@link MatrixBatch}) on
 * {@code cublasSgemmStridedBatched}, which takes one batch stride per operand: one call per matrix of the
 * level that is not batched. The batched level is the larger one whose C matrices are disjoint address
 * ranges (a batch's outputs must not overlap), else every product is its own call. For attention over
 * [B, T, H, D] the heads' outputs interleave within a row, so the B sequences are batched and the H heads
 * looped over.
 */
final class StridedGemm {
    /** An operand's device block and where its matrices lie in it. */
    record Operand(DeviceMemory memory, MatrixBatch layout) {
        long at(int o, int i) {
            return layout.offset() + o * layout.outerStride() + i * layout.innerStride();
        }

        long stride(boolean outer) {
            return outer ? layout.outerStride() : layout.innerStride();
        }
    }

    private StridedGemm() {
    }

    static void run(Cublas cublas, boolean transA, boolean transB, int outer, int inner, int m, int n, int k,
                    Operand a, Operand b, Operand c) {
        if ((long) outer * inner * m * n == 0) {
            return;
        }
        if (k < 1) {
            throw new IllegalArgumentException("strided matmul needs an inner dimension k >= 1, got " + k);
        }
        long span = (long) (m - 1) * c.layout().rowStride() + n;
        boolean outerOk = outer == 1 || c.layout().outerStride() >= span;
        boolean innerOk = inner == 1 || c.layout().innerStride() >= span;
        boolean batchOuter = outerOk && (!innerOk || outer >= inner);
        int batch = batchOuter ? outer : innerOk ? inner : 1, calls = outer * inner / batch;
        for (int j = 0; j < calls; j++) {
            // call j covers matrix j of the looped level (or product j of all when nothing is batched)
            int o = batchOuter ? 0 : innerOk ? j : j / inner, i = batchOuter ? j : innerOk ? 0 : j % inner;
            cublas.gemmStridedBatched(transA, transB, m, n, k, 1f,
                    a.memory(), a.at(o, i), a.layout().rowStride(), a.stride(batchOuter),
                    b.memory(), b.at(o, i), b.layout().rowStride(), b.stride(batchOuter), 0f,
                    c.memory(), c.at(o, i), c.layout().rowStride(), c.stride(batchOuter), batch);
        }
    }
}
