package io.jdl.device;

/**
 * The float32 math policy of GPU work, process-wide, in one place (PyTorch's {@code torch.backends}):
 * whether matrix products may use TF32 tensor cores ({@link #float32MatmulPrecision}, as
 * {@code torch.set_float32_matmul_precision}) and whether cuDNN convolutions may ({@link #cudnnAllowTf32},
 * as {@code torch.backends.cudnn.allow_tf32}). TF32 reads 10 of float32's 23 mantissa bits and accumulates
 * in float32: several times faster on Ampere and later GPUs, relative errors around 1e-3.
 *
 * <p>Defaults are PyTorch's: matrix products {@link MatmulPrecision#HIGHEST} (no TF32, since PyTorch 1.12),
 * cuDNN convolutions TF32 allowed. {@link #tf32(boolean)} sets both at once, as the samples' and
 * benchmarks' {@code --tf32} does.
 *
 * <p>The CUDA backend reads the policy at every call: a cuBLAS handle's math mode is changed when the
 * policy changed since its last product, and convolution plans are cached per shape <em>and</em> math mode,
 * so switching back and forth is cheap and never runs a plan chosen under the other mode. Work already
 * queued keeps the mode it was queued with. The CPU backend ignores the policy: it always computes in
 * float32 (or wider). Settings are visible to all threads ({@code volatile}); like PyTorch's, they are
 * meant to be set once at start-up, not raced against running work.
 */
public final class Precision {
    /** The internal precision of float32 matrix products, as {@code torch.set_float32_matmul_precision}. */
    public enum MatmulPrecision {
        /** float32 throughout (cuBLAS default math): PyTorch's default. */
        HIGHEST,
        /** TF32 tensor cores allowed (CUBLAS_TF32_TENSOR_OP_MATH). */
        HIGH
    }

    private static volatile MatmulPrecision matmul = MatmulPrecision.HIGHEST;
    private static volatile boolean cudnnTf32 = true;

    private Precision() {
    }

    public static MatmulPrecision float32MatmulPrecision() {
        return matmul;
    }

    public static void float32MatmulPrecision(MatmulPrecision precision) {
        if (precision == null) {
            throw new IllegalArgumentException("float32MatmulPrecision: precision is null (HIGHEST or HIGH)");
        }
        matmul = precision;
    }

    /** Whether matrix products may use TF32: {@code float32MatmulPrecision() == HIGH}. */
    public static boolean matmulTf32() {
        return matmul == MatmulPrecision.HIGH;
    }

    public static boolean cudnnAllowTf32() {
        return cudnnTf32;
    }

    /** Lets cuDNN convolutions use TF32 tensor-core algorithms (true by default, as in PyTorch). */
    public static void cudnnAllowTf32(boolean allow) {
        cudnnTf32 = allow;
    }

    /** TF32 everywhere ({@code HIGH} products, cuDNN TF32) or nowhere ({@code HIGHEST}, no cuDNN TF32). */
    public static void tf32(boolean on) {
        matmul = on ? MatmulPrecision.HIGH : MatmulPrecision.HIGHEST;
        cudnnTf32 = on;
    }

    /** Back to PyTorch's defaults: products {@code HIGHEST}, cuDNN convolutions TF32. */
    public static void defaults() {
        matmul = MatmulPrecision.HIGHEST;
        cudnnTf32 = true;
    }

    /** E.g. {@code "matmul HIGHEST, cudnn tf32 on"}, for logs and benchmark headers. */
    public static String describe() {
        return "matmul " + matmul + ", cudnn tf32 " + (cudnnTf32 ? "on" : "off");
    }
}
