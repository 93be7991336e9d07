package io.jdl.backend;

import io.jdl.device.DType;
import io.jdl.device.Device;

/**
 * The compute kernels behind tensors, one implementation per device kind: {@code CpuBackend} (pure
 * Java, the reference) and {@code CudaBackend} (cuBLAS, cuDNN).
 *
 * <p>Callers (the op families of {@code io.jdl.tensor} and its {@code OptimizerSteps}, the only code that
 * reaches a storage) validate shapes, devices and open state; a backend receives storages
 * of its own kind that are open and large enough, and writes into {@code out}, which may alias an
 * input only where stated. Work may be asynchronous: only {@link #download} waits for it.
 *
 * <p><b>Dtypes.</b> Storage has a {@link DType}; {@link #allocate(long, DType)}, {@link #uploadBytes},
 * {@link #downloadBytes} and {@link #cast} take every dtype; the matrix products and convolutions take half
 * operands too (below), and so do the pointwise primitives (next paragraph). Every other primitive is a float32
 * kernel and throws {@link IllegalStateException} on storage of another dtype (the tensor layer converts or
 * refuses first).
 *
 * <p><b>Pointwise primitives take every float dtype, per operand.</b> {@link #fill}, {@link #axpby}, {@link #mul},
 * {@link #mulScalar} (x and out; s stays float32), {@link #broadcastBinary}, {@link #broadcast}, {@link #addBias},
 * {@link #addChannelBias}, {@link #biasActivation} (x, bias, pre, y), {@link #activation},
 * {@link #activationBackward}, {@link #dropout} (x and y; the mask stays float32: its 1/(1-p) would not survive
 * rounding), {@link #sum}, {@link #channelBiasBackward}, {@link #softmax} and {@link #softmaxBackward} accept
 * storages each of any float dtype (FLOAT32, BFLOAT16, FLOAT16), each operand its own: a bfloat16 + float32 add
 * writing float32, a float32 product plus a bfloat16 bias written as a bfloat16 y, a bfloat16 dy with a bfloat16 x
 * giving a bfloat16 dx. Each element read is widened to float32 (exact), computed exactly as the float32 kernel
 * computes it, and rounded once, to nearest even, into the output's dtype; a {@code fill} value is rounded once.
 * So the result is, bit for bit, the float32 primitive on the widened inputs followed by one {@link #cast} of its
 * output (on CUDA up to the summation order of the reducing primitives {@code sum}, {@code channelBiasBackward},
 * {@code softmax} and {@code softmaxBackward}, which already differ from the CPU in float32). Integer and bool
 * storages throw {@link IllegalStateException} naming the primitive and the dtype.
 *
 * <p><b>Half products.</b> The two {@code matmul}s take A and B of one float dtype (float32, bfloat16 or float16)
 * and C of that dtype or float32 (cublasGemmEx's combinations with float32 compute); {@link #conv2d},
 * {@link #conv2dBackwardData} and {@link #conv2dBackwardFilter} take their three operands of one float dtype
 * (cuDNN's pseudo-half configurations). Products and sums are float32 and a half result is rounded once, to
 * nearest even: the CPU reference widens the half operands, runs its float32 kernel and rounds, so its numbers are
 * the float32 kernel's on the widened values, bit for bit; a GPU differs only in the order of its float32 sums.
 * Other combinations throw {@link IllegalStateException}.
 *
 * <p><b>Threads.</b> A backend is shared by every tensor of its device, but a storage is used by one thread
 * at a time: the layers above confine a graph and its tensors to one thread. {@code CpuBackend} keeps no
 * mutable state and may be called from several threads on distinct storages; {@code CudaBackend} queues on
 * one stream with one cuBLAS and one cuDNN handle and is meant for one thread at a time.
 */
public interface Backend {

    Device device();

    /** Uninitialised storage for {@code numel} float32 elements. */
    default Storage allocate(long numel) {
        return allocate(numel, DType.FLOAT32);
    }

    /** Uninitialised storage for {@code numel} elements of {@code dtype}. */
    Storage allocate(long numel, DType dtype);

    /**
     * Storage of {@code dtype} holding a copy of {@code littleEndian}, the elements in the safetensors layout
     * (little-endian, halves as bit patterns, bool as bytes 0 or 1): {@code length / dtype.bytes()} of them.
     */
    Storage uploadBytes(byte[] littleEndian, DType dtype);

