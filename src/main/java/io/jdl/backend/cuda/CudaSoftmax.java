package io.jdl.backend.cuda;

import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.LossKernels;
import io.jdl.cuda.NativeKernels;
import io.jdl.cuda.Stream;
import io.jdl.cudnn.Cudnn;

/**
 * The row-reduction family of {@link CudaBackend}: row softmax (cuDNN) and softmax cross-entropy (one jdl
 * kernel each way, {@link LossKernels}), on device memory. Owned by one backend and used from one thread at a time.
 */
final class CudaSoftmax {
    private final Stream stream;
    private final Cudnn cudnn;
    private final DescriptorCache descriptors;
    /**
     * The cross-entropy forward's partial sums and last-block ticket (4 KiB), kept for the backend's life (the
     * backend lives as long as the process). Allocated here rather than by the first loss, which may run inside
     * a CUDA-graph capture, whose private pool is freed with the graph.
     */
    private final LossKernels.Workspace lossWorkspace;

    CudaSoftmax(Stream stream, Cudnn cudnn, DescriptorCache descriptors, CachingAllocator allocator) {
        this.stream = stream;
        this.cudnn = cudnn;
        this.descriptors = descriptors;
        this.lossWorkspace = LossKernels.Workspace.allocate(allocator, stream);
    }

    void softmax(boolean log, DeviceMemory x, DeviceMemory y, int rows, int cols) {
        if ((long) rows * cols == 0) {
            return;
        }
        cudnn.softmaxForward(log, descriptors.tensor(rows, cols, 1, 1), x, y);
    }

    void softmaxBackward(boolean log, DeviceMemory y, DeviceMemory dy, DeviceMemory dx, int rows, int cols) {
        if ((long) rows * cols == 0) {
            return;
        }
        cudnn.softmaxBackward(log, descriptors.tensor(rows, cols, 1, 1), y, dy, dx);
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
