package io.jdl.cuda;

import static io.jdl.cuda.NativeKernels.BLOCK;
import static io.jdl.cuda.NativeKernels.checkCount;
import static io.jdl.cuda.NativeKernels.checkStream;
import static io.jdl.cuda.NativeKernels.elementwiseGrid;
import static io.jdl.cuda.NativeKernels.requireBytes;
import static io.jdl.cuda.NativeKernels.requireFloats;

import io.jdl.cuda.KernelLibrary.Kernel;

/**
 * jdl's mixed-precision kernels: float32 to and from bfloat16 / float16 bit patterns (2 bytes an element on the
 * device), conversions between any two element types, and GradScaler's unscale with its inf/NaN flag.
 *
 * <p>The contract is {@link NativeKernels}'s: each method checks counts and buffer sizes before queueing
 * (IllegalArgumentException naming the operand), queues one kernel on {@code stream} and returns at once;
 * nothing is queued for zero elements. Obtained from {@link NativeKernels#mixedPrecision()}; stateless, usable
 * from any thread.
 */
public final class MixedPrecisionKernels {
    private final NativeKernels kernels;

    MixedPrecisionKernels(NativeKernels kernels) {
        this.kernels = kernels;
    }

    /**
     * {@code y[i]} = {@code x[i]} rounded to bfloat16 ({@code bf16}) or float16, as 16-bit patterns, for
     * {@code i < n}: round to nearest even, with the overflow, subnormal and NaN rules of
     * {@code io.jdl.backend.HalfPrecision}, bit for bit.
     */
    public void floatToHalf(Stream stream, DeviceMemory x, DeviceMemory y, long n, boolean bf16) {
        checkStream(stream);
        checkCount("n", n);
        requireFloats("x", x, n);
        requireBytes("y", y, n, 2, bf16 ? "bfloat16" : "float16");
        if (n > 0) {
            kernels.launch(Kernel.FLOAT_TO_HALF, stream, elementwiseGrid(n), BLOCK, x.pointer(), y.pointer(), n, bf16 ? 1 : 0);
        }
    }

    /** {@code y[i]} = the float32 value of the bfloat16 ({@code bf16}) or float16 pattern {@code x[i]} (exact). */
    public void halfToFloat(Stream stream, DeviceMemory x, DeviceMemory y, long n, boolean bf16) {
        checkStream(stream);
        checkCount("n", n);
        requireBytes("x", x, n, 2, bf16 ? "bfloat16" : "float16");
        requireFloats("y", y, n);
        if (n > 0) {
            kernels.launch(Kernel.HALF_TO_FLOAT, stream, elementwiseGrid(n), BLOCK, x.pointer(), y.pointer(), n, bf16 ? 1 : 0);
        }
    }

    /** The element types of {@link #cast}, in the order of jdl_kernels.cu's codes (JDL_F32 ... JDL_BOOL). */
    public enum Element {
        F32(4), BF16(2), F16(2), I32(4), I64(8), U8(1), BOOL(1);

        private final int bytes;

        Element(int bytes) {
            this.bytes = bytes;
        }

        public int bytes() {
            return bytes;
        }
    }

    /**
     * {@code y[i]} = {@code x[i]} converted from {@code from} to {@code to} for {@code i < n}, with the rules of
     * {@code io.jdl.device.DType} (PyTorch's CPU results): floats rounded to nearest even, float to integer
     * truncated with NaN / inf / out of range giving the minimum, to uint8 through int64, integers wrapped, bool
     * as {@code != 0}. The types differ (a same-type copy is a memcpy).
     */
    public void cast(Stream stream, DeviceMemory x, Element from, DeviceMemory y, Element to, long n) {
        checkStream(stream);
        checkCount("n", n);
        if (from == to) {
            throw new IllegalArgumentException("cast from " + from + " to itself; copy the bytes instead");
        }
        requireBytes("x", x, n, from.bytes(), from.name());
        requireBytes("y", y, n, to.bytes(), to.name());
        if (n > 0) {
            kernels.launch(Kernel.CAST, stream, elementwiseGrid(n), BLOCK, x.pointer(), y.pointer(), n, from.ordinal(),
                    to.ordinal());
        }
    }

    /**
     * GradScaler's unscale of one gradient (PyTorch's {@code _amp_foreach_non_finite_check_and_unscale_}):
     * {@code grad[i] *= invScale} for {@code i < n}, and {@code foundInf[0] = 1} when any {@code grad[i]} was inf or
     * NaN. The flag is only ever set: one zeroed flag collects the check over all the gradients of a step, and the
     * host reads it once.
     */
    public void ampUnscale(Stream stream, DeviceMemory grad, long n, float invScale, DeviceMemory foundInf) {
        checkStream(stream);
        checkCount("n", n);
        requireFloats("grad", grad, n);
        requireFloats("foundInf", foundInf, 1);
        if (n > 0) {
            kernels.launch(Kernel.AMP_UNSCALE, stream, elementwiseGrid(n), BLOCK, grad.pointer(), n, invScale, foundInf.pointer());
        }
    }
}
