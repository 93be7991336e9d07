package io.jdl.backend.cuda;

import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.HostToDeviceStaging;
import io.jdl.cuda.NativeKernels;
import io.jdl.cuda.Stream;

/**
 * The transformer family of {@link CudaBackend}, all jdl kernels: embedding, layer norm and the masked
 * attention softmax, forward and backward (the matrix products go through matmul). Owned by one backend
 * and used from one thread at a time.
 */
final class CudaTransformerOps {
    private final Stream stream;
    private final CachingAllocator allocator;
    private final HostToDeviceStaging staging;
    private final CudaElementwise elementwise;

    CudaTransformerOps(Stream stream, CachingAllocator allocator, HostToDeviceStaging staging,
                       CudaElementwise elementwise) {
        this.stream = stream;
        this.allocator = allocator;
        this.staging = staging;
        this.elementwise = elementwise;
    }

    /** The ids as int32 on the device: one host-to-device copy (the tensor layer validated them). */
    void embedding(DeviceMemory weight, int[] ids, DeviceMemory out, int dim) {
        if ((long) ids.length * dim == 0) {
            return;
        }
        try (DeviceMemory d = DeviceInts.upload(allocator, staging, ids)) {
            NativeKernels.get().embeddingForward(stream, weight, d, out, ids.length, dim);
        }
    }

    void embeddingBackward(DeviceMemory dOut, int[] ids, DeviceMemory dWeight, int vocab, int dim) {
        elementwise.fill(dWeight, (long) vocab * dim, 0f);
        if ((long) ids.length * dim == 0) {
            return;
        }
        try (DeviceMemory d = DeviceInts.upload(allocator, staging, ids)) {
            NativeKernels.get().embeddingBackward(stream, dOut, d, dWeight, ids.length, dim);
        }
    }

    void layerNorm(DeviceMemory x, DeviceMemory gamma, DeviceMemory beta, DeviceMemory y, DeviceMemory mean,
                   DeviceMemory rstd, int rows, int cols, float eps) {
        if ((long) rows * cols == 0) {
            return;
        }
        NativeKernels.get().layerNorm(stream, x, gamma, beta, y, mean, rstd, rows, cols, eps);
    }

    void layerNormBackward(DeviceMemory x, DeviceMemory gamma, DeviceMemory mean, DeviceMemory rstd, DeviceMemory dy,
                           DeviceMemory dx, DeviceMemory dGamma, DeviceMemory dBeta, int rows, int cols) {
        if ((long) rows * cols == 0) {
            return;
        }
        // The column sums (dGamma, dBeta) parallel over row chunks too, through a workspace of partial sums.
        int chunks = NativeKernels.layerNormBackwardChunks(rows, cols);
        boolean sums = dGamma != null || dBeta != null;
        try (DeviceMemory partials = chunks > 1 && sums ? allocator.allocate(2L * chunks * cols * Float.BYTES) : null) {
            NativeKernels.get().layerNormBackward(stream, x, gamma, mean, rstd, dy, dx, dGamma, dBeta, rows, cols, partials);
        }
    }

    void attentionSoftmax(DeviceMemory scores, DeviceMemory keyMask, DeviceMemory probs, int batch, int heads, int tq,
                          int tk, float scale, boolean causal) {
        if ((long) batch * heads * tq * tk == 0) {
            return;
        }
        NativeKernels.get().attentionSoftmax(stream, scores, keyMask, probs, batch, heads, tq, tk, scale, causal);
    }

    void attentionSoftmaxBackward(DeviceMemory p, DeviceMemory dp, DeviceMemory dScores, int rows, int cols,
                                  float scale) {
        if ((long) rows * cols == 0) {
            return;
        }
        NativeKernels.get().attentionSoftmaxBackward(stream, p, dp, dScores, rows, cols, scale);
    }
}
