package io.jdl.backend.cuda;

import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.Stream;
import io.jdl.cudnn.Cudnn;
import io.jdl.cudnn.TensorDescriptor;
import java.util.Arrays;

/**
 * The data-movement family of {@link CudaBackend}: copies, axis permutations and slice copies (concat,
 * split), on device memory. Owned by one backend and used from one thread at a time.
 */
final class CudaDataMovement {
    private final Stream stream;
    private final Cudnn cudnn;
    private final DescriptorCache descriptors;

    CudaDataMovement(Stream stream, Cudnn cudnn, DescriptorCache descriptors) {
        this.stream = stream;
        this.cudnn = cudnn;
        this.descriptors = descriptors;
    }

    void copy(DeviceMemory src, DeviceMemory dst, long n) {
        if (n > 0) {
            stream.copyOnDevice(src, 0, dst, 0, n * Float.BYTES);
        }
    }

    void permute(DeviceMemory x, DeviceMemory out, long outNumel, int[] dims, int[] perm) {
        if (outNumel == 0 || Arrays.stream(dims).anyMatch(d -> d == 0)) {
            return;
        }
        int rank = dims.length;
        int[] xStride = new int[rank], outDims = new int[rank], viewStride = new int[rank];
        for (int i = rank - 1, st = 1; i >= 0; i--) {
            xStride[i] = st;
            st *= dims[i];
        }
        for (int i = 0; i < rank; i++) {
            outDims[i] = dims[perm[i]];
            viewStride[i] = xStride[perm[i]];
        }
        // x seen through permuted strides is the output's logical layout; transform packs it.
        cudnn.transformTensor(1f, descriptors.strided(outDims, viewStride), x, 0, 0f, descriptors.tensor(outDims), out, 0);
    }

    void copySlice(DeviceMemory block, DeviceMemory whole, int outer, int size, int inner, int total, int offset,
                   boolean intoSlice) {
        if ((long) outer * size * inner == 0) {
            return;
        }
        TensorDescriptor packed = descriptors.tensor(outer, size, inner);
        TensorDescriptor slice = descriptors.strided(new int[] {outer, size, inner}, new int[] {total * inner, inner, 1});
        long sliceOffset = (long) offset * inner * Float.BYTES;
        if (intoSlice) {
            cudnn.transformTensor(1f, packed, block, 0, 0f, slice, whole, sliceOffset);
        } else {
            cudnn.transformTensor(1f, slice, whole, sliceOffset, 0f, packed, block, 0);
        }
    }
}
