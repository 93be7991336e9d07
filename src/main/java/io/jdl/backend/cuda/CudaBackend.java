package io.jdl.backend.cuda;

import io.jdl.backend.Activation;
import io.jdl.backend.Backend;
import io.jdl.backend.CapturedGraph;
import io.jdl.backend.ConvShape;
import io.jdl.device.Device;
import io.jdl.backend.PoolShape;
import io.jdl.backend.MatrixBatch;
import io.jdl.backend.Storage;
import io.jdl.cublas.Cublas;
import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.CudaDevice;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.HostToDeviceStaging;
import io.jdl.cuda.NativeKernels;
import io.jdl.cudnn.Cudnn;
import io.jdl.cudnn.OpTensorDescriptor;
import io.jdl.cudnn.ReduceDescriptor;
import io.jdl.cudnn.TensorDescriptor;
import io.jdl.cuda.Stream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Tensors on one CUDA device: a stream, a caching allocator, and a cuBLAS and a cuDNN handle bound to
 * that stream. Every operation is queued on the stream; only {@link #download} waits for it.
 *
 * <p>One backend exists per device for the life of the process ({@link #get(int)}). Like the library
 * handles it wraps, it is meant for one thread at a time, but that thread may change: CUDA's current
 * device is per host thread, so every entry first makes this backend's device current on the calling
 * thread (remembered per thread, so it costs a {@code cudaSetDevice} only when the device changes).
 *
 * <p>Zero-element operands are accepted as on the CPU backend: nothing is queued for an empty output,
 * and an output reduced over an empty extent (a sum over 0 elements, a convolution over 0 channels) is
 * zero.
 */
public final class CudaBackend implements Backend {
    private static final ConcurrentHashMap<Integer, CudaBackend> BACKENDS = new ConcurrentHashMap<>();
    /**
     * The device each host thread last made current through a CudaBackend (-1: none yet). Code that
     * calls cudaSetDevice elsewhere in jdl restores the previous device, so this stays true.
     */
    private static final ThreadLocal<int[]> CURRENT_DEVICE = ThreadLocal.withInitial(() -> new int[] {-1});

    private final Device device;
    private final CudaDevice properties;
    private final Stream stream;
    private final CachingAllocator allocator;
    private final Cublas cublas;
    private final Cudnn cudnn;
    private final HostToDeviceStaging staging;
    private final CudnnLayers layers;
    private final TargetsCache targetsCache;
    private final OpTensorDescriptor mulDescriptor;
    private final ReduceDescriptor sumDescriptor;
    /** The graph being captured now, or null; cuBLAS's user workspace from the first capture on (CudaGraphCapture). */
    CudaGraphCapture capture;
    DeviceMemory cublasWorkspace;

    private CudaBackend(int index) {
        this.properties = CudaDevice.get(index);
        this.device = Device.cuda(index);
        enter();
        this.stream = Stream.create();
        this.allocator = new CachingAllocator();
        this.cublas = Cublas.create(stream);
        this.cudnn = Cudnn.create(stream);
        this.staging = new HostToDeviceStaging(stream);
        this.mulDescriptor = new OpTensorDescriptor(OpTensorDescriptor.Op.MUL);
        this.sumDescriptor = new ReduceDescriptor(ReduceDescriptor.Op.SUM);
        this.layers = new CudnnLayers(cudnn, allocator, cublas::tf32);
        this.targetsCache = new TargetsCache(allocator, staging);
    }

    /** The backend of CUDA device {@code index}; throws {@code CudaUnavailableException} without one. */
    public static CudaBackend get(int index) {
        CudaDevice.requireAvailable();
        return BACKENDS.computeIfAbsent(index, CudaBackend::new);
    }

    public CudaDevice properties() {
        return properties;
    }

    // The accessors make the device current too: what the caller does next with them needs it.

    public CachingAllocator allocator() {
        enter();
        return allocator;
    }

    public Stream stream() {
        enter();
        return stream;
    }

    public Cublas cublas() {
        enter();
        return cublas;
    }

    public Cudnn cudnn() {
        enter();
        return cudnn;
    }

    /** Waits for all queued work. */
    public void synchronize() {
        enter();
        stream.synchronize();
    }

    /** Makes this backend's device current on the calling thread (CUDA's current device is per thread). */
    private void enter() {
        int[] current = CURRENT_DEVICE.get();
        if (current[0] != device.index()) {
            properties.makeCurrent();
            current[0] = device.index();
        }
    }

    private DeviceMemory mem(Storage s) {
        if (!(s instanceof CudaStorage cuda) || !cuda.device().equals(device)) {
            throw new IllegalArgumentException("CUDA backend for " + device + " got storage on " + s.device());
        }
        return cuda.memory();
    }

    @Override
    public Device device() {
        return device;
    }

    @Override
    public Storage allocate(long numel) {
        enter();
        return new CudaStorage(device, allocator.allocate(numel * Float.BYTES), numel);
    }

    /** Asynchronous: staged through pinned memory (see {@link HostToDeviceStaging} for when the host waits). */
    @Override
    public Storage upload(float[] data) {
        enter();
        Storage s = allocate(data.length);
        staging.upload(data, mem(s));
        return s;
    }

    @Override
    public float[] download(Storage src, long numel) {
        enter();
        stream.checkNotCapturing(true, "a download of " + numel + " floats (toArray(), item(), a loss as a float)");
        long bytes = numel * Float.BYTES;
        if (bytes == 0) {
            return new float[0];
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(bytes, Float.BYTES);
            stream.copyToHost(mem(src), 0, host, 0, bytes);
            stream.synchronize();
            return host.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    @Override
    public CapturedGraph captureGraph(Runnable body) {
        enter();
        return CudaGraphCapture.capture(this, stream, allocator, staging, cublas, body);
    }

    @Override
    public boolean isCapturing() {
        return capture != null;
    }

    @Override
    public void fill(Storage out, float value) {
        enter();
        layers.fill(mem(out), out.numel(), value);
    }

    @Override
    public void matmul(boolean transA, boolean transB, int batch, int m, int n, int k, Storage a, Storage b, Storage c) {
        enter();
        CublasMatmul.packed(cublas, layers, transA, transB, batch, m, n, k, mem(a), mem(b), mem(c));
    }

    @Override
    public void matmul(boolean transA, boolean transB, int outer, int inner, int m, int n, int k, MatrixBatch a,
                       MatrixBatch b, MatrixBatch c) {
        enter();
        CublasMatmul.strided(cublas, transA, transB, outer, inner, m, n, k, a, mem(a.storage()), b, mem(b.storage()),
                c, mem(c.storage()));
    }

    @Override
    public void axpby(float alpha, Storage a, float beta, Storage b, Storage out, long n) {
        enter();
        if (n == 0) {
            return;
        }
        cublas.geam(false, false, 1, Math.toIntExact(n), alpha, mem(a), beta, mem(b), mem(out));
    }

    @Override
    public void mul(Storage a, Storage b, Storage out, long n) {
        enter();
        if (n == 0) {
            return;
        }
        // cudnnOpTensor computes in place on A but not on B alone: with out == b, swap (a·b = b·a).
        Storage first = out == b && out != a ? b : a, second = first == a ? b : a;
        try (TensorDescriptor d = vector(n)) {
            cudnn.opTensor(mulDescriptor, 1f, d, mem(first), 1f, d, mem(second), 0f, d, mem(out));
        }
    }

    @Override
    public void addBias(Storage x, Storage bias, Storage out, int rows, int cols) {
        enter();
        if ((long) rows * cols == 0) {
            return;
        }
        if (x != out) {
            stream.copyOnDevice(mem(x), 0, mem(out), 0, (long) rows * cols * Float.BYTES);
        }
        try (TensorDescriptor b = TensorDescriptor.of(1, cols); TensorDescriptor o = TensorDescriptor.of(rows, cols)) {
            cudnn.addTensor(1f, b, mem(bias), 1f, o, mem(out));
        }
    }

    @Override
    public void sum(Storage x, Storage out, int outer, int dim, int inner) {
        enter();
        long results = (long) outer * inner;
        if (results == 0) {
            return;
        }
        if (dim <= 1) {
            // Nothing to reduce: cudnnReduceTensor rejects (or mishandles) equal input and output shapes.
            if (dim == 0) {
                layers.fill(mem(out), results, 0f);
            } else {
                copy(x, out, results);
            }
            return;
        }
        try (TensorDescriptor in = TensorDescriptor.of(outer, dim, inner);
             TensorDescriptor result = TensorDescriptor.of(outer, 1, inner)) {
            try (DeviceMemory workspace = layers.workspace(cudnn.reductionWorkspaceBytes(sumDescriptor, in, result))) {
                cudnn.reduce(sumDescriptor, workspace, 1f, in, mem(x), 0f, result, mem(out));
            }
        }
    }

    // ---- data movement ----

    @Override
    public void copy(Storage src, Storage dst, long n) {
        enter();
        if (n > 0) {
            stream.copyOnDevice(mem(src), 0, mem(dst), 0, n * Float.BYTES);
        }
    }

    @Override
    public void broadcast(Storage x, Storage out, int outer, int dim, int inner) {
        enter();
        if ((long) outer * dim * inner == 0) {
            return;
        }
        // cudnnAddTensor broadcasts A's size-1 dimensions over C's; beta = 0 overwrites C.
        try (TensorDescriptor a = TensorDescriptor.of(outer, 1, inner);
             TensorDescriptor c = TensorDescriptor.of(outer, dim, inner)) {
            cudnn.addTensor(1f, a, mem(x), 0f, c, mem(out));
        }
    }

    @Override
    public void mulScalar(Storage x, Storage s, Storage out, long n) {
        enter();
        if (n == 0) {
            return;
        }
        try (TensorDescriptor d = vector(n); TensorDescriptor one = vector(1)) {
            cudnn.opTensor(mulDescriptor, 1f, d, mem(x), 1f, one, mem(s), 0f, d, mem(out));
        }
    }

    @Override
    public void permute(Storage x, Storage out, int[] dims, int[] perm) {
        enter();
        if (out.numel() == 0 || java.util.Arrays.stream(dims).anyMatch(d -> d == 0)) {
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
        try (TensorDescriptor view = TensorDescriptor.strided(outDims, viewStride);
             TensorDescriptor packed = TensorDescriptor.of(outDims)) {
            cudnn.transformTensor(1f, view, mem(x), 0, 0f, packed, mem(out), 0);
        }
    }

    @Override
    public void copySlice(Storage block, Storage whole, int outer, int size, int inner, int total, int offset,
                          boolean intoSlice) {
        enter();
        if ((long) outer * size * inner == 0) {
            return;
        }
        try (TensorDescriptor packed = TensorDescriptor.of(outer, size, inner);
             TensorDescriptor slice = TensorDescriptor.strided(new int[] {outer, size, inner},
                     new int[] {total * inner, inner, 1})) {
            long sliceOffset = (long) offset * inner * Float.BYTES;
            if (intoSlice) {
                cudnn.transformTensor(1f, packed, mem(block), 0, 0f, slice, mem(whole), sliceOffset);
            } else {
                cudnn.transformTensor(1f, slice, mem(whole), sliceOffset, 0f, packed, mem(block), 0);
            }
        }
    }

    // ---- activations and losses ----

    @Override
    public void activation(Activation act, float param, Storage x, Storage y, long n) {
        enter();
        if (n == 0) {
            return;
        }
        switch (act) {
            case LEAKY_RELU -> NativeKernels.get().leakyRelu(stream, mem(x), mem(y), n, param);
            case GELU -> NativeKernels.get().gelu(stream, mem(x), mem(y), n);
            default -> layers.activation(act, mem(x), mem(y), n);
        }
    }

    @Override
    public void activationBackward(Activation act, float param, Storage x, Storage y, Storage dy, Storage dx, long n) {
        enter();
        if (n == 0) {
            return;
        }
        switch (act) {
            case LEAKY_RELU -> NativeKernels.get().leakyReluBackward(stream, mem(x), mem(dy), mem(dx), n, param);
            case GELU -> NativeKernels.get().geluBackward(stream, mem(x), mem(dy), mem(dx), n);
            default -> layers.activationBackward(act, mem(x), mem(y), mem(dy), mem(dx), n);
        }
    }

    @Override
    public void softmax(boolean log, Storage x, Storage y, int rows, int cols) {
        enter();
        if ((long) rows * cols == 0) {
            return;
        }
        try (TensorDescriptor d = TensorDescriptor.of(rows, cols, 1, 1)) {
            cudnn.softmaxForward(log, d, mem(x), mem(y));
        }
    }

    @Override
    public void softmaxBackward(boolean log, Storage y, Storage dy, Storage dx, int rows, int cols) {
        enter();
        if ((long) rows * cols == 0) {
            return;
        }
        try (TensorDescriptor d = TensorDescriptor.of(rows, cols, 1, 1)) {
            cudnn.softmaxBackward(log, d, mem(y), mem(dy), mem(dx));
        }
    }

    /** The targets as int32: the graph's static buffer while capturing, else the cached upload. */
    private DeviceMemory deviceTargets(int[] targets, int rows, int classes, int ignoreIndex) {
        return capture != null ? capture.targets(targets, rows, classes, ignoreIndex, allocator) : targetsCache.get(targets);
    }

    @Override
    public void crossEntropy(Storage logits, int[] targets, Storage lossPerRow, int rows, int classes, int ignoreIndex) {
        enter();
        if (rows == 0) {
            return;
        }
        NativeKernels.get().softmaxCrossEntropy(stream, mem(logits), deviceTargets(targets, rows, classes, ignoreIndex),
                mem(lossPerRow), rows, classes, ignoreIndex);
    }

    @Override
    public void crossEntropyBackward(Storage logits, int[] targets, Storage dLogits, int rows, int classes,
                                     int ignoreIndex, float scale) {
        enter();
        if (rows == 0) {
            return;
        }
        NativeKernels.get().softmaxCrossEntropyBackward(stream, mem(logits), deviceTargets(targets, rows, classes, ignoreIndex),
                mem(dLogits), rows, classes, ignoreIndex, scale);
    }

    // ---- convolution, pooling, batch norm (cuDNN layers) ----

    @Override
    public void conv2d(ConvShape s, Storage x, Storage w, Storage y) {
        enter();
        layers.conv2d(s, mem(x), mem(w), mem(y));
    }

    @Override
    public void conv2dBackwardData(ConvShape s, Storage w, Storage dy, Storage dx) {
        enter();
        layers.conv2dBackwardData(s, mem(w), mem(dy), mem(dx));
    }

    @Override
    public void conv2dBackwardFilter(ConvShape s, Storage x, Storage dy, Storage dw) {
        enter();
        layers.conv2dBackwardFilter(s, mem(x), mem(dy), mem(dw));
    }

    @Override
    public void addChannelBias(Storage x, Storage bias, Storage out, int n, int c, int hw) {
        enter();
        if (x != out) {
            copy(x, out, (long) n * c * hw);
        }
        layers.addChannelBias(mem(bias), mem(out), n, c, hw);
    }

    @Override
    public void channelBiasBackward(Storage dy, Storage db, int n, int c, int hw) {
        enter();
        layers.channelBiasBackward(mem(dy), mem(db), n, c, hw);
    }

    @Override
    public void pool2d(PoolShape s, Storage x, Storage y) {
        enter();
        layers.pool2d(s, mem(x), mem(y));
    }

    @Override
    public void pool2dBackward(PoolShape s, Storage x, Storage y, Storage dy, Storage dx) {
        enter();
        layers.pool2dBackward(s, mem(x), mem(y), mem(dy), mem(dx));
    }

    @Override
    public void batchNormTrain(int n, int c, int hw, Storage x, Storage gamma, Storage beta, Storage y,
                               Storage runningMean, Storage runningVar, Storage saveMean, Storage saveInvStd,
                               float momentum, float eps) {
        enter();
        layers.batchNormTrain(n, c, hw, mem(x), mem(gamma), mem(beta), mem(y), mem(runningMean), mem(runningVar),
                mem(saveMean), mem(saveInvStd), momentum, eps);
    }

    @Override
    public void batchNormInference(int n, int c, int hw, Storage x, Storage gamma, Storage beta, Storage runningMean,
                                   Storage runningVar, Storage y, float eps) {
        enter();
        layers.batchNormInference(n, c, hw, mem(x), mem(gamma), mem(beta), mem(runningMean), mem(runningVar), mem(y),
                eps);
    }

    @Override
    public void batchNormBackward(int n, int c, int hw, Storage x, Storage dy, Storage gamma, Storage saveMean,
                                  Storage saveInvStd, Storage dx, Storage dGamma, Storage dBeta, float eps) {
        enter();
        layers.batchNormBackward(n, c, hw, mem(x), mem(dy), mem(gamma), mem(saveMean), mem(saveInvStd), mem(dx),
                mem(dGamma), mem(dBeta), eps);
    }

    @Override
    public void dropout(Storage x, Storage y, Storage mask, long n, float p, long seed) {
        enter();
        if (n == 0) {
            return;
        }
        if (capture != null) {  // the seed becomes seed + replays on the device
            NativeKernels.get().dropoutCounted(stream, mem(x), mem(y), mem(mask), n, p, seed, capture.replayCounter());
        } else {
            NativeKernels.get().dropout(stream, mem(x), mem(y), mem(mask), n, p, seed);
        }
    }

    // ---- optimizers: fused kernels, parameters never leave the device ----

    @Override
    public void sgdStep(Storage param, Storage grad, Storage momentumBuf, long n, float lr, float momentum,
                        float dampening, float weightDecay, boolean nesterov, boolean firstStep) {
        enter(); // NativeKernels launches nothing for n == 0
        NativeKernels.get().sgdStep(stream, mem(param), mem(grad), momentumBuf == null ? null : mem(momentumBuf), n, lr,
                momentum, dampening, weightDecay, nesterov, firstStep);
    }

    @Override
    public void adamStep(Storage param, Storage grad, Storage m, Storage v, long n, float lr, float beta1, float beta2,
                         float eps, float weightDecay, boolean decoupled, int step) {
        enter(); // NativeKernels launches nothing for n == 0
        if (capture != null) {  // the step becomes step + replays on the device
            NativeKernels.get().adamStepCounted(stream, mem(param), mem(grad), mem(m), mem(v), n, lr, beta1, beta2, eps,
                    weightDecay, decoupled, step, capture.replayCounter());
        } else {
            NativeKernels.get().adamStep(stream, mem(param), mem(grad), mem(m), mem(v), n, lr, beta1, beta2, eps,
                    weightDecay, decoupled, step);
        }
    }

    @Override
    public void ampUnscale(Storage grad, long n, float invScale, Storage foundInf) {
        enter();
        NativeKernels.get().ampUnscale(stream, mem(grad), n, invScale, mem(foundInf));
    }

    private static TensorDescriptor vector(long n) {
        return TensorDescriptor.of(Math.toIntExact(n));
    }

    @Override
    public String toString() {
        return "CudaBackend[" + properties + "]";
    }
    // ---- transformer operations (native kernels; the matrix products go through matmul) ----

    /** The ids as int32 on the device: one host-to-device copy (the tensor layer validated them). */
    @Override
    public void embedding(Storage weight, int[] ids, Storage out, int dim) {
        enter();
        if ((long) ids.length * dim == 0) {
            return;
        }
        try (DeviceMemory d = DeviceInts.upload(allocator, staging, ids)) {
            NativeKernels.get().embeddingForward(stream, mem(weight), d, mem(out), ids.length, dim);
        }
    }

    @Override
    public void embeddingBackward(Storage dOut, int[] ids, Storage dWeight, int vocab, int dim) {
        enter();
        fill(dWeight, 0f);
        if ((long) ids.length * dim == 0) {
            return;
        }
        try (DeviceMemory d = DeviceInts.upload(allocator, staging, ids)) {
            NativeKernels.get().embeddingBackward(stream, mem(dOut), d, mem(dWeight), ids.length, dim);
        }
    }

    @Override
    public void layerNorm(Storage x, Storage gamma, Storage beta, Storage y, Storage mean, Storage rstd, int rows,
                          int cols, float eps) {
        enter();
        if ((long) rows * cols == 0) {
            return;
        }
        NativeKernels.get().layerNorm(stream, mem(x), gamma == null ? null : mem(gamma), beta == null ? null : mem(beta),
                mem(y), mem(mean), mem(rstd), rows, cols, eps);
    }

    @Override
    public void layerNormBackward(Storage x, Storage gamma, Storage mean, Storage rstd, Storage dy, Storage dx,
                                  Storage dGamma, Storage dBeta, int rows, int cols) {
        enter();
        if ((long) rows * cols == 0) {
            return;
        }
        NativeKernels.get().layerNormBackward(stream, mem(x), gamma == null ? null : mem(gamma), mem(mean), mem(rstd),
                mem(dy), mem(dx), dGamma == null ? null : mem(dGamma), dBeta == null ? null : mem(dBeta), rows, cols);
    }

    @Override
    public void attentionSoftmax(Storage scores, Storage keyMask, Storage probs, int batch, int heads, int tq, int tk,
                                 float scale, boolean causal) {
        enter();
        if ((long) batch * heads * tq * tk == 0) {
            return;
        }
        NativeKernels.get().attentionSoftmax(stream, mem(scores), keyMask == null ? null : mem(keyMask), mem(probs),
                batch, heads, tq, tk, scale, causal);
    }

    @Override
    public void attentionSoftmaxBackward(Storage p, Storage dp, Storage dScores, int rows, int cols, float scale) {
        enter();
        if ((long) rows * cols == 0) {
            return;
        }
        NativeKernels.get().attentionSoftmaxBackward(stream, mem(p), mem(dp), mem(dScores), rows, cols, scale);
    }
}
