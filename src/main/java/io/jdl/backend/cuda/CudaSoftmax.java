package io.jdl.backend.cuda;

import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.HostToDeviceStaging;
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
    private final CachingAllocator allocator;
    private final HostToDeviceStaging staging;
    private final DescriptorCache descriptors;

    CudaSoftmax(Stream stream, Cudnn cudnn, CachingAllocator allocator, HostToDeviceStaging staging,
                   DescriptorCache descriptors) {
        this.stream = stream;
        this.cudnn = cudnn;
        this.allocator = allocator;
        this.staging = staging;
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

    /**
     * The device copy of {@code targets}, uploaded only when a different array comes: the tensor layer
     * passes the same (private, never modified) array to forward and backward, so a training step
     * uploads its targets once. The last copy is kept until the next loss (one small block).
     */
    private DeviceMemory deviceTargets(int[] targets) {
        if (targets != lastTargets) {
            lastTargets = null;
            if (lastTargetsMemory != null) {
                lastTargetsMemory.close();
                lastTargetsMemory = null;
            }
            lastTargetsMemory = DeviceInts.upload(allocator, staging, targets);
            lastTargets = targets;
        }
        return lastTargetsMemory;
    }

    private int[] lastTargets;
    private DeviceMemory lastTargetsMemory;

    /** One kernel: lossPerRow[r] = logsumexp(logits[r]) - logits[r][targets[r]] (0 for ignored rows). */
    void crossEntropy(DeviceMemory logits, int[] targets, DeviceMemory lossPerRow, int rows, int classes,
                      int ignoreIndex) {
        if (rows == 0) {
            return;
        }
        NativeKernels.get().softmaxCrossEntropy(stream, logits, deviceTargets(targets), lossPerRow, rows, classes,
                ignoreIndex);
    }

    /** One kernel: dLogits = scale·(softmax(logits) - onehot(target)), ignored rows 0. */
    void crossEntropyBackward(DeviceMemory logits, int[] targets, DeviceMemory dLogits, int rows, int classes,
                              int ignoreIndex, float scale) {
        if (rows == 0) {
            return;
        }
        NativeKernels.get().softmaxCrossEntropyBackward(stream, logits, deviceTargets(targets), dLogits, rows, classes,
                ignoreIndex, scale);
    }
}
