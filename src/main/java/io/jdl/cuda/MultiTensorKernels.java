package io.jdl.cuda;

import static io.jdl.cuda.NativeKernels.BLOCK;
import static io.jdl.cuda.NativeKernels.MAX_ELEMENTWISE_BLOCKS;
import static io.jdl.cuda.NativeKernels.checkStream;
import static io.jdl.cuda.NativeKernels.requireFloats;

import io.jdl.cuda.KernelLibrary.Kernel;
import java.util.Arrays;
import java.util.Objects;

/**
 * Multi-tensor optimizer steps, PyTorch's {@code foreach} implementation: one launch updates every tensor of
 * a parameter list with exactly the arithmetic of {@link NativeKernels#adamStep} / {@link NativeKernels#sgdStep}
 * (bit-identical results), instead of one launch per parameter.
 *
 * <p>The kernels read an int64 table in device memory: per tensor its buffers' addresses and element count,
 * then the chunks of {@value #CHUNK} elements the blocks share out (the layout is documented in
 * native/jdl_kernels.cu). A {@link Table} keeps the last uploaded table on the device and uploads again only
 * when its content changes (a parameter, gradient or state buffer moved, or the list changed). Parameters
 * and moments stay put; gradients freed by {@code zeroGrad()} usually come back in other blocks of the
 * caching allocator, so a training step typically costs one small asynchronous copy and one launch, instead
 * of one launch per parameter. The upload is queued on the launch's stream, so it never overtakes a kernel
 * still reading the previous table.
 *
 * <p>Checks as in {@link NativeKernels}: every buffer is checked against its count before anything is queued.
 */
public final class MultiTensorKernels {
    /** Elements per chunk (JDL_MT_CHUNK in the .cu). */
    static final int CHUNK = 16384;
    /** Table entries per tensor (JDL_MT_FIELDS in the .cu). */
    static final int FIELDS = 5;

    private final NativeKernels kernels;

    MultiTensorKernels(NativeKernels kernels) {
        this.kernels = kernels;
    }

    /**
     * One optimizer's device-side table, reused while its content is unchanged. Owned by one user (a
     * backend) on one stream, not thread-safe; {@link #close()} frees the device copy.
     */
    public static final class Table implements AutoCloseable {
        /** Queues a copy of the entries into device memory on the launch's stream ({@code staging::upload}). */
        public interface Upload {
            void copy(long[] entries, DeviceMemory device);
        }

        private final CachingAllocator allocator;
        private final Upload upload;
        private long[] uploaded = new long[0];
        private DeviceMemory device;

        public Table(CachingAllocator allocator, Upload upload) {
            this.allocator = Objects.requireNonNull(allocator, "allocator");
            this.upload = Objects.requireNonNull(upload, "upload");
        }

        /** The device copy of {@code entries}, uploaded (asynchronously) only when they differ from the last. */
        DeviceMemory of(long[] entries) {
            if (device == null || !Arrays.equals(entries, uploaded)) {
                long bytes = (long) entries.length * Long.BYTES;
                if (device == null || device.bytes() < bytes) {
                    close();
                    device = allocator.allocate(bytes);
                }
                uploaded = new long[0];  // until the copy is queued
                upload.copy(entries, device);
                uploaded = entries;
            }
            return device;
        }

        @Override
        public void close() {
            if (device != null) {
                device.close();
                device = null;
            }
            uploaded = new long[0];
        }
    }

    /**
     * {@link NativeKernels#adamStep} on every tensor i: {@code params[i]}, {@code grads[i]}, {@code m[i]}, {@code v[i]}
     * of {@code sizes[i]} floats, all at the same {@code step} (counting from 1).
     */
    public void adam(Stream stream, Table table, DeviceMemory[] params, DeviceMemory[] grads, DeviceMemory[] m,
                     DeviceMemory[] v, long[] sizes, float lr, float beta1, float beta2, float eps, float weightDecay,
                     boolean decoupled, int step) {
        if (step < 1) {
            throw new IllegalArgumentException("Adam step counts from 1, got " + step);
        }
        if (!(beta1 >= 0f && beta1 < 1f) || !(beta2 >= 0f && beta2 < 1f)) {
            throw new IllegalArgumentException("Adam betas must lie in [0, 1), got beta1=" + beta1 + ", beta2=" + beta2);
        }
        long[] entries = entries(stream, params, grads, m, v, sizes, "m", "v");
        if (entries == null) {
            return;
        }
        // Bias corrections in double, as torch computes them (Python floats), then rounded once: as adamStep.
        float stepSize = (float) (lr / (1.0 - Math.pow(beta1, step)));
        float biasCorrection2Sqrt = (float) Math.sqrt(1.0 - Math.pow(beta2, step));
        int chunks = chunks(entries, params.length);
        kernels.launch(Kernel.ADAM_MULTI, stream, Math.min(chunks, MAX_ELEMENTWISE_BLOCKS), BLOCK,
                table.of(entries).pointer(), params.length, chunks, lr, beta1, beta2, eps, weightDecay,
                decoupled ? 1 : 0, stepSize, biasCorrection2Sqrt);
    }