    /** The first {@code numel} elements of {@code src} in the layout of {@link #uploadBytes}, after queued work. */
    byte[] downloadBytes(Storage src, long numel);

    /**
     * dst[i] = src[i] converted from src's dtype to dst's (the rules of {@link DType}'s class comment) for
     * {@code n} elements; a plain copy when the dtypes are the same.
     */
    void cast(Storage src, Storage dst, long n);

    /** Storage holding a copy of {@code data}. */
    Storage upload(float[] data);

    /** The first {@code numel} floats of {@code src}, after all queued work on it has finished. */
    float[] download(Storage src, long numel);

    /**
     * Records the device work that {@code body} queues into a {@link CapturedGraph} instead of running it.
     * Nothing runs until the first {@link CapturedGraph#replay()}. The body must not read device values
     * or upload host arrays (it throws, and the capture is discarded with everything it allocated).
     *
     * @throws UnsupportedOperationException on a device without graphs (the CPU)
     */
    default CapturedGraph captureGraph(Runnable body) {
        throw new UnsupportedOperationException("CUDA graph capture needs a CUDA device; this tensor is on " + device());
    }

    /** Whether {@link #captureGraph} is recording on the calling thread now. */
    default boolean isCapturing() {
        return false;
    }

    /** out[i] = value for every element. */
    void fill(Storage out, float value);

    /**
     * {@code batch} row-major products C_b = op(A_b)·op(B_b) of m×k and k×n matrices, packed one after
     * another (a batch of 1 is a plain matrix product). A is stored k×m when {@code transA}, B n×k when
     * {@code transB}.
     */
    void matmul(boolean transA, boolean transB, int batch, int m, int n, int k, Storage a, Storage b, Storage c);

    /**
     * The same products over a two-level batch of matrices placed anywhere in their storages: C(o, i) =
     * op(A(o, i))·op(B(o, i)) for o < outer, i < inner, each operand located by its {@link MatrixBatch} (stored
     * m×k or k×m when {@code transA}, k×n or n×k when {@code transB}, C m×n). The caller checks that every
     * matrix lies inside its storage, that no two C matrices, and no C and A or B element, overlap, and that
     * k >= 1. The CPU reference's results are bit-identical to its packed {@link #matmul(boolean, boolean, int,
     * int, int, int, Storage, Storage, Storage)} on the same values.
     */
    void matmul(boolean transA, boolean transB, int outer, int inner, int m, int n, int k, MatrixBatch a,
                MatrixBatch b, MatrixBatch c);

    /** out = alpha·a + beta·b, elementwise over {@code n} elements (out may alias a or b). */
    void axpby(float alpha, Storage a, float beta, Storage b, Storage out, long n);

    /** out = a·b elementwise (out may alias a or b). */
    void mul(Storage a, Storage b, Storage out, long n);

    /** out[r][c] = x[r][c] + bias[c] for a rows×cols matrix. */
    void addBias(Storage x, Storage bias, Storage out, int rows, int cols);

    /** For x viewed as [outer, dim, inner]: out[o][i] = Σ_d x[o][d][i]. */
    void sum(Storage x, Storage out, int outer, int dim, int inner);

    // ---- data movement ----

    /** dst[i] = src[i] for {@code n} elements. */
    void copy(Storage src, Storage dst, long n);

    /**
     * A broadcasting binary op reading its operands in place (expand without the copy): over out [d0, d1, d2, d3],
     * out = a·b when {@code multiply}, else alpha·a + beta·b, with a's element (i0, i1, i2, i3) at
     * Σ i_k·aStrides[k] (a stride 0 where a repeats) and b's likewise. out must not overlap a or b.
     */
    void broadcastBinary(boolean multiply, float alpha, float beta, Storage a, int[] aStrides, Storage b,
                         int[] bStrides, Storage out, int[] dims);

    /** Dimensions of {@link #broadcastBinary}'s output: callers merge or pad their shapes to this many. */
    int BROADCAST_RANK = 4;

    /** For out viewed as [outer, dim, inner]: out[o][d][i] = x[o][i] (the backward of {@link #sum}). */
    void broadcast(Storage x, Storage out, int outer, int dim, int inner);

    /** out = x·s[0], where {@code s} holds one element that stays on the device. */
    void mulScalar(Storage x, Storage s, Storage out, long n);

