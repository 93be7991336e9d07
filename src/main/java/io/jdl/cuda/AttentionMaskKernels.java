package io.jdl.cuda;

import static io.jdl.cuda.NativeKernels.BLOCK;
import static io.jdl.cuda.NativeKernels.checkCount;
import static io.jdl.cuda.NativeKernels.checkPositive;
import static io.jdl.cuda.NativeKernels.checkStream;
import static io.jdl.cuda.NativeKernels.elementwiseGrid;
import static io.jdl.cuda.NativeKernels.requireBytes;
import static io.jdl.cuda.NativeKernels.requireFloats;

import io.jdl.cuda.KernelLibrary.Kernel;

/**
 * The two kernels that give cuDNN's fused attention jdl's key padding mask ([batch, keys] floats, non-zero
 * keeps): the mask as an additive bias on the scores, and the zeroing of the rows of a query that sees no key
 * (the GEMM attention's zero output, where the fused softmax would spread the weight over hidden keys).
 *
 * <p>The contract is {@link NativeKernels}'s: counts and buffer sizes are checked before queueing
 * (IllegalArgumentException naming the operand), one kernel is queued on {@code stream}, nothing for zero
 * elements. Obtained from {@link NativeKernels#attentionMasks()}; stateless, usable from any thread.
 */
public final class AttentionMaskKernels {
    /** bfloat16's bits of -1e9 (0xCE6E6B28 truncated: -9.99e8): far below any score, far from float's overflow. */
    public static final short BF16_HIDDEN = (short) 0xCE6E;
    /** float16's lowest finite value, -65504. */
    public static final short F16_HIDDEN = (short) 0xFBFF;

    private final NativeKernels kernels;

    AttentionMaskKernels(NativeKernels kernels) {
        this.kernels = kernels;
    }

    /**
     * {@code bias [batch, 1, tq, tk]} (16-bit: bfloat16 when {@code bf16}, else float16) = 0 where
     * {@code keyMask[b, j] != 0}, else {@link #BF16_HIDDEN} / {@link #F16_HIDDEN}.
     */
    public void keyBias(Stream stream, DeviceMemory keyMask, DeviceMemory bias, int batch, int tq, int tk,
                        boolean bf16) {
        checkStream(stream);
        checkCount("batch", batch);
        checkPositive("tq", tq);
        checkPositive("tk", tk);
        long n = Math.multiplyExact((long) batch * tq, tk);
        requireFloats("keyMask", keyMask, (long) batch * tk);
        requireBytes("bias", bias, n, 2, bf16 ? "bfloat16" : "float16");
        if (n > 0) {
            kernels.launch(Kernel.ATTENTION_KEY_BIAS, stream, elementwiseGrid(n), BLOCK, keyMask.pointer(),
                    bias.pointer(), n, tq, tk, (bf16 ? BF16_HIDDEN : F16_HIDDEN) & 0xFFFF);
        }
    }

    /**
     * Zeroes, in the 16-bit {@code x} starting {@code offset} elements in, the d-element rows (b, h, i) at
     * {@code b·batchStride + h·headStride + i·rowStride} of every query i of batch b that sees no key (every
     * {@code keyMask[b, j]} with j allowed, j <= i when {@code causal}, is 0).
     */
    public void zeroUnattended(Stream stream, DeviceMemory keyMask, DeviceMemory x, long offset, int batch, int heads,
                               int tq, int tk, int d, boolean causal, long batchStride, long headStride,
                               long rowStride) {
        checkStream(stream);
        checkCount("batch", batch);
        checkPositive("heads", heads);
        checkPositive("tq", tq);
        checkPositive("tk", tk);
        checkPositive("d", d);
        requireFloats("keyMask", keyMask, (long) batch * tk);
        long end = offset + (batch - 1L) * batchStride + (heads - 1L) * headStride + (tq - 1L) * rowStride + d;
        requireBytes("x", x, batch == 0 ? 0 : end, 2, "16-bit");
        long n = (long) batch * tq;
        if (n > 0) {
            kernels.launch(Kernel.ATTENTION_ZERO_UNATTENDED, stream, elementwiseGrid(n), BLOCK, keyMask.pointer(),
                    x.pointer(offset * 2), n, heads, tq, tk, d, causal ? 1 : 0, batchStride, headStride, rowStride);
        }
    }
}
