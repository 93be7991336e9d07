package io.jdl.tensor;

import io.jdl.device.DType;
import java.util.Set;

/**
 * An autocast scope, PyTorch's {@code torch.autocast}: while it is open on a thread, the ops of PyTorch's
 * lower-precision list run in bfloat16 or float16 and those of its float32 list in float32, whatever their inputs'
 * float dtypes; every other op runs as without autocast (in its inputs' dtype, promoting mixed float inputs to
 * float32).
 * <pre>{@code
 * try (Autocast ac = Autocast.bf16()) {
 *     Tensor loss = model.forward(x).crossEntropy(targets); // linear in bf16, the loss in float32
 *     loss.backward();                                      // float32 gradients into the float32 parameters
 * }
 * optimizer.step();
 * }</pre>
 *
 * <p><b>The lists</b> are PyTorch's CUDA autocast policy ({@code aten/src/ATen/autocast_mode.cpp}, the docs' "CUDA
 * Ops that can autocast to float16 / float32"), restricted to jdl's ops; jdl applies them on every device, the CPU
 * being the exact emulation of the GPU:
 * <ul>
 *   <li>lower precision ({@code lower_precision_fp}): {@code matmul}, {@code linear}, {@code conv2d},
 *       {@code attention} / {@code selfAttention} (PyTorch's {@code scaled_dot_product_attention}): every float
 *       input is rounded to the autocast dtype (the weights too: a float32 master is cast, and the cast's backward
 *       brings its gradient back in float32), the op accumulates in float32 and rounds its result once;</li>
 *   <li>float32 ({@code fp32}, {@code fp32_set_opt_dtype}): {@code softmax}, {@code logSoftmax}, {@code layerNorm},
 *       {@code crossEntropy} ({@code nll_loss} / {@code log_softmax}), {@code mse} ({@code mse_loss}), {@code sum}:
 *       half inputs are converted to float32 and the result is float32.</li>
 * </ul>
 * Batch norm is on neither list (as in PyTorch): it runs in its input's dtype with float32 statistics and
 * parameters. The backward pass runs without autocast: each op's backward works in the dtypes its forward chose.
 *
 * <p><b>Lifetime.</b> A scope is confined to the thread that opened it and must be closed there, innermost first
 * (try-with-resources does both); scopes nest, the innermost deciding ({@link #disabled()} turns autocast off
 * inside an autocast region). Closing a scope twice, out of order or from another thread throws
 * {@link IllegalStateException}.
 */
public final class Autocast implements AutoCloseable {
    private static final ThreadLocal<Autocast> CURRENT = new ThreadLocal<>();
    static final Set<String> LOWER_PRECISION = Set.of("matmul", "linear", "conv2d", "attention", "selfAttention");
    static final Set<String> FLOAT32 = Set.of("softmax", "logSoftmax", "layerNorm", "crossEntropy", "mse", "sum");

    private final DType dtype; // null: autocast off inside this scope
    private final Autocast outer;
    private final Thread thread = Thread.currentThread();
    private boolean closed;

    private Autocast(DType dtype) {
        this.dtype = dtype;
        this.outer = CURRENT.get();
        CURRENT.set(this);
    }

    /** Autocast to bfloat16 on this thread until closed. */
    public static Autocast bf16() {
        return new Autocast(DType.BFLOAT16);
    }

    /** Autocast to float16 on this thread until closed (pair it with a {@code GradScaler}: float16's range is small). */
    public static Autocast fp16() {
        return new Autocast(DType.FLOAT16);
    }

    /** No autocast on this thread until closed, also inside an enclosing autocast scope. */
    public static Autocast disabled() {
        return new Autocast(null);
    }

    /** The dtype of this scope: BFLOAT16, FLOAT16, or null for {@link #disabled()}. */
    public DType dtype() {
        return dtype;
    }

    /** The autocast dtype in force on this thread, or null when autocast is off (also during backward()). */
    public static DType current() {
        Autocast ac = CURRENT.get();
        return ac == null || TensorScope.inBackward() ? null : ac.dtype;
    }

    @Override
    public void close() {
        if (Thread.currentThread() != thread) {
            throw new IllegalStateException("an autocast scope must be closed on the thread that opened it (" + thread
                    + "), not on " + Thread.currentThread());
        }
        if (closed) {
            throw new IllegalStateException("autocast scope closed twice");
        }
        if (CURRENT.get() != this) {
            throw new IllegalStateException("autocast scopes must be closed innermost first: an inner scope is still open");
        }
        closed = true;
        if (outer == null) {
            CURRENT.remove();
        } else {
            CURRENT.set(outer);
        }
    }
}
