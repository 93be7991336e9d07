package io.jdl.backend.cuda;

import io.jdl.backend.Storage;
import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.LossKernels;
import io.jdl.cuda.NativeKernels;
import io.jdl.cuda.Stream;
import java.util.function.Function;

/**
 * The row-reduction family of {@link CudaBackend}: row softmax (one jdl kernel each way, on any float dtype per
 * operand) and softmax cross-entropy (one jdl kernel each way, {@link LossKernels}, float32). Owned by one backend
 * and used from one thread at a time.
 */
final class CudaSoftmax {
    private final Stream stream;
    /** The backend's storage-to-memory lookup, which checks the storage's device. */
    private final Function<Storage, DeviceMemory> memory;
    /**
     * The cross-entropy forward's partial sums and last-block ticket (4 KiB), kept for the backend's life (the
     * backend lives as long as the process). Allocated here rather than by the first loss, which may run inside
     * a CUDA-graph capture, whose private pool is freed with the graph.
     */
    private final LossKernels.Workspace lossWorkspace;

    CudaSoftmax(Stream stream, Function<Storage, DeviceMemory> memory, CachingAllocator allocator) {
        this.stream = stream;
        this.memory = memory;
        this.lossWorkspace = LossKernels.Workspace.allocate(allocator, stream);
    }

    /** Row softmax (log-softmax), one jdl kernel for any float dtype of x and y (each its own). */
    void softmax(boolean log, Storage x, Storage y, int rows, int cols) {
        NativeKernels.get().pointwise().softmax(stream, log, memory.apply(x), CudaElementwise.type("softmax", x),
                memory.apply(y), CudaElementwise.type("softmax", y), rows, cols);
    }

    void softmaxBackward(boolean log, Storage y, Storage dy, Storage dx, int rows, int cols) {
        String primitive = "softmaxBackward";
        NativeKernels.get().pointwise().softmaxBackward(stream, log, memory.apply(y), CudaElementwise.type(primitive, y),
                memory.apply(dy), CudaElementwise.type(primitive, dy), memory.apply(dx),
                CudaElementwise.type(primitive, dx), rows, cols);
    }

    /**
     * One kernel: loss[0] = scale·Σ (logSumExp[r] - logits[r][targets[r]]) over the rows not ignored, each
     * row's log-sum-exp saved in logSumExp for the backward.
     */
    void crossEntropy(DeviceMemory logits, DeviceMemory targets, DeviceMemory logSumExp, DeviceMemory loss, int rows,
                      int classes, int ignoreIndex, float scale) {
        NativeKernels.get().losses().crossEntropy(stream, lossWorkspace, logits, targets, logSumExp, loss, rows,
                classes, ignoreIndex, scale);
    }

    /** One kernel: dLogits = gradOut[0]·scale·(exp(logits - logSumExp) - onehot(target)), ignored rows 0. */
    void crossEntropyBackward(DeviceMemory logits, DeviceMemory targets, DeviceMemory logSumExp, DeviceMemory gradOut,
                              DeviceMemory dLogits, int rows, int classes, int ignoreIndex, float scale) {
        NativeKernels.get().losses().crossEntropyBackward(stream, logits, targets, logSumExp, gradOut, dLogits, rows,
                classes, ignoreIndex, scale);
    }
}