    /**
     * {@link NativeKernels#sgdStep} on every tensor i; {@code momentumBufs} (and its entries) may be null when
     * {@code momentum == 0}.
     */
    public void sgd(Stream stream, Table table, DeviceMemory[] params, DeviceMemory[] grads, DeviceMemory[] momentumBufs,
                    long[] sizes, float lr, float momentum, float dampening, float weightDecay, boolean nesterov,
                    boolean firstStep) {
        if (momentum != 0f && momentumBufs == null) {
            throw new IllegalArgumentException("momentumBufs is null but momentum is " + momentum);
        }
        long[] entries = entries(stream, params, grads, momentum != 0f ? momentumBufs : null, null, sizes,
                "momentumBuf", null);
        if (entries == null) {
            return;
        }
        int chunks = chunks(entries, params.length);
        kernels.launch(Kernel.SGD_MULTI, stream, Math.min(chunks, MAX_ELEMENTWISE_BLOCKS), BLOCK,
                table.of(entries).pointer(), params.length, chunks, lr, momentum, dampening, weightDecay,
                nesterov ? 1 : 0, firstStep ? 1 : 0);
    }

    /**
     * The table's entries after checking every buffer (a null state array: that state is unused, 0 in the
     * table), or null when there are no elements at all.
     */
    private static long[] entries(Stream stream, DeviceMemory[] params, DeviceMemory[] grads, DeviceMemory[] s1,
                                  DeviceMemory[] s2, long[] sizes, String s1Name, String s2Name) {
        checkStream(stream);
        int t = params.length;
        if (grads.length != t || sizes.length != t || (s1 != null && s1.length != t) || (s2 != null && s2.length != t)) {
            throw new IllegalArgumentException("multi-tensor step: params, grads, state and sizes must have one entry"
                    + " per tensor, got " + t + " params, " + grads.length + " grads, " + sizes.length + " sizes");
        }
        long chunks = 0;
        for (int i = 0; i < t; i++) {
            if (sizes[i] < 0) {
                throw new IllegalArgumentException("sizes[" + i + "] must be >= 0, got " + sizes[i]);
            }
            requireFloats("params", i, params[i], sizes[i]);
            requireFloats("grads", i, grads[i], sizes[i]);
            if (s1 != null) {
                requireFloats(s1Name, i, s1[i], sizes[i]);
            }
            if (s2 != null) {
                requireFloats(s2Name, i, s2[i], sizes[i]);
            }
            chunks += (sizes[i] + CHUNK - 1) / CHUNK;
        }
        if (chunks == 0) {
            return null;
        }
        if (chunks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("multi-tensor step: " + chunks + " chunks exceed the int range");
        }
        long[] e = new long[t * FIELDS + 2 * (int) chunks];
        int c = t * FIELDS;
        for (int i = 0; i < t; i++) {
            e[i * FIELDS] = params[i].pointer().address();
            e[i * FIELDS + 1] = grads[i].pointer().address();
            e[i * FIELDS + 2] = s1 == null ? 0 : s1[i].pointer().address();
            e[i * FIELDS + 3] = s2 == null ? 0 : s2[i].pointer().address();
            e[i * FIELDS + 4] = sizes[i];
            for (long start = 0; start < sizes[i]; start += CHUNK) {
                e[c++] = i;
                e[c++] = start;
            }
        }
        return e;
    }

    private static int chunks(long[] entries, int tensors) {
        return (entries.length - tensors * FIELDS) / 2;
    }
}
