package io.jdl.backend.cuda;

import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.NativeKernels;
import io.jdl.cuda.Stream;
import io.jdl.cudnn.Cudnn;

/**
 * The row-reduction family of {@link CudaBackend}: row softmax (cuDNN) and softmax cross-entropy (one jdl
 * kernel each way), on device memory. Owned by one backend and used from one thread at a time.
 */
final class CudaSoftmax {
    private final Stream stream;
    private final Cudnn cudnn;
    private final DescriptorCache descriptors;

    CudaSoftmax(Stream stream, Cudnn cudnn, DescriptorCache descriptors) {
        this.stream = stream;
        this.cudnn = cudnn;
        this.descriptors = descriptors;
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

    /** One kernel: lossPerRow[r] = logsumexp(logits[r]) - logits[r][targets[r]] (0 for ignored rows). */
    void crossEntropy(DeviceMemory logits, DeviceMemory targets, DeviceMemory lossPerRow, int rows, int classes,
                      int ignoreIndex) {
        if (rows == 0) {
            return;
        }
        NativeKernels.get().softmaxCrossEntropy(stream, logits, targets, lossPerRow, rows, classes,
                ignoreIndex);
    }

    /** One kernel: dLogits = scale·(softmax(logits) - onehot(target)), ignored rows 0. */
    void crossEntropyBackward(DeviceMemory logits, DeviceMemory targets, DeviceMemory dLogits, int rows, int classes,
                              int ignoreIndex, float scale) {
        if (rows == 0) {
            return;
        }
        NativeKernels.get().softmaxCrossEntropyBackward(stream, logits, targets, dLogits, rows, classes,
                ignoreIndex, scale);
    }
}