    /** out = x with its axes reordered: out's axis i is x's axis {@code perm[i]}; {@code dims} are x's sizes. */
    void permute(Storage x, Storage out, int[] dims, int[] perm);

    /**
     * Copies between a [outer, size, inner] block and the slice [.., offset, offset + size, ..] of a
     * [outer, total, inner] tensor: into the slice when {@code intoSlice}, else out of it (concat / split).
     */
    void copySlice(Storage block, Storage whole, int outer, int size, int inner, int total, int offset, boolean intoSlice);

    // ---- activations and losses ----

    /**
     * The epilogue of a linear layer or convolution: for x [n, c, hw] (a linear layer's [rows, features] with
     * hw = 1), y = act(x + bias[channel]); pre, unless null, receives x + bias (the pre-activation). pre and y may
     * each be x. This default is the unfused composition (bias, then activation), the reference that a backend's
     * fused kernel must equal on float32 storages; with a half pre or y it would round the sum before the
     * activation, so a backend that takes half operands overrides it (the CPU and CUDA backends do).
     */
    default void biasActivation(Activation act, float param, Storage x, Storage bias, Storage pre, Storage y, int n,
                                int c, int hw) {
        Storage sum = pre != null ? pre : y;
        if (hw == 1) {
            addBias(x, bias, sum, n, c);
        } else {
            addChannelBias(x, bias, sum, n, c, hw);
        }
        activation(act, param, sum, y, (long) n * c * hw);
    }

    /** y = act(x), elementwise. */
    void activation(Activation act, float param, Storage x, Storage y, long n);

    /** dx = act'(x)·dy, given the forward input x and output y. */
    void activationBackward(Activation act, float param, Storage x, Storage y, Storage dy, Storage dx, long n);

    /** Row-wise softmax (or log-softmax) of a rows×cols matrix. */
    void softmax(boolean log, Storage x, Storage y, int rows, int cols);

    /** dx from the forward output y and dy. */
    void softmaxBackward(boolean log, Storage y, Storage dy, Storage dx, int rows, int cols);

    /**
     * Mean softmax cross-entropy in one pass: loss[0] = scale·Σ over rows r with targets[r] != ignoreIndex of
     * (logsumexp(logits[r]) - logits[r][targets[r]]); logSumExp[r] receives each row's log-sum-exp (0 for
     * ignored rows), saved for {@link #crossEntropyBackward}. With no rows, loss[0] = 0.
     */
    void crossEntropy(Storage logits, int[] targets, Storage logSumExp, Storage loss, int rows, int classes,
                      int ignoreIndex, float scale);

    /**
     * dLogits = gradOut[0]·scale·(exp(logits - logSumExp) - onehot(target)) (softmax from the forward's saved
     * logSumExp), rows with ignoreIndex all 0; gradOut is a one-element tensor (not read on the host).
     */
    void crossEntropyBackward(Storage logits, int[] targets, Storage logSumExp, Storage gradOut, Storage dLogits,
                              int rows, int classes, int ignoreIndex, float scale);

    // ---- convolution, pooling, normalisation ----

    /** y = conv(x, w): x [n, c, h, w], w [k, c/groups, r, s], y [n, k, outH, outW], all located by {@code s}. */
    void conv2d(ConvShape s, Storage x, Storage w, Storage y);

    /** dx = the gradient of Σ dy·conv(x, w) with respect to x. */
    void conv2dBackwardData(ConvShape s, Storage w, Storage dy, Storage dx);

    /** dw = the gradient of Σ dy·conv(x, w) with respect to w. */
    void conv2dBackwardFilter(ConvShape s, Storage x, Storage dy, Storage dw);

    /**
     * y = conv(x, w) + bias[channel], the bias (float32, [k]; null for none) added in float32 before a half y is
     * rounded. What the tensor layer calls: a backend whose library adds the bias inside its convolution (oneDNN on
     * the CPU) saves a pass over y; by default {@link #conv2d(ConvShape, Storage, Storage, Storage)}, then
     * {@link #addChannelBias}.
     */
    default void conv2d(ConvShape s, Storage x, Storage w, Storage bias, Storage y) {
        conv2d(s, x, w, y);
        if (bias != null) {
            addChannelBias(y, bias, y, s.n(), s.k(), s.outH() * s.outW());
        }
    }

