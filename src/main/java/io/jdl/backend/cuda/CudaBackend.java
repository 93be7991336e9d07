package io.jdl.backend.cuda;

import io.jdl.backend.Activation;
import io.jdl.backend.Backend;
import io.jdl.backend.CapturedGraph;
import io.jdl.backend.ConvShape;
import io.jdl.device.DType;
import io.jdl.device.Device;
import io.jdl.device.Precision;
import io.jdl.backend.PoolShape;
import io.jdl.backend.FusedAttention;
import io.jdl.backend.MatrixBatch;
import io.jdl.backend.Storage;
import io.jdl.cublas.Cublas;
import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.CudaDevice;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.HostToDeviceStaging;
import io.jdl.cuda.MultiTensorKernels;
import io.jdl.cuda.NativeCounters;
import io.jdl.cuda.NativeKernels;
import io.jdl.cudnn.Cudnn;
import io.jdl.cuda.Stream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Tensors on one CUDA device: a stream, a caching allocator, and a cuBLAS and a cuDNN handle bound to
 * that stream. Every operation is queued on the stream; only {@link #download} waits for it. Products and
 * convolutions follow {@link Precision} (TF32 or not), read at each call.
 *
 * <p>One backend exists per device for the life of the process ({@link #get(int)}). Like the library
 * handles it wraps, it is meant for one thread at a time, but that thread may change: CUDA's current
 * device is per host thread, so every entry first makes this backend's device current on the calling
 * thread (remembered per thread, so it costs a {@code cudaSetDevice} only when the device changes).
 *
 * <p>The operations live in one class per op family ({@link CudaElementwise}, {@link CudaDataMovement},
 * {@link CudaSoftmax}, {@link CudaTransformerOps}, {@link CudnnLayers}); this class owns the device
 * state they share and checks that every storage belongs to its device.
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
    private final CudaFusedAttention fusedAttention;
    private final CudaElementwise elementwise;
    private final CudaDataMovement movement;
    private final CudaSoftmax softmaxOps;
    private final CudaTransformerOps transformer;
    private final TargetsCache targetsCache;
    /** The graph being captured now, or null; cuBLAS's user workspace from the first capture on (CudaGraphCapture). */
    CudaGraphCapture capture;
    DeviceMemory cublasWorkspace;
    /** The device tables of the multi-tensor optimizer steps, kept while the parameter lists are unchanged. */
    private final MultiTensorKernels.Table adamTable, sgdTable;

    private CudaBackend(int index) {
        this.properties = CudaDevice.get(index);
        this.device = Device.cuda(index);
        enter();
        this.stream = Stream.create();
        this.allocator = new CachingAllocator();
        this.cublas = Cublas.create(stream);
        this.cudnn = Cudnn.create(stream);
        this.staging = new HostToDeviceStaging(stream);
        DescriptorCache descriptors = new DescriptorCache();
        this.elementwise = new CudaElementwise(stream, this::anyMem);
        this.layers = new CudnnLayers(cudnn, allocator, Precision::cudnnAllowTf32, descriptors, elementwise);
        this.fusedAttention = new CudaFusedAttention(layers, this::anyMem);
        this.movement = new CudaDataMovement(stream, cudnn, descriptors);
        this.softmaxOps = new CudaSoftmax(stream, this::anyMem, allocator);
        this.transformer = new CudaTransformerOps(stream, allocator, staging, elementwise);
        this.adamTable = new MultiTensorKernels.Table(allocator, staging::upload);
        this.targetsCache = new TargetsCache(allocator, staging);
        this.sgdTable = new MultiTensorKernels.Table(allocator, staging::upload);
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

    /**
     * jdl's native calls and kernel launches so far, counted in the library (not by the stand-in), for all
     * devices of the process: subtract two snapshots around a training step to get its host-side work.
     */
    public static NativeCounters.Snapshot counters() {
        return NativeCounters.snapshot();
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

    /**
     * The memory of a float32 storage, for the kernels that read float32 only; the pointwise family
     * ({@link CudaElementwise}) takes any float dtype per operand, the products and convolutions their own sets.
     */
    private DeviceMemory mem(Storage s) {
        DeviceMemory m = anyMem(s);
        if (s.dtype() != DType.FLOAT32) {
            throw new IllegalStateException("a float32 CUDA kernel got a storage of " + s.dtype() + " (the tensor layer"
                    + " must convert or refuse it)");
        }
        return m;
    }

    private DeviceMemory anyMem(Storage s) {
        if (!(s instanceof CudaStorage cuda) || !cuda.device().equals(device)) {
            throw new IllegalArgumentException("CUDA backend for " + device + " got storage on " + s.device());
        }
        return cuda.memory();
    }

    private DeviceMemory memOrNull(Storage s) {
        return s == null ? null : mem(s);
    }

    @Override
    public Device device() {
        return device;
    }

    @Override
    public Storage allocate(long numel, DType dtype) {
        enter();
        return new CudaStorage(device, allocator.allocate(Math.multiplyExact(numel, (long) dtype.bytes())), numel, dtype);
    }

    @Override
    public Storage uploadBytes(byte[] littleEndian, DType dtype) {
        enter();
        Storage s = allocate(CudaCasts.elements(littleEndian, dtype), dtype);
        staging.upload(littleEndian, anyMem(s));
        return s;
    }

    @Override
    public byte[] downloadBytes(Storage src, long numel) {
        enter();
        stream.checkNotCapturing(true, "a download of " + numel + " " + src.dtype() + " elements");
        return CudaCasts.download(stream, anyMem(src), numel * src.dtype().bytes());
    }

    @Override
    public void cast(Storage src, Storage dst, long n) {
        enter();
        CudaCasts.cast(stream, anyMem(src), src.dtype(), anyMem(dst), dst.dtype(), n);
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
        elementwise.fill(out, value);
    }

    @Override
    public void matmul(boolean transA, boolean transB, int batch, int m, int n, int k, Storage a, Storage b, Storage c) {
        enter();
        cublas.useTf32(Precision.matmulTf32());
        CublasMatmul.packed(cublas, elementwise, CublasMatmul.Types.of(a.dtype(), b.dtype(), c.dtype()), transA, transB,
                batch, m, n, k, anyMem(a), anyMem(b), anyMem(c));
    }

    @Override
    public void matmul(boolean transA, boolean transB, int outer, int inner, int m, int n, int k, MatrixBatch a,
                       MatrixBatch b, MatrixBatch c) {
        enter();
        cublas.useTf32(Precision.matmulTf32());
        var types = CublasMatmul.Types.of(a.storage().dtype(), b.storage().dtype(), c.storage().dtype());
        CublasMatmul.strided(cublas, types, transA, transB, outer, inner, m, n, k, a, anyMem(a.storage()), b,
                anyMem(b.storage()), c, anyMem(c.storage()));
    }

    @Override
    public void axpby(float alpha, Storage a, float beta, Storage b, Storage out, long n) {
        enter();
        elementwise.axpby(alpha, a, beta, b, out, n);
    }

    @Override
    public void mul(Storage a, Storage b, Storage out, long n) {
        enter();
        elementwise.mul(a, b, out, n);
    }

    @Override
    public void addBias(Storage x, Storage bias, Storage out, int rows, int cols) {
        enter();
        elementwise.addBias(x, bias, out, rows, cols);
    }

    @Override
    public void sum(Storage x, Storage out, int outer, int dim, int inner) {
        enter();
        elementwise.sum(x, out, outer, dim, inner);
    }

    // ---- data movement ----

    @Override
    public void copy(Storage src, Storage dst, long n) {
        enter();
        movement.copy(mem(src), mem(dst), n);
    }

    @Override
    public void broadcastBinary(boolean multiply, float alpha, float beta, Storage a, int[] aStrides, Storage b,
                                int[] bStrides, Storage out, int[] dims) {
        enter();
        elementwise.broadcastBinary(multiply, alpha, beta, a, aStrides, b, bStrides, out, dims);
    }

    @Override
    public void broadcast(Storage x, Storage out, int outer, int dim, int inner) {
        enter();
        elementwise.broadcast(x, out, outer, dim, inner);
    }

    @Override
    public void mulScalar(Storage x, Storage s, Storage out, long n) {
        enter();
        elementwise.mulScalar(x, s, out, n);
    }

    @Override
    public void permute(Storage x, Storage out, int[] dims, int[] perm) {
        enter();
        movement.permute(mem(x), mem(out), out.numel(), dims, perm);
    }

    @Override
    public void copySlice(Storage block, Storage whole, int outer, int size, int inner, int total, int offset,
                          boolean intoSlice) {
        enter();
        movement.copySlice(mem(block), mem(whole), outer, size, inner, total, offset, intoSlice);
    }

    // ---- activations and losses ----

    @Override
    public void activation(Activation act, float param, Storage x, Storage y, long n) {
        enter();
        elementwise.activation(act, param, x, y, n);
    }

    @Override
    public void biasActivation(Activation act, float param, Storage x, Storage bias, Storage pre, Storage y, int n,
                               int c, int hw) {
        enter();
        elementwise.biasActivation(act, param, x, bias, pre, y, n, c, hw);
    }

    @Override
    public void activationBackward(Activation act, float param, Storage x, Storage y, Storage dy, Storage dx, long n) {
        enter();
        elementwise.activationBackward(act, param, x, y, dy, dx, n);
    }

    @Override
    public void softmax(boolean log, Storage x, Storage y, int rows, int cols) {
        enter();
        softmaxOps.softmax(log, x, y, rows, cols);
    }

    @Override
    public void softmaxBackward(boolean log, Storage y, Storage dy, Storage dx, int rows, int cols) {
        enter();
        softmaxOps.softmaxBackward(log, y, dy, dx, rows, cols);
    }

    /** The targets as int32: the graph's static buffer while capturing, else the cached upload. */
    private DeviceMemory deviceTargets(int[] targets, int rows, int classes, int ignoreIndex) {
        return capture != null ? capture.targets(targets, rows, classes, ignoreIndex, allocator) : targetsCache.get(targets);
    }

    @Override
    public void crossEntropy(Storage logits, int[] targets, Storage logSumExp, Storage loss, int rows, int classes,
                             int ignoreIndex, float scale) {
        enter();
        softmaxOps.crossEntropy(mem(logits), deviceTargets(targets, rows, classes, ignoreIndex), mem(logSumExp),
                mem(loss), rows, classes, ignoreIndex, scale);
    }

    @Override
    public void crossEntropyBackward(Storage logits, int[] targets, Storage logSumExp, Storage gradOut,
                                     Storage dLogits, int rows, int classes, int ignoreIndex, float scale) {
        enter();
        softmaxOps.crossEntropyBackward(mem(logits), deviceTargets(targets, rows, classes, ignoreIndex),
                mem(logSumExp), mem(gradOut), mem(dLogits), rows, classes, ignoreIndex, scale);
    }

    // ---- convolution, pooling, batch norm (cuDNN layers) ----

    @Override
    public void conv2d(ConvShape s, Storage x, Storage w, Storage y) {
        enter();
        layers.conv2d(s, CudnnLayers.convType(x.dtype(), w.dtype(), y.dtype()), anyMem(x), anyMem(w), anyMem(y));
    }

    @Override
    public void conv2dBackwardData(ConvShape s, Storage w, Storage dy, Storage dx) {
        enter();
        layers.conv2dBackwardData(s, CudnnLayers.convType(w.dtype(), dy.dtype(), dx.dtype()), anyMem(w), anyMem(dy),
                anyMem(dx));
    }

    @Override
    public void conv2dBackwardFilter(ConvShape s, Storage x, Storage dy, Storage dw) {
        enter();
        layers.conv2dBackwardFilter(s, CudnnLayers.convType(x.dtype(), dy.dtype(), dw.dtype()), anyMem(x), anyMem(dy),
                anyMem(dw));
    }

    @Override
    public void addChannelBias(Storage x, Storage bias, Storage out, int n, int c, int hw) {
        enter();
        elementwise.addChannelBias(x, bias, out, n, c, hw);
    }

    @Override
    public void channelBiasBackward(Storage dy, Storage db, int n, int c, int hw) {
        enter();
        elementwise.channelBiasBackward(dy, db, n, c, hw);
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
        elementwise.dropout(x, y, mask, n, p, seed, capture != null ? capture.replayCounter() : null);
    }

    // ---- optimizers: fused kernels, parameters never leave the device ----

    @Override
    public void sgdStep(Storage param, Storage grad, Storage momentumBuf, long n, float lr, float momentum,
                        float dampening, float weightDecay, boolean nesterov, boolean firstStep) {
        enter();
        if (n > 0) {
            NativeKernels.get().sgdStep(stream, mem(param), mem(grad), momentumBuf == null ? null : mem(momentumBuf), n,
                    lr, momentum, dampening, weightDecay, nesterov, firstStep);
        }
    }

    @Override
    public void adamStep(Storage param, Storage grad, Storage m, Storage v, long n, float lr, float beta1, float beta2,
                         float eps, float weightDecay, boolean decoupled, int step) {
        enter();
        if (n == 0) {
            return;
        }
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
        NativeKernels.get().mixedPrecision().ampUnscale(stream, mem(grad), n, invScale, mem(foundInf));
    }

    @Override
    public void sgdSteps(Storage[] params, Storage[] grads, Storage[] momentumBufs, long[] sizes, float lr,
                         float momentum, float dampening, float weightDecay, boolean nesterov, boolean firstStep) {
        enter();
        if (capture != null) {  // a captured step keeps one kernel per tensor (its table upload could not be captured)
            Backend.super.sgdSteps(params, grads, momentumBufs, sizes, lr, momentum, dampening, weightDecay, nesterov,
                    firstStep);
            return;
        }
        NativeKernels.get().multiTensor().sgd(stream, sgdTable, mems(params), mems(grads),
                momentumBufs == null ? null : mems(momentumBufs), sizes, lr, momentum, dampening, weightDecay, nesterov,
                firstStep);
    }

    @Override
    public void adamSteps(Storage[] params, Storage[] grads, Storage[] m, Storage[] v, long[] sizes, float lr,
                          float beta1, float beta2, float eps, float weightDecay, boolean decoupled, int step) {
        enter();
        if (capture != null) {  // one counted kernel per tensor: the step number advances per replay on the device
            Backend.super.adamSteps(params, grads, m, v, sizes, lr, beta1, beta2, eps, weightDecay, decoupled, step);
            return;
        }
        NativeKernels.get().multiTensor().adam(stream, adamTable, mems(params), mems(grads), mems(m), mems(v), sizes, lr,
                beta1, beta2, eps, weightDecay, decoupled, step);
    }

    private DeviceMemory[] mems(Storage[] storages) {
        DeviceMemory[] out = new DeviceMemory[storages.length];
        for (int i = 0; i < storages.length; i++) {
            out[i] = storages[i] == null ? null : mem(storages[i]);
        }
        return out;
    }

    // ---- transformer operations (jdl kernels; the matrix products go through matmul) ----

    @Override
    public void embedding(Storage weight, int[] ids, Storage out, int dim) {
        enter();
        transformer.embedding(mem(weight), ids, mem(out), dim);
    }

    @Override
    public void embeddingBackward(Storage dOut, int[] ids, Storage dWeight, int vocab, int dim) {
        enter();
        transformer.embeddingBackward(mem(dOut), ids, mem(dWeight), vocab, dim);
    }

    @Override
    public void layerNorm(Storage x, Storage gamma, Storage beta, Storage y, Storage mean, Storage rstd, int rows,
                          int cols, float eps) {
        enter();
        transformer.layerNorm(mem(x), memOrNull(gamma), memOrNull(beta), mem(y), mem(mean), mem(rstd), rows, cols, eps);
    }

    @Override
    public void layerNormBackward(Storage x, Storage gamma, Storage mean, Storage rstd, Storage dy, Storage dx,
                                  Storage dGamma, Storage dBeta, int rows, int cols) {
        enter();
        transformer.layerNormBackward(mem(x), memOrNull(gamma), mem(mean), mem(rstd), mem(dy), mem(dx),
                memOrNull(dGamma), memOrNull(dBeta), rows, cols);
    }

    @Override
    public void attentionSoftmax(Storage scores, Storage keyMask, Storage probs, int batch, int heads, int tq, int tk,
                                 float scale, boolean causal) {
        enter();
        transformer.attentionSoftmax(mem(scores), memOrNull(keyMask), mem(probs), batch, heads, tq, tk, scale, causal);
    }

    @Override
    public void attentionSoftmaxBackward(Storage p, Storage dp, Storage dScores, int rows, int cols, float scale) {
        enter();
        transformer.attentionSoftmaxBackward(mem(p), mem(dp), mem(dScores), rows, cols, scale);
    }

    @Override
    public boolean hasFusedAttention() {
        return true;
    }

    @Override
    public boolean fusedAttentionForward(FusedAttention a, MatrixBatch q, MatrixBatch k, MatrixBatch v, Storage keyMask,
                                         Storage dropoutMask, MatrixBatch o, Storage stats, boolean withBackward) {
        enter();
        return fusedAttention.forward(a, q, k, v, keyMask, dropoutMask, o, stats, withBackward);
    }

    @Override
    public boolean fusedAttentionBackward(FusedAttention a, MatrixBatch q, MatrixBatch k, MatrixBatch v,
                                          Storage keyMask, Storage dropoutMask, MatrixBatch o, MatrixBatch dO,
                                          Storage stats, MatrixBatch dq, MatrixBatch dk, MatrixBatch dv) {
        enter();
        return fusedAttention.backward(a, q, k, v, keyMask, dropoutMask, o, dO, stats, dq, dk, dv);
    }

    @Override
    public String toString() {
        return "CudaBackend[" + properties + "]";
    }
}
