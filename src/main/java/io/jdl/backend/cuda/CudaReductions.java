package io.jdl.backend.cuda;

import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.HostToDeviceStaging;
import io.jdl.cuda.NativeKernels;
import io.jdl.cuda.Stream;
import io.jdl.cudnn.Cudnn;
import io.jdl.cudnn.ReduceDescriptor;
import io.jdl.cudnn.TensorDescriptor;

/**
 * The reduction family of {@link CudaBackend}: sums over an axis, row softmax and softmax cross-entropy
 * (forward and backward), on device memory. Owned by one backend and used from one thread at a time.
 */
final class CudaReductions {
    private final Stream stream;
    private final Cudnn cudnn;
    private final CachingAllocator allocator;
    private final HostToDeviceStaging staging;
    private final CudnnLayers layers;
    private final ReduceDescriptor sumDescriptor = new ReduceDescriptor(ReduceDescriptor.Op.SUM);

    CudaReductions(Stream stream, Cudnn cudnn, CachingAllocator allocator, HostToDeviceStaging staging,
                   CudnnLayers layers) {
        this.stream = stream;
        this.cudnn = cudnn;
        this.allocator = allocator;
        this.staging = staging;
        this.layers = layers;
    }

    /** For x viewed as [outer, dim, inner]: out[o][i] = Σ_d x[o][d][i]. */
    void sum(DeviceMemory x, DeviceMemory out, int outer, int dim, int inner) {
        long results = (long) outer * inner;
        if (results == 0) {
            return;
        }
        if (dim <= 1) {
            // Nothing to reduce: cudnnReduceTensor rejects (or mishandles) equal input and output shapes.
            if (dim == 0) {
                layers.fill(out, results, 0f);
            } else {
                stream.copyOnDevice(x, 0, out, 0, results * Float.BYTES);
            }
            return;
        }
        try (TensorDescriptor in = TensorDescriptor.of(outer, dim, inner);
             TensorDescriptor result = TensorDescriptor.of(outer, 1, inner)) {
            try (DeviceMemory workspace = layers.workspace(cudnn.reductionWorkspaceBytes(sumDescriptor, in, result))) {
                cudnn.reduce(sumDescriptor, workspace, 1f, in, x, 0f, result, out);
            }
        }
    }

    void softmax(boolean log, DeviceMemory x, DeviceMemory y, int rows, int cols) {
        if ((long) rows * cols == 0) {
            return;
        }
        try (TensorDescriptor d = TensorDescriptor.of(rows, cols, 1, 1)) {
            cudnn.softmaxForward(log, d, x, y);
        }
    }

    void softmaxBackward(boolean log, DeviceMemory y, DeviceMemory dy, DeviceMemory dx, int rows, int cols) {
        if ((long) rows * cols == 0) {
            return;
        }
        try (TensorDescriptor d = TensorDescriptor.of(rows, cols, 1, 1)) {
            cudnn.softmaxBackward(log, d, y, dy, dx);
        }
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
