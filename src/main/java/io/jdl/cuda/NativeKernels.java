package io.jdl.cuda;

import static io.jdl.cuda.MixedPrecisionKernels.Element.F32;

import io.jdl.cuda.KernelLibrary.Kernel;
import io.jdl.cuda.KernelLibrary.Launcher;
import io.jdl.cuda.MixedPrecisionKernels.Element;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * jdl's own GPU kernels, for what cuBLAS and cuDNN lack: leaky ReLU and GELU (forward and backward),
 * softmax cross-entropy (forward and backward), SGD and Adam(W) steps, dropout with a counter-based
 * mask that {@code io.jdl.backend.DropoutMask} reproduces bit for bit on the CPU, embedding (forward and
 * backward), the masked attention softmax (forward and backward), layer norm
 * (forward and backward), float32 <-> bfloat16 / float16 conversion, and GradScaler's unscale with its
 * non-finite check.
 *
 * <p>The kernels come from {@code native/jdl_kernels.cu}, built by {@code scripts/build-native} into a
 * fatbin (SASS for sm_80 and sm_90, PTX for compute_90 that newer GPUs JIT-compile) committed as the
 * class-path resource {@value #RESOURCE}. The kernel table and the launch mechanics are {@link KernelLibrary}. {@link #get()} loads it once, with {@code cudaLibraryLoadData},
 * into a context-independent {@code cudaLibrary_t}; its kernels can be launched on any device.
 *
 * <h2>Calls</h2>
 * Every method queues one or two kernels on {@code stream} and returns at once, without waiting for
 * them: results are visible after {@link Stream#synchronize()} or to later work on the same stream. The
 * device that owns the stream and the buffers must be the calling thread's current device. Buffers are
 * float32 unless said otherwise; "int32" buffers hold Java {@code int}s. Sizes are element counts.
 *
 * <p>Before anything is queued, each method checks its arguments and throws
 * {@link IllegalArgumentException} naming the operand when a count is negative or a buffer's
 * {@link DeviceMemory#bytes()} is smaller than the elements it must hold (larger buffers are fine: only
 * the leading elements are used), {@link NullPointerException} for a missing required argument, and
 * {@link IllegalStateException} for a closed buffer or stream. Errors the CUDA runtime reports for the
 * launch are thrown as {@link CudaException} with the runtime's status name; errors during the kernel's
 * execution surface, as with any CUDA work, at the next synchronising call.
 *
 * <h2>Ownership and threads</h2>
 * The methods never keep, close or free the buffers and streams they are given: they belong to the
 * caller, who must keep them open until the queued work has finished (as with any asynchronous CUDA
 * call). The loaded library belongs to this class and lives as long as the process. An instance has no
 * mutable state (each launch marshals its arguments in its own confined {@link Arena}, which
 * {@code cudaLaunchKernel} copies before returning), so it may be used from any number of threads at once.
 *
 * <p>Aliasing: an output may be the same buffer as the input for the elementwise kernels, for
 * {@code LossKernels.crossEntropyBackward} ({@code dLogits == logits}), {@code layerNorm} ({@code y == x}) and
 * {@code layerNormBackward} ({@code dx == dy} or {@code dx == x}); other outputs must not overlap inputs.
 */
public final class NativeKernels {

    /** Class-path resource holding the fatbin built by {@code scripts/build-native}. */
    public static final String RESOURCE = "/io/jdl/native/jdl_kernels.fatbin";

    /** Threads per block; the row kernels need exactly this many (JDL_BLOCK in the .cu). */
    static final int BLOCK = 256;

    /** Columns per block of {@code jdl_layer_norm_backward_columns} (JDL_COL_TILE in the .cu). */
    static final int COL_TILE = 32;

    /** Cap on the grid of the grid-stride kernels: enough blocks to fill any current GPU several times. */
    static final int MAX_ELEMENTWISE_BLOCKS = 65536;

    private static volatile NativeKernels instance;

    private final Launcher launcher;
    private final PointwiseKernels pointwise;
    private final MultiTensorKernels multiTensor;
    private final MixedPrecisionKernels mixedPrecision;
    private final LossKernels losses;
    private final AttentionMaskKernels attentionMasks;

    NativeKernels(Launcher launcher) {
        this.launcher = Objects.requireNonNull(launcher, "launcher");
        this.pointwise = new PointwiseKernels(this);
        this.multiTensor = new MultiTensorKernels(this);
        this.mixedPrecision = new MixedPrecisionKernels(this);
        this.losses = new LossKernels(this);
        this.attentionMasks = new AttentionMaskKernels(this);
    }

    /** The key-padding kernels around cuDNN's fused attention, with the same contract as this class. */
    public AttentionMaskKernels attentionMasks() {
        return attentionMasks;
    }

    /** The half-precision conversions and GradScaler's unscale, with the same contract as this class. */
    public MixedPrecisionKernels mixedPrecision() {
        return mixedPrecision;
    }

    /** Softmax cross-entropy, one launch each way, with the same contract as this class. */
    public LossKernels losses() {
        return losses;
    }

    /** The multi-tensor (foreach) optimizer steps: one launch for all parameters. */
    public MultiTensorKernels multiTensor() {
        return multiTensor;
    }

    /** The pointwise arithmetic, activation and axis-sum kernels, with the same contract as this class. */
    public PointwiseKernels pointwise() {
        return pointwise;
    }

    /**
     * The kernels, loading the fatbin on the first call (later calls return the same instance).
     *
     * @throws CudaUnavailableException where no CUDA driver or device is usable, with the reason
     * @throws CudaException when the runtime cannot load the fatbin or find a kernel in it (for example
     *     {@code cudaErrorUnsupportedPtxVersion} when the driver is older than the CUDA 13 compiler)
     * @throws IllegalStateException when the resource is missing or not a fatbin
     */
    public static NativeKernels get() {
        NativeKernels k = instance;
        if (k == null) {
            synchronized (NativeKernels.class) {
                k = instance;
                if (k == null) {
                    CudaDevice.requireAvailable();
                    k = new NativeKernels(KernelLibrary.LibraryLauncher.load(KernelLibrary.readFatbin()));
                    instance = k;
                }
            }
        }
        return k;
    }

    // ---------------------------------------------------------------------------------------------
    // Activations

    // Leaky ReLU and GELU on float32 buffers: PointwiseKernels' activations, which also take half operands.

    /** {@code y[i] = x[i] > 0 ? x[i] : slope * x[i]} for {@code i < n}, float32. */
    public void leakyRelu(Stream stream, DeviceMemory x, DeviceMemory y, long n, float slope) {
        pointwise.activation(stream, PointwiseKernels.Activation.LEAKY_RELU, slope, x, F32, y, F32, n);
    }

    /** {@code dx[i] = x[i] > 0 ? dy[i] : slope * dy[i]} for {@code i < n}, float32. */
    public void leakyReluBackward(Stream stream, DeviceMemory x, DeviceMemory dy, DeviceMemory dx, long n, float slope) {
        pointwise.activationBackward(stream, PointwiseKernels.Activation.LEAKY_RELU, slope, x, F32, dy, F32, dx, F32, n);
    }

    /** Exact GELU: {@code y[i] = x[i] * 0.5 * (1 + erf(x[i] / sqrt(2)))} for {@code i < n}, float32. */
    public void gelu(Stream stream, DeviceMemory x, DeviceMemory y, long n) {
        pointwise.activation(stream, PointwiseKernels.Activation.GELU, 0f, x, F32, y, F32, n);
    }

    /** {@code dx[i] = dy[i] * (Phi(x[i]) + x[i] * phi(x[i]))}, the derivative of exact GELU; {@code i < n}, float32. */
    public void geluBackward(Stream stream, DeviceMemory x, DeviceMemory dy, DeviceMemory dx, long n) {
        pointwise.activationBackward(stream, PointwiseKernels.Activation.GELU, 0f, x, F32, dy, F32, dx, F32, n);
    }

    // ---------------------------------------------------------------------------------------------
    // Optimisers

    /**
     * One step of {@code torch.optim.SGD} on {@code n} parameters:
     * {@code g = grad + weightDecay * param}; if {@code momentum != 0},
     * {@code buf = firstStep ? g : momentum * buf + (1 - dampening) * g} and
     * {@code g = nesterov ? g + momentum * buf : buf}; then {@code param -= lr * g}.
     *
     * @param momentumBuf the momentum buffer, updated in place; may be {@code null} when {@code momentum == 0}
     */
    public void sgdStep(Stream stream, DeviceMemory param, DeviceMemory grad, DeviceMemory momentumBuf, long n,
            float lr, float momentum, float dampening, float weightDecay, boolean nesterov, boolean firstStep) {
        checkStream(stream);
        checkCount("n", n);
        requireFloats("param", param, n);
        requireFloats("grad", grad, n);
        if (momentum != 0f) {
            if (momentumBuf == null) {
                throw new IllegalArgumentException("momentumBuf is null but momentum is " + momentum);
            }
            requireFloats("momentumBuf", momentumBuf, n);
        }
        if (n > 0) {
            MemorySegment buf = momentum != 0f ? momentumBuf.pointer() : MemorySegment.NULL;
            launch(Kernel.SGD_STEP, stream, elementwiseGrid(n), BLOCK, param.pointer(), grad.pointer(), buf, n, lr,
                    momentum, dampening, weightDecay, nesterov ? 1 : 0, firstStep ? 1 : 0);
        }
    }

    /**
     * One step of {@code torch.optim.Adam} ({@code decoupled == false}: {@code g = grad + weightDecay * param})
     * or {@code torch.optim.AdamW} ({@code decoupled == true}: {@code param *= 1 - lr * weightDecay}) on
     * {@code n} parameters, without amsgrad:
     * {@code m = beta1 * m + (1 - beta1) * g}, {@code v = beta2 * v + (1 - beta2) * g * g},
     * {@code param -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)}.
     * {@code m} and {@code v} start zeroed (the caller's job) and are updated in place.
     *
     * @param step the number of this step, counting from 1
     */
    public void adamStep(Stream stream, DeviceMemory param, DeviceMemory grad, DeviceMemory m, DeviceMemory v, long n,
            float lr, float beta1, float beta2, float eps, float weightDecay, boolean decoupled, int step) {
        checkAdam(stream, param, grad, m, v, n, beta1, beta2, step);
        // Bias corrections in double, as torch computes them (Python floats), then rounded once.
        float stepSize = (float) (lr / (1.0 - Math.pow(beta1, step)));
        float biasCorrection2Sqrt = (float) Math.sqrt(1.0 - Math.pow(beta2, step));
        if (n > 0) {
            launch(Kernel.ADAM_STEP, stream, elementwiseGrid(n), BLOCK, param.pointer(), grad.pointer(), m.pointer(),
                    v.pointer(), n, lr, beta1, beta2, eps, weightDecay, decoupled ? 1 : 0, stepSize,
                    biasCorrection2Sqrt);
        }
    }

    /**
     * {@link #adamStep} for a CUDA graph: the step number is {@code stepBase + replays[0]}, read on the device
     * when the kernel runs, so each replay of the graph uses the next step's bias corrections.
     *
     * @param replays one float, the graph's replay counter ({@link #countReplay})
     */
    public void adamStepCounted(Stream stream, DeviceMemory param, DeviceMemory grad, DeviceMemory m, DeviceMemory v,
            long n, float lr, float beta1, float beta2, float eps, float weightDecay, boolean decoupled, int stepBase,
            DeviceMemory replays) {
        checkAdam(stream, param, grad, m, v, n, beta1, beta2, stepBase);
        requireFloats("replays", replays, 1);
        if (n > 0) {
            launch(Kernel.ADAM_STEP_COUNTED, stream, elementwiseGrid(n), BLOCK, param.pointer(), grad.pointer(),
                    m.pointer(), v.pointer(), n, lr, beta1, beta2, eps, weightDecay, decoupled ? 1 : 0, stepBase,
                    replays.pointer());
        }
    }

    private void checkAdam(Stream stream, DeviceMemory param, DeviceMemory grad, DeviceMemory m, DeviceMemory v, long n,
            float beta1, float beta2, int step) {
        checkStream(stream);
        checkCount("n", n);
        if (step < 1) {
            throw new IllegalArgumentException("Adam step counts from 1, got " + step);
        }
        if (!(beta1 >= 0f && beta1 < 1f) || !(beta2 >= 0f && beta2 < 1f)) {
            throw new IllegalArgumentException("Adam betas must lie in [0, 1), got beta1=" + beta1 + ", beta2=" + beta2);
        }
        requireFloats("param", param, n);
        requireFloats("grad", grad, n);
        requireFloats("m", m, n);
        requireFloats("v", v, n);
    }

    /** Adds 1 to the float {@code counter[0]} on the device: a CUDA graph's replay counter, its last node. */
    public void countReplay(Stream stream, DeviceMemory counter) {
        checkStream(stream);
        requireFloats("counter", counter, 1);
        launch(Kernel.COUNT_REPLAY, stream, 1, BLOCK, counter.pointer());
    }

    // ---------------------------------------------------------------------------------------------
    // Dropout

    /**
     * Inverted dropout of {@code n} elements: {@code mask[i] = keep(seed, i, p) ? 1 / (1 - p) : 0} and
     * {@code y[i] = x[i] * mask[i]}. The hash {@code keep} is
     * {@code io.jdl.backend.DropoutMask.keep}, written the same way in native/jdl_kernels.cu; the CPU backend
     * gives the same mask bit for bit; {@code y} may be {@code x}.
     *
     * @param p the probability of dropping an element, {@code 0 <= p <= 1} ({@code p == 1} drops all)
     */
    public void dropout(Stream stream, DeviceMemory x, DeviceMemory y, DeviceMemory mask, long n, float p, long seed) {
        dropout(stream, x, F32, y, F32, mask, n, p, seed);
    }

    /**
     * {@link #dropout(Stream, DeviceMemory, DeviceMemory, DeviceMemory, long, float, long)} with x and y of any float
     * element type, as {@link PointwiseKernels}' operands ({@code y = x * mask} in float32, rounded once); the mask
     * stays float32, since {@code 1 / (1 - p)} would not survive a rounding to half.
     */
    public void dropout(Stream stream, DeviceMemory x, Element xType, DeviceMemory y, Element yType, DeviceMemory mask,
                        long n, float p, long seed) {
        checkDropout(stream, x, xType, y, yType, mask, n, p);
        if (n > 0) {
            launch(Kernel.DROPOUT, stream, elementwiseGrid(n), BLOCK, x.pointer(), y.pointer(), mask.pointer(), n, p,
                    seed, xType.ordinal(), yType.ordinal());
        }
    }

    /**
     * {@link #dropout} for a CUDA graph: the seed is {@code seedBase + replays[0]}, read on the device, so
     * replay k draws the mask that the k-th next eager step would.
     */
    public void dropoutCounted(Stream stream, DeviceMemory x, DeviceMemory y, DeviceMemory mask, long n, float p,
            long seedBase, DeviceMemory replays) {
        dropoutCounted(stream, x, F32, y, F32, mask, n, p, seedBase, replays);
    }

    /** {@link #dropoutCounted(Stream, DeviceMemory, DeviceMemory, DeviceMemory, long, float, long, DeviceMemory)} with typed x and y. */
    public void dropoutCounted(Stream stream, DeviceMemory x, Element xType, DeviceMemory y, Element yType,
                               DeviceMemory mask, long n, float p, long seedBase, DeviceMemory replays) {
        checkDropout(stream, x, xType, y, yType, mask, n, p);
        requireFloats("replays", replays, 1);
        if (n > 0) {
            launch(Kernel.DROPOUT_COUNTED, stream, elementwiseGrid(n), BLOCK, x.pointer(), y.pointer(), mask.pointer(),
                    n, p, seedBase, replays.pointer(), xType.ordinal(), yType.ordinal());
        }
    }

    private void checkDropout(Stream stream, DeviceMemory x, Element xType, DeviceMemory y, Element yType,
                              DeviceMemory mask, long n, float p) {
        checkStream(stream);
        checkCount("n", n);
        checkProbability(p);
        PointwiseKernels.requireElements("x", x, xType, n);
        PointwiseKernels.requireElements("y", y, yType, n);
        requireFloats("mask", mask, n);
    }

    // ---------------------------------------------------------------------------------------------
    // Embedding

    /**
     * Embedding lookup {@code out[i, :] = weight[ids[i], :]} for {@code i < n}, with {@code weight [vocab, dim]},
     * int32 {@code ids [n]} and {@code out [n, dim]}. The vocabulary size is {@code weight.bytes() / (4 * dim)}.
     * Callers validate the ids on the host; an id outside {@code [0, vocab)} gives a row of zeros, never a
     * read out of bounds.
     */
    public void embeddingForward(Stream stream, DeviceMemory weight, DeviceMemory ids, DeviceMemory out, int n,
            int dim) {
        checkStream(stream);
        checkCount("n", n);
        checkPositive("dim", dim);
        requireFloats("weight", weight, dim);
        requireInts("ids", ids, n);
        requireFloats("out", out, (long) n * dim);
        int vocab = (int) Math.min(Integer.MAX_VALUE, weight.bytes() / Float.BYTES / dim);
        if (n > 0) {
            launch(Kernel.EMBEDDING_FORWARD, stream, elementwiseGrid((long) n * dim), BLOCK, weight.pointer(),
                    ids.pointer(), out.pointer(), (long) n, dim, vocab);
        }
    }

    /**
     * {@code dWeight[ids[i], :] += dOut[i, :]} for {@code i < n}, with {@code dOut [n, dim]}, int32
     * {@code ids [n]} and {@code dWeight [vocab, dim]}, which the caller must have zeroed (or filled with
     * the gradient to accumulate onto). Repeated ids accumulate through {@code atomicAdd}, so the order of
     * the float additions, and the last bits of the result, vary from run to run. The vocabulary size is
     * {@code dWeight.bytes() / (4 * dim)}; ids outside {@code [0, vocab)} are skipped.
     */
    public void embeddingBackward(Stream stream, DeviceMemory dOut, DeviceMemory ids, DeviceMemory dWeight, int n,
            int dim) {
        checkStream(stream);
        checkCount("n", n);
        checkPositive("dim", dim);
        requireFloats("dOut", dOut, (long) n * dim);
        requireInts("ids", ids, n);
        requireFloats("dWeight", dWeight, dim);
        int vocab = (int) Math.min(Integer.MAX_VALUE, dWeight.bytes() / Float.BYTES / dim);
        if (n > 0) {
            launch(Kernel.EMBEDDING_BACKWARD, stream, elementwiseGrid((long) n * dim), BLOCK, dOut.pointer(),
                    ids.pointer(), dWeight.pointer(), (long) n, dim, vocab);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Layer norm

    /**
     * Layer norm over each row of {@code x [rows, cols]}: {@code mean[r]}, {@code rstd[r] = 1 / sqrt(var + eps)}
     * with the biased variance, and {@code y = (x - mean) * rstd * gamma + beta}. {@code mean} and
     * {@code rstd} ({@code [rows]}) are written for {@link #layerNormBackward}. {@code y} may be {@code x}.
     *
     * @param gamma {@code [cols]}, or {@code null} for all ones
     * @param beta {@code [cols]}, or {@code null} for all zeros
     */
    public void layerNorm(Stream stream, DeviceMemory x, DeviceMemory gamma, DeviceMemory beta, DeviceMemory y,
            DeviceMemory mean, DeviceMemory rstd, int rows, int cols, float eps) {
        checkStream(stream);
        checkCount("rows", rows);
        checkPositive("cols", cols);
        requireFloats("x", x, (long) rows * cols);
        requireOptionalFloats("gamma", gamma, cols);
        requireOptionalFloats("beta", beta, cols);
        requireFloats("y", y, (long) rows * cols);
        requireFloats("mean", mean, rows);
        requireFloats("rstd", rstd, rows);
        if (rows > 0) {
            launch(Kernel.LAYER_NORM_ROWS, stream, rows, BLOCK, x.pointer(), pointerOrNull(gamma), pointerOrNull(beta),
                    y.pointer(), mean.pointer(), rstd.pointer(), rows, cols, eps);
        }
    }

    /**
     * Backward of {@link #layerNorm}, given its {@code mean} and {@code rstd}: with {@code xhat = (x - mean) * rstd}
     * and {@code g = dy * gamma}, {@code dx = rstd * (g - mean(g) - xhat * mean(g * xhat))} over each row,
     * {@code dGamma[j] = sum_r dy[r, j] * xhat[r, j]} and {@code dBeta[j] = sum_r dy[r, j]}. All three are
     * overwritten, not accumulated; {@code dx} may be {@code dy} or {@code x}.
     *
     * @param gamma {@code [cols]}, or {@code null} for all ones
     * @param dGamma {@code [cols]}, or {@code null} when not wanted
     * @param dBeta {@code [cols]}, or {@code null} when not wanted
     */
    public void layerNormBackward(Stream stream, DeviceMemory x, DeviceMemory gamma, DeviceMemory mean,
            DeviceMemory rstd, DeviceMemory dy, DeviceMemory dx, DeviceMemory dGamma, DeviceMemory dBeta, int rows,
            int cols) {
        layerNormBackward(stream, x, gamma, mean, rstd, dy, dx, dGamma, dBeta, rows, cols, null);
    }

    /**
     * Row chunks {@code dGamma} / {@code dBeta} are summed in, in parallel, by {@link #layerNormBackward} given a
     * workspace: enough blocks (about 512 with the column tiles) to fill a GPU, each chunk at least 64 rows.
     */
    public static int layerNormBackwardChunks(int rows, int cols) {
        int tiles = (cols + COL_TILE - 1) / COL_TILE;
        int wanted = Math.max(1, (512 + tiles - 1) / tiles);
        return Math.max(1, Math.min(wanted, (rows + 63) / 64));
    }

    /**
     * As above; with a {@code workspace} of {@code 2 * layerNormBackwardChunks(rows, cols) * cols} floats the
     * column sums run parallel over rows too (per-chunk partial sums, then a small pass adding them: one more
     * launch), where without one a block walks all rows of its 32 columns (12 blocks for 384 columns).
     */
    public void layerNormBackward(Stream stream, DeviceMemory x, DeviceMemory gamma, DeviceMemory mean,
            DeviceMemory rstd, DeviceMemory dy, DeviceMemory dx, DeviceMemory dGamma, DeviceMemory dBeta, int rows,
            int cols, DeviceMemory workspace) {
        checkStream(stream);
        checkCount("rows", rows);
        checkPositive("cols", cols);
        requireFloats("x", x, (long) rows * cols);
        requireOptionalFloats("gamma", gamma, cols);
        requireFloats("mean", mean, rows);
        requireFloats("rstd", rstd, rows);
        requireFloats("dy", dy, (long) rows * cols);
        requireFloats("dx", dx, (long) rows * cols);
        requireOptionalFloats("dGamma", dGamma, cols);
        requireOptionalFloats("dBeta", dBeta, cols);
        int chunks = workspace == null ? 1 : layerNormBackwardChunks(rows, cols);
        if (chunks > 1) {
            requireFloats("workspace", workspace, 2L * chunks * cols);
        }
        // Columns first: it reads dy, which the rows kernel may overwrite when dx == dy.
        // With rows == 0 it still runs, writing the empty sums (zeros).
        if (dGamma != null || dBeta != null) {
            int tiles = (cols + COL_TILE - 1) / COL_TILE;
            int rowsPerChunk = Math.max(1, (rows + chunks - 1) / chunks);
            if (chunks == 1) {
                launch(Kernel.LAYER_NORM_BACKWARD_COLUMNS, stream, tiles, BLOCK, x.pointer(), mean.pointer(),
                        rstd.pointer(), dy.pointer(), pointerOrNull(dGamma), pointerOrNull(dBeta), rows, cols,
                        rowsPerChunk);
            } else {
                MemorySegment partialG = dGamma == null ? MemorySegment.NULL : workspace.pointer();
                MemorySegment partialB = dBeta == null ? MemorySegment.NULL : workspace.pointer((long) chunks * cols * Float.BYTES);
                int used = (rows + rowsPerChunk - 1) / rowsPerChunk;
                launch(Kernel.LAYER_NORM_BACKWARD_COLUMNS, stream, tiles * used, BLOCK, x.pointer(), mean.pointer(),
                        rstd.pointer(), dy.pointer(), partialG, partialB, rows, cols, rowsPerChunk);
                launch(Kernel.LAYER_NORM_BACKWARD_FINISH, stream, elementwiseGrid(cols), BLOCK, partialG, partialB,
                        pointerOrNull(dGamma), pointerOrNull(dBeta), used, cols);
            }
        }
        if (rows > 0) {
            launch(Kernel.LAYER_NORM_BACKWARD_ROWS, stream, rows, BLOCK, x.pointer(), pointerOrNull(gamma),
                    mean.pointer(), rstd.pointer(), dy.pointer(), dx.pointer(), rows, cols);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Attention softmax

    /**
     * Masked, scaled softmax over the rows of attention scores {@code [batch, heads, tq, tk]}: for row
     * {@code r} (query {@code i = r % tq} of batch {@code b = r / (heads * tq)}) key {@code j} is allowed
     * unless {@code causal && j > i} or {@code keyMask[b * tk + j] == 0}, and
     * {@code probs = softmax(scale * scores)} over the allowed keys, 0 elsewhere; a row without any allowed
     * key is all zeros. {@code probs} may be {@code scores}.
     *
     * @param keyMask float {@code [batch, tk]} (non-zero keeps a key), or {@code null} for no padding mask
     */
    public void attentionSoftmax(Stream stream, DeviceMemory scores, DeviceMemory keyMask, DeviceMemory probs,
            int batch, int heads, int tq, int tk, float scale, boolean causal) {
        checkStream(stream);
        checkCount("batch", batch);
        checkPositive("heads", heads);
        checkPositive("tq", tq);
        checkPositive("tk", tk);
        int rows = Math.multiplyExact(Math.multiplyExact(batch, heads), tq);
        requireFloats("scores", scores, (long) rows * tk);
        requireOptionalFloats("keyMask", keyMask, (long) batch * tk);
        requireFloats("probs", probs, (long) rows * tk);
        if (rows > 0) {
            launch(Kernel.ATTENTION_SOFTMAX_ROWS, stream, rows, BLOCK, scores.pointer(), pointerOrNull(keyMask),
                    probs.pointer(), rows, heads, tq, tk, scale, causal ? 1 : 0);
        }
    }

    /**
     * Backward of {@link #attentionSoftmax} from its output {@code p [rows, cols]} and {@code dp}:
     * {@code dScores = scale * p * (dp - rowsum(dp * p))}. {@code dScores} may be {@code dp}.
     */
    public void attentionSoftmaxBackward(Stream stream, DeviceMemory p, DeviceMemory dp, DeviceMemory dScores,
            int rows, int cols, float scale) {
        checkStream(stream);
        checkCount("rows", rows);
        checkPositive("cols", cols);
        requireFloats("p", p, (long) rows * cols);
        requireFloats("dp", dp, (long) rows * cols);
        requireFloats("dScores", dScores, (long) rows * cols);
        if (rows > 0) {
            launch(Kernel.ATTENTION_SOFTMAX_BACKWARD_ROWS, stream, rows, BLOCK, p.pointer(), dp.pointer(),
                    dScores.pointer(), rows, cols, scale);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Checks and launching

    static void checkStream(Stream stream) {
        Objects.requireNonNull(stream, "stream");
    }

    static void checkCount(String name, long count) {
        if (count < 0) {
            throw new IllegalArgumentException(name + " must be >= 0, got " + count);
        }
    }

    static void checkPositive(String name, long count) {
        if (count < 1) {
            throw new IllegalArgumentException(name + " must be >= 1, got " + count);
        }
    }

    private static void checkProbability(float p) {
        if (!(p >= 0f && p <= 1f)) {
            throw new IllegalArgumentException("dropout probability must lie in [0, 1], got " + p);
        }
    }

    static void requireFloats(String name, DeviceMemory buffer, long count) {
        requireBytes(name, buffer, count, Float.BYTES, "float");
    }

    /** {@link #requireFloats} for {@code array[index]}; the name is built only when the check fails. */
    static void requireFloats(String array, int index, DeviceMemory buffer, long count) {
        if (buffer == null || count > buffer.bytes() / Float.BYTES) {
            requireFloats(array + "[" + index + "]", buffer, count);
        }
    }

    static void requireInts(String name, DeviceMemory buffer, long count) {
        requireBytes(name, buffer, count, Integer.BYTES, "int32");
    }

    static void requireOptionalFloats(String name, DeviceMemory buffer, long count) {
        if (buffer != null) {
            requireFloats(name, buffer, count);
        }
    }

    static void requireBytes(String name, DeviceMemory buffer, long count, int elementBytes, String type) {
        Objects.requireNonNull(buffer, name);
        long need = Math.multiplyExact(count, (long) elementBytes);
        if (buffer.bytes() < need) {
            throw new IllegalArgumentException(name + " holds " + buffer.bytes() + " bytes but " + count + " " + type
                    + " elements (" + need + " bytes) are needed");
        }
    }

    static MemorySegment pointerOrNull(DeviceMemory buffer) {
        return buffer == null ? MemorySegment.NULL : buffer.pointer();
    }

    /** Blocks for a grid-stride loop over {@code n > 0} elements. */
    static int elementwiseGrid(long n) {
        return (int) Math.min((n + BLOCK - 1) / BLOCK, MAX_ELEMENTWISE_BLOCKS);
    }

    void launch(Kernel kernel, Stream stream, int gridX, int blockX, Object... args) {
        KernelLibrary.checkArgs(kernel, args);
        launcher.launch(kernel, stream, gridX, blockX, args);
    }

}