    /**
     * The gradients of Σ dy·(conv(x, w) + bias) from one dy: dx, dw and db, each overwritten, each skipped when
     * null (x is read only for dw, w only for dx). What the tensor layer calls: a backend may share work between
     * the directions (the CPU's oneDNN path brings dy into its kernels' layout once, and sums db inside the
     * backward-weights kernel); by default the three primitives in turn.
     */
    default void conv2dBackward(ConvShape s, Storage x, Storage w, Storage dy, Storage dx, Storage dw, Storage db) {
        if (dx != null) {
            conv2dBackwardData(s, w, dy, dx);
        }
        if (dw != null) {
            conv2dBackwardFilter(s, x, dy, dw);
        }
        if (db != null) {
            channelBiasBackward(dy, db, s.n(), s.k(), s.outH() * s.outW());
        }
    }

    /** out[n][c][i] = x[n][c][i] + bias[c] over [n, c, hw]. */
    void addChannelBias(Storage x, Storage bias, Storage out, int n, int c, int hw);

    /** db[c] = Σ_{n,i} dy[n][c][i]. */
    void channelBiasBackward(Storage dy, Storage db, int n, int c, int hw);

    void pool2d(PoolShape s, Storage x, Storage y);

    void pool2dBackward(PoolShape s, Storage x, Storage y, Storage dy, Storage dx);

    /**
     * Batch norm over [n, c, hw] with batch statistics: y, saveMean[c], saveInvStd[c], and running
     * mean/var updated in place as running = (1 - momentum)·running + momentum·batch (unbiased variance).
     */
    void batchNormTrain(int n, int c, int hw, Storage x, Storage gamma, Storage beta, Storage y, Storage runningMean,
                        Storage runningVar, Storage saveMean, Storage saveInvStd, float momentum, float eps);

    /** Batch norm with the running statistics. */
    void batchNormInference(int n, int c, int hw, Storage x, Storage gamma, Storage beta, Storage runningMean,
                            Storage runningVar, Storage y, float eps);

    /** dx, dGamma, dBeta (all overwritten) from the saved batch statistics. */
    void batchNormBackward(int n, int c, int hw, Storage x, Storage dy, Storage gamma, Storage saveMean,
                           Storage saveInvStd, Storage dx, Storage dGamma, Storage dBeta, float eps);

    /** mask[i] = keep ? 1/(1-p) : 0 with keep = DropoutMask.keep(seed, i, p); y = x·mask. */
    void dropout(Storage x, Storage y, Storage mask, long n, float p, long seed);

    // ---- optimizer steps (in place, PyTorch semantics) ----

    void sgdStep(Storage param, Storage grad, Storage momentumBuf, long n, float lr, float momentum, float dampening,
                 float weightDecay, boolean nesterov, boolean firstStep);

    void adamStep(Storage param, Storage grad, Storage m, Storage v, long n, float lr, float beta1, float beta2,
                  float eps, float weightDecay, boolean decoupled, int step);

    /**
     * GradScaler's unscale of one gradient: grad[i] *= invScale, and foundInf[0] = 1 when any grad[i] was inf or
     * NaN (otherwise foundInf is left as it is, so one zeroed flag collects a whole step without a host sync).
     */
    void ampUnscale(Storage grad, long n, float invScale, Storage foundInf);

    /**
     * {@link #sgdStep} on every tensor i of the arrays (PyTorch's {@code foreach}): one launch on a GPU. Here,
     * one call per tensor. {@code momentumBufs} is null when momentum is 0.
     */
    default void sgdSteps(Storage[] params, Storage[] grads, Storage[] momentumBufs, long[] sizes, float lr,
                          float momentum, float dampening, float weightDecay, boolean nesterov, boolean firstStep) {
        for (int i = 0; i < params.length; i++) {
            sgdStep(params[i], grads[i], momentumBufs == null ? null : momentumBufs[i], sizes[i], lr, momentum, dampening,
                    weightDecay, nesterov, firstStep);
        }
    }

