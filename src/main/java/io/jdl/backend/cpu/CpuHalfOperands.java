package io.jdl.backend.cpu;

import io.jdl.backend.Storage;
import io.jdl.device.DType;
import java.util.ArrayList;
import java.util.List;

/**
 * The float32 arrays one CPU primitive runs on when some of its operands are bfloat16 or float16: a half operand is
 * widened to float32 (exact), the float32 kernel runs, and a half result is rounded once (to nearest even) into its
 * storage. So every primitive that takes half operands (the matrix products and convolutions, and the pointwise
 * primitives of {@code Backend}'s contract) gives, bit for bit, the float32 kernel's numbers on the widened values
 * followed by one cast of its output: the arithmetic of cuBLAS's {@code cublasGemmEx}, cuDNN's pseudo-half
 * convolutions and PyTorch's half kernels (half data, float32 compute). Float32 storages are used in place, with
 * nothing copied, so a float32 call takes the float32 kernel's path unchanged (an output may then alias an input as
 * the kernel allows; a half output is a separate array until {@link #write}, so it may alias any input).
 *
 * <p>Lifetime: one instance per call, in try-with-resources; the widened copies come from {@link CpuArrayPool} and
 * go back to it at {@link #close()}, after the kernel and {@link #write} (nothing keeps them past the call).
 */
final class CpuHalfOperands implements AutoCloseable {
    /** The primitive, for messages. */
    private final String primitive;
    /** The pooled copies to give back; null until the first (float32 calls allocate nothing). */
    private List<float[]> borrowed;

    /** For a pointwise primitive, named in the message when an operand is not a float storage. */
    CpuHalfOperands(String primitive) {
        this.primitive = primitive;
    }

    /** Throws unless A and B share one float dtype and C has it or is float32 (cublasGemmEx's combinations). */
    static void checkProduct(Storage a, Storage b, Storage c) {
        DType d = a.dtype();
        if (b.dtype() != d || !d.isFloatingPoint() || c.dtype() != d && c.dtype() != DType.FLOAT32) {
            throw new IllegalStateException("a CPU matrix product takes A and B of one float dtype and C of that dtype"
                    + " or FLOAT32, got A " + d + ", B " + b.dtype() + ", C " + c.dtype()
                    + " (the tensor layer must convert)");
        }
    }

    /** Throws unless the three operands of a convolution share one float dtype. */
    static void checkConvolution(Storage a, Storage b, Storage c) {
        DType d = a.dtype();
        if (b.dtype() != d || c.dtype() != d || !d.isFloatingPoint()) {
            throw new IllegalStateException("a CPU convolution takes three operands of one float dtype, got " + d + ", "
                    + b.dtype() + " and " + c.dtype() + " (the tensor layer must convert)");
        }
    }

    /** Throws {@link IllegalStateException} naming {@code primitive} unless s is a float32 storage. */
    static float[] float32(String primitive, String operand, Storage s) {
        CpuStorage cpu = cpu(s);
        if (s.dtype() != DType.FLOAT32) {
            throw new IllegalStateException(primitive + ": " + operand + " must be a FLOAT32 storage, got " + s.dtype());
        }
        return cpu.data();
    }

    /**
     * s's elements as float32: its own array when float32, else a widened copy, valid until {@link #close()}. Also
     * the array to write an output through ({@link #write}) when the kernel writes only part of it (a strided batch
     * of matrices): the rest then goes back as it was.
     */
    float[] read(Storage s) {
        CpuStorage cpu = floating(s);
        if (s.dtype() == DType.FLOAT32) {
            return cpu.data();
        }
        float[] f = borrow(Math.toIntExact(s.numel()));
        CpuCasts.cast(cpu.array(), s.dtype(), f, DType.FLOAT32, f.length);
        return f;
    }

    /**
     * The array a kernel writes its output for s into: s's own when float32, else an uninitialised float32 array of
     * s's length, valid until {@link #close()}, that {@link #write} rounds into s.
     */
    float[] output(Storage s) {
        CpuStorage cpu = floating(s);
        return s.dtype() == DType.FLOAT32 ? cpu.data() : borrow(Math.toIntExact(s.numel()));
    }

    /** Rounds {@code values} (from {@link #read}) into s when s is a half storage; nothing for float32. */
    void write(float[] values, Storage s) {
        write(values, s, values.length);
    }

    /** Rounds the first {@code n} of {@code values} (from {@link #read} or {@link #output}) into a half s. */
    void write(float[] values, Storage s, long n) {
        if (s.dtype() != DType.FLOAT32) {
            CpuCasts.cast(values, DType.FLOAT32, cpu(s).array(), s.dtype(), Math.toIntExact(n));
        }
    }

    /** Gives the widened copies back to the pool. */
    @Override
    public void close() {
        if (borrowed != null) {
            borrowed.forEach(CpuArrayPool::give);
            borrowed = null;
        }
    }

    private float[] borrow(int length) {
        float[] f = CpuArrayPool.take(length);
        if (borrowed == null) {
            borrowed = new ArrayList<>(4);
        }
        borrowed.add(f);
        return f;
    }

    private CpuStorage floating(Storage s) {
        CpuStorage cpu = cpu(s);
        if (!s.dtype().isFloatingPoint()) {
            throw new IllegalStateException((primitive == null ? "a CPU kernel" : primitive) + " takes float storages"
                    + " (FLOAT32, BFLOAT16, FLOAT16), got one of " + s.dtype() + " (the tensor layer must refuse it)");
        }
        return cpu;
    }

    /** s as a CPU storage, else an exception naming its device. */
    static CpuStorage cpu(Storage s) {
        if (!(s instanceof CpuStorage cpu)) {
            throw new IllegalArgumentException("CPU backend got storage on " + s.device());
        }
        return cpu;
    }
}
