package io.jdl.backend.cuda;

import io.jdl.backend.Activation;
import io.jdl.backend.Backend;
import io.jdl.backend.ConvShape;
import io.jdl.backend.Device;
import io.jdl.backend.PoolShape;
import io.jdl.backend.Storage;
import io.jdl.cublas.Cublas;
import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.CudaDevice;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.HostToDeviceStaging;
import io.jdl.cuda.NativeKernels;
import io.jdl.cudnn.ActivationDescriptor;
import io.jdl.cudnn.ConvolutionPlan;
import io.jdl.cudnn.Cudnn;
import io.jdl.cudnn.OpTensorDescriptor;
import io.jdl.cudnn.PoolingDescriptor;
import io.jdl.cudnn.ReduceDescriptor;
import io.jdl.cudnn.TensorDescriptor;
import io.jdl.cuda.Stream;
import java.util.HashMap;
import java.util.Map;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Tensors on one CUDA device: a stream, a caching allocator, and a cuBLAS and a cuDNN handle bound to
 * that stream. Every operation is queued on the stream; only {@link #download} waits for it.
 *
 * <p>One backend exists per device for the life of the process ({@link #get(int)}). Like the library
 * handles it wraps, it is meant for one thread at a time.
 */
public final class CudaBackend implements Backend {
    private static final ConcurrentHashMap<Integer, CudaBackend> BACKENDS = new ConcurrentHashMap<>();

    private final Device device;
    private final CudaDevice properties;
    private final Stream stream;
    private final CachingAllocator allocator;
    private final Cublas cublas;
    private final Cudnn cudnn;
    private final HostToDeviceStaging staging;
    private final ActivationDescriptor reluDescriptor;
    private final ActivationDescriptor sigmoidDescriptor;
    private final ActivationDescriptor tanhDescriptor;
    /** Convolution algorithms and descriptors, chosen once per shape. */
    private final Map<ConvShape, ConvolutionPlan> convPlans = new HashMap<>();
    private final OpTensorDescriptor mulDescriptor;
    private final ReduceDescriptor sumDescriptor;

    private CudaBackend(int index) {
        this.properties = CudaDevice.get(index);
        properties.makeCurrent();
        this.device = Device.cuda(index);
        this.stream = Stream.create();
        this.allocator = new CachingAllocator();
        this.cublas = Cublas.create(stream);
        this.cudnn = Cudnn.create(stream);
        this.staging = new HostToDeviceStaging(stream);
        this.reluDescriptor = new ActivationDescriptor(ActivationDescriptor.Mode.RELU);
        this.sigmoidDescriptor = new ActivationDescriptor(ActivationDescriptor.Mode.SIGMOID);
        this.tanhDescriptor = new ActivationDescriptor(ActivationDescriptor.Mode.TANH);
        this.mulDescriptor = new OpTensorDescriptor(OpTensorDescriptor.Op.MUL);
        this.sumDescriptor = new ReduceDescriptor(ReduceDescriptor.Op.SUM);
    }

    /** The backend of CUDA device {@code index}; throws {@code CudaUnavailableException} without one. */
    public static CudaBackend get(int index) {
        CudaDevice.requireAvailable();
        return BACKENDS.computeIfAbsent(index, CudaBackend::new);
    }

    public CudaDevice properties() {
        return properties;
    }

    public CachingAllocator allocator() {
        return allocator;
    }

    public Stream stream() {
        return stream;
    }

    public Cublas cublas() {
        return cublas;
    }

    public Cudnn cudnn() {
        return cudnn;
    }

    /** Waits for all queued work. */
    public void synchronize() {
        stream.synchronize();
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
        return new CudaStorage(device, allocator.allocate(numel * Float.BYTES), numel);
    }

    /** Asynchronous: staged through pinned memory (see {@link HostToDeviceStaging} for when the host waits). */
    @Override
    public Storage upload(float[] data) {
        Storage s = allocate(data.length);
        staging.upload(data, mem(s));
        return s;
    }

    @Override
    public float[] download(Storage src, long numel) {
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
    public void fill(Storage out, float value) {
        try (TensorDescriptor d = vector(out.numel())) {
            cudnn.setTensor(d, mem(out), value);
        }
    }

    @Override
    public void matmul(boolean transA, boolean transB, int batch, int m, int n, int k, Storage a, Storage b, Storage c) {
        cublas.gemmStridedBatched(transA, transB, m, n, k, 1f, mem(a), (long) m * k, mem(b), (long) k * n, 0f, mem(c),
                (long) m * n, batch);
    }

    @Override
    public void axpby(float alpha, Storage a, float beta, Storage b, Storage out, long n) {
        cublas.geam(false, false, 1, Math.toIntExact(n), alpha, mem(a), beta, mem(b), mem(out));
    }

    @Override
    public void mul(Storage a, Storage b, Storage out, long n) {
        try (TensorDescriptor d = vector(n)) {
            cudnn.opTensor(mulDescriptor, 1f, d, mem(a), 1f, d, mem(b), 0f, d, mem(out));
        }
    }

    @Override
    public void addBias(Storage x, Storage bias, Storage out, int rows, int cols) {
        if (x != out) {
            stream.copyOnDevice(mem(x), 0, mem(out), 0, (long) rows * cols * Float.BYTES);
        }
        try (TensorDescriptor b = TensorDescriptor.of(1, cols); TensorDescriptor o = TensorDescriptor.of(rows, cols)) {
            cudnn.addTensor(1f, b, mem(bias), 1f, o, mem(out));
        }
    }

    @Override
    public void sum(Storage x, Storage out, int outer, int dim, int inner) {
        try (TensorDescriptor in = TensorDescriptor.of(outer, dim, inner);
             TensorDescriptor result = TensorDescriptor.of(outer, 1, inner)) {
            try (DeviceMemory workspace = workspace(cudnn.reductionWorkspaceBytes(sumDescriptor, in, result))) {
                cudnn.reduce(sumDescriptor, workspace, 1f, in, mem(x), 0f, result, mem(out));
            }
        }
    }

    // ---- data movement ----

    @Override
    public void copy(Storage src, Storage dst, long n) {
        if (n > 0) {
            stream.copyOnDevice(mem(src), 0, mem(dst), 0, n * Float.BYTES);
        }
    }

    @Override
    public void broadcast(Storage x, Storage out, int outer, int dim, int inner) {
        // cudnnAddTensor broadcasts A's size-1 dimensions over C's; beta = 0 overwrites C.
        try (TensorDescriptor a = TensorDescriptor.of(outer, 1, inner);
             TensorDescriptor c = TensorDescriptor.of(outer, dim, inner)) {
            cudnn.addTensor(1f, a, mem(x), 0f, c, mem(out));
        }
    }

    @Override
    public void mulScalar(Storage x, Storage s, Storage out, long n) {
        try (TensorDescriptor d = vector(n); TensorDescriptor one = vector(1)) {
            cudnn.opTensor(mulDescriptor, 1f, d, mem(x), 1f, one, mem(s), 0f, d, mem(out));
        }
    }

    @Override
    public void permute(Storage x, Storage out, int[] dims, int[] perm) {
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

    private ActivationDescriptor cudnnActivation(Activation act) {
        return switch (act) {
            case RELU -> reluDescriptor;
            case SIGMOID -> sigmoidDescriptor;
            case TANH -> tanhDescriptor;
            case LEAKY_RELU, GELU -> null;
        };
    }

    @Override
    public void activation(Activation act, float param, Storage x, Storage y, long n) {
        switch (act) {
            case LEAKY_RELU -> NativeKernels.get().leakyRelu(stream, mem(x), mem(y), n, param);
            case GELU -> NativeKernels.get().gelu(stream, mem(x), mem(y), n);
            default -> {
                try (TensorDescriptor d = vector(n)) {
                    cudnn.activationForward(cudnnActivation(act), 1f, d, mem(x), 0f, d, mem(y));
                }
            }
        }
    }

    @Override
    public void activationBackward(Activation act, float param, Storage x, Storage y, Storage dy, Storage dx, long n) {
        switch (act) {
            case LEAKY_RELU -> NativeKernels.get().leakyReluBackward(stream, mem(x), mem(dy), mem(dx), n, param);
            case GELU -> NativeKernels.get().geluBackward(stream, mem(x), mem(dy), mem(dx), n);
            default -> {
                try (TensorDescriptor d = vector(n)) {
                    cudnn.activationBackward(cudnnActivation(act), 1f, d, mem(y), mem(dy), d, mem(x), 0f, mem(dx));
                }
            }
        }
    }

    @Override
    public void softmax(boolean log, Storage x, Storage y, int rows, int cols) {
        try (TensorDescriptor d = TensorDescriptor.of(rows, cols, 1, 1)) {
            cudnn.softmaxForward(log, d, mem(x), mem(y));
        }
    }

    @Override
    public void softmaxBackward(boolean log, Storage y, Storage dy, Storage dx, int rows, int cols) {
        try (TensorDescriptor d = TensorDescriptor.of(rows, cols, 1, 1)) {
            cudnn.softmaxBackward(log, d, mem(y), mem(dy), mem(dx));
        }
    }

    /** The targets as int32 on the device, copied asynchronously (the tensor layer validated them). */
    private DeviceMemory uploadInts(int[] values) {
        DeviceMemory d = allocator.allocate((long) values.length * Integer.BYTES);
        staging.upload(values, d);
        return d;
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
            lastTargetsMemory = uploadInts(targets);
            lastTargets = targets;
        }
        return lastTargetsMemory;
    }

    private int[] lastTargets;
    private DeviceMemory lastTargetsMemory;

    @Override
    public void crossEntropy(Storage logits, int[] targets, Storage lossPerRow, int rows, int classes, int ignoreIndex) {
        NativeKernels.get().softmaxCrossEntropy(stream, mem(logits), deviceTargets(targets), mem(lossPerRow), rows,
                classes, ignoreIndex);
    }

    @Override
    public void crossEntropyBackward(Storage logits, int[] targets, Storage dLogits, int rows, int classes,
                                     int ignoreIndex, float scale) {
        NativeKernels.get().softmaxCrossEntropyBackward(stream, mem(logits), deviceTargets(targets), mem(dLogits), rows,
                classes, ignoreIndex, scale);
    }

    // ---- convolution ----

    private ConvolutionPlan plan(ConvShape s) {
        return convPlans.computeIfAbsent(s, k -> new ConvolutionPlan(cudnn, k.n(), k.c(), k.h(), k.w(), k.k(), k.r(),
                k.s(), k.padH(), k.padW(), k.strideH(), k.strideW(), k.dilationH(), k.dilationW(), k.groups(), k.outH(),
                k.outW(), cublas.tf32()));
    }

    /** A workspace block from the caching allocator (null for none); freed blocks are reused at once. */
    private DeviceMemory workspace(long bytes) {
        return bytes > 0 ? allocator.allocate(bytes) : null;
    }

    @Override
    public void conv2d(ConvShape s, Storage x, Storage w, Storage y) {
        ConvolutionPlan p = plan(s);
        try (DeviceMemory ws = workspace(p.forwardWorkspaceBytes())) {
            p.forward(cudnn, mem(x), mem(w), mem(y), ws);
        }
    }

    @Override
    public void conv2dBackwardData(ConvShape s, Storage w, Storage dy, Storage dx) {
        ConvolutionPlan p = plan(s);
        try (DeviceMemory ws = workspace(p.backwardDataWorkspaceBytes())) {
            p.backwardData(cudnn, mem(w), mem(dy), mem(dx), ws);
        }
    }

    @Override
    public void conv2dBackwardFilter(ConvShape s, Storage x, Storage dy, Storage dw) {
        ConvolutionPlan p = plan(s);
        try (DeviceMemory ws = workspace(p.backwardFilterWorkspaceBytes())) {
            p.backwardFilter(cudnn, mem(x), mem(dy), mem(dw), ws);
        }
    }

    @Override
    public void addChannelBias(Storage x, Storage bias, Storage out, int n, int c, int hw) {
        if (x != out) {
            copy(x, out, (long) n * c * hw);
        }
        try (TensorDescriptor b = TensorDescriptor.of(1, c, 1, 1); TensorDescriptor o = TensorDescriptor.of(n, c, hw, 1)) {
            cudnn.addTensor(1f, b, mem(bias), 1f, o, mem(out));
        }
    }

    @Override
    public void channelBiasBackward(Storage dy, Storage db, int n, int c, int hw) {
        try (TensorDescriptor d = TensorDescriptor.of(n, c, hw, 1); TensorDescriptor b = TensorDescriptor.of(1, c, 1, 1)) {
            cudnn.convolutionBackwardBias(d, mem(dy), b, mem(db));
        }
    }

    // ---- pooling ----

    private static PoolingDescriptor poolingDescriptor(PoolShape s) {
        return new PoolingDescriptor(s.max() ? PoolingDescriptor.Mode.MAX : PoolingDescriptor.Mode.AVERAGE_INCLUDE_PADDING,
                s.kh(), s.kw(), s.padH(), s.padW(), s.strideH(), s.strideW());
    }

    @Override
    public void pool2d(PoolShape s, Storage x, Storage y) {
        try (PoolingDescriptor p = poolingDescriptor(s);
             TensorDescriptor xd = TensorDescriptor.of(s.n(), s.c(), s.h(), s.w());
             TensorDescriptor yd = TensorDescriptor.of(s.n(), s.c(), s.outH(), s.outW())) {
            cudnn.poolingForward(p, xd, mem(x), yd, mem(y));
        }
    }

    @Override
    public void pool2dBackward(PoolShape s, Storage x, Storage y, Storage dy, Storage dx) {
        try (PoolingDescriptor p = poolingDescriptor(s);
             TensorDescriptor xd = TensorDescriptor.of(s.n(), s.c(), s.h(), s.w());
             TensorDescriptor yd = TensorDescriptor.of(s.n(), s.c(), s.outH(), s.outW())) {
            cudnn.poolingBackward(p, yd, mem(y), mem(dy), xd, mem(x), mem(dx));
        }
    }

    // ---- batch norm ----

    @Override
    public void batchNormTrain(int n, int c, int hw, Storage x, Storage gamma, Storage beta, Storage y,
                               Storage runningMean, Storage runningVar, Storage saveMean, Storage saveInvStd,
                               float momentum, float eps) {
        try (TensorDescriptor xd = TensorDescriptor.of(n, c, hw, 1); TensorDescriptor pd = TensorDescriptor.of(1, c, 1, 1)) {
            cudnn.batchNormForwardTraining(xd, mem(x), mem(y), pd, mem(gamma), mem(beta), momentum, mem(runningMean),
                    mem(runningVar), eps, mem(saveMean), mem(saveInvStd));
        }
    }

    @Override
    public void batchNormInference(int n, int c, int hw, Storage x, Storage gamma, Storage beta, Storage runningMean,
                                   Storage runningVar, Storage y, float eps) {
        try (TensorDescriptor xd = TensorDescriptor.of(n, c, hw, 1); TensorDescriptor pd = TensorDescriptor.of(1, c, 1, 1)) {
            cudnn.batchNormForwardInference(xd, mem(x), mem(y), pd, mem(gamma), mem(beta), mem(runningMean),
                    mem(runningVar), eps);
        }
    }

    @Override
    public void batchNormBackward(int n, int c, int hw, Storage x, Storage dy, Storage gamma, Storage saveMean,
                                  Storage saveInvStd, Storage dx, Storage dGamma, Storage dBeta, float eps) {
        try (TensorDescriptor xd = TensorDescriptor.of(n, c, hw, 1); TensorDescriptor pd = TensorDescriptor.of(1, c, 1, 1)) {
            cudnn.batchNormBackward(xd, mem(x), mem(dy), mem(dx), pd, mem(gamma), mem(dGamma), mem(dBeta), eps,
                    mem(saveMean), mem(saveInvStd));
        }
    }

    @Override
    public void dropout(Storage x, Storage y, Storage mask, long n, float p, long seed) {
        NativeKernels.get().dropout(stream, mem(x), mem(y), mem(mask), n, p, seed);
    }

    // ---- optimizers: fused kernels, parameters never leave the device ----

    @Override
    public void sgdStep(Storage param, Storage grad, Storage momentumBuf, long n, float lr, float momentum,
                        float dampening, float weightDecay, boolean nesterov, boolean firstStep) {
        NativeKernels.get().sgdStep(stream, mem(param), mem(grad), momentumBuf == null ? null : mem(momentumBuf), n, lr,
                momentum, dampening, weightDecay, nesterov, firstStep);
    }

    @Override
    public void adamStep(Storage param, Storage grad, Storage m, Storage v, long n, float lr, float beta1, float beta2,
                         float eps, float weightDecay, boolean decoupled, int step) {
        NativeKernels.get().adamStep(stream, mem(param), mem(grad), mem(m), mem(v), n, lr, beta1, beta2, eps,
                weightDecay, decoupled, step);
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
        try (DeviceMemory d = uploadInts(ids)) {
            NativeKernels.get().embeddingForward(stream, mem(weight), d, mem(out), ids.length, dim);
        }
    }

    @Override
    public void embeddingBackward(Storage dOut, int[] ids, Storage dWeight, int vocab, int dim) {
        fill(dWeight, 0f);
        try (DeviceMemory d = uploadInts(ids)) {
            NativeKernels.get().embeddingBackward(stream, mem(dOut), d, mem(dWeight), ids.length, dim);
        }
    }

    @Override
    public void layerNorm(Storage x, Storage gamma, Storage beta, Storage y, Storage mean, Storage rstd, int rows,
                          int cols, float eps) {
        NativeKernels.get().layerNorm(stream, mem(x), gamma == null ? null : mem(gamma), beta == null ? null : mem(beta),
                mem(y), mem(mean), mem(rstd), rows, cols, eps);
    }

    @Override
    public void layerNormBackward(Storage x, Storage gamma, Storage mean, Storage rstd, Storage dy, Storage dx,
                                  Storage dGamma, Storage dBeta, int rows, int cols) {
        NativeKernels.get().layerNormBackward(stream, mem(x), gamma == null ? null : mem(gamma), mem(mean), mem(rstd),
                mem(dy), mem(dx), dGamma == null ? null : mem(dGamma), dBeta == null ? null : mem(dBeta), rows, cols);
    }

    @Override
    public void attentionSoftmax(Storage scores, Storage keyMask, Storage probs, int batch, int heads, int tq, int tk,
                                 float scale, boolean causal) {
        NativeKernels.get().attentionSoftmax(stream, mem(scores), keyMask == null ? null : mem(keyMask), mem(probs),
                batch, heads, tq, tk, scale, causal);
    }

    @Override
    public void attentionSoftmaxBackward(Storage p, Storage dp, Storage dScores, int rows, int cols, float scale) {
        NativeKernels.get().attentionSoftmaxBackward(stream, mem(p), mem(dp), mem(dScores), rows, cols, scale);
    }
}