    /** {@link #adamStep} on every tensor i, all at the same {@code step} (PyTorch's {@code foreach}). */
    default void adamSteps(Storage[] params, Storage[] grads, Storage[] m, Storage[] v, long[] sizes, float lr,
                           float beta1, float beta2, float eps, float weightDecay, boolean decoupled, int step) {
        for (int i = 0; i < params.length; i++) {
            adamStep(params[i], grads[i], m[i], v[i], sizes[i], lr, beta1, beta2, eps, weightDecay, decoupled, step);
        }
    }
    // ---- transformer operations ----

    /** out[i, :] = weight[ids[i], :] for every id (validated by the caller: inside [0, vocab)). */
    void embedding(Storage weight, int[] ids, Storage out, int dim);

    /** dWeight [vocab, dim] overwritten: zeros, then dWeight[ids[i], :] += dOut[i, :] (repeated ids accumulate). */
    void embeddingBackward(Storage dOut, int[] ids, Storage dWeight, int vocab, int dim);

    /**
     * Layer norm over the rows of x [rows, cols]: mean[r], rstd[r] = 1/sqrt(var + eps) (biased variance),
     * y = (x - mean)·rstd·gamma + beta; gamma / beta may be null (ones / zeros).
     */
    void layerNorm(Storage x, Storage gamma, Storage beta, Storage y, Storage mean, Storage rstd, int rows, int cols,
                   float eps);

    /**
     * Layer norm backward from the saved mean and rstd: dx, and dGamma / dBeta (either may be null when not
     * wanted), all overwritten.
     */
    void layerNormBackward(Storage x, Storage gamma, Storage mean, Storage rstd, Storage dy, Storage dx, Storage dGamma,
                           Storage dBeta, int rows, int cols);

    /**
     * Attention softmax over the rows of scores [batch, heads, tq, tk]: key j of query i (batch b) is allowed
     * unless (causal and j > i) or keyMask[b·tk + j] == 0 (keyMask [batch, tk] or null); probs =
     * softmax(scale·scores) over the allowed keys, 0 elsewhere and in rows without allowed keys. probs may be
     * scores.
     */
    void attentionSoftmax(Storage scores, Storage keyMask, Storage probs, int batch, int heads, int tq, int tk,
                          float scale, boolean causal);

    /** dScores = scale·p·(dp - rowsum(dp·p)) over rows of [rows, cols]; dScores may be dp. */
    void attentionSoftmaxBackward(Storage p, Storage dp, Storage dScores, int rows, int cols, float scale);

    /** Whether {@link #fusedAttentionForward} may run anything here (false: it always answers false). */
    default boolean hasFusedAttention() {
        return false;
    }

    /**
     * Fused (flash) scaled dot-product attention, forward: o = softmax(scale·q·kᵀ + masks)·v without the
     * [T, T] scores in memory, and stats [B, H, T] float32 (each query's log-sum-exp, kept for the backward).
     * q, k, v, o: [B, H, T, D] of {@code a.dtype()}, located by {@link MatrixBatch}es (outer = batch, inner =
     * head), so a fused projection is read in place. keyMask: null, or [B, T] floats when {@code a.keyMask()}:
     * non-zero keeps key j; a query that sees no key gets a zero output. dropoutMask: null, or [B, H, T, T]
     * floats when {@code a.dropout()}, multiplied into the probabilities ({@link #dropout}'s mask: 0 or
     * 1 / (1 - p)), the backward taking the same mask. Returns false, writing nothing, when
     * this backend has no fused kernel for the configuration (or, when {@code withBackward}, none for its
     * backward): the caller then runs its GEMM attention. A backend answers the same for the same configuration
     * every time, and decides it once. The CPU backend has none.
     */
    default boolean fusedAttentionForward(FusedAttention a, MatrixBatch q, MatrixBatch k, MatrixBatch v,
                                          Storage keyMask, Storage dropoutMask, MatrixBatch o, Storage stats,
                                          boolean withBackward) {
        return false;
    }

    /**
     * The backward of {@link #fusedAttentionForward} from its inputs, output o, stats and dO (o's layout): dq,
     * dk, dv (q's, k's and v's layouts) overwritten. False when this backend has no fused kernel for it.
     */
    default boolean fusedAttentionBackward(FusedAttention a, MatrixBatch q, MatrixBatch k, MatrixBatch v,
                                           Storage keyMask, Storage dropoutMask, MatrixBatch o, MatrixBatch dO,
                                           Storage stats,
                                           MatrixBatch dq, MatrixBatch dk, MatrixBatch dv) {
        return false;
    }
}
