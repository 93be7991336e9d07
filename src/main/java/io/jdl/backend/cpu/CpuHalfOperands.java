package io.jdl.backend.cpu;

import io.jdl.backend.Storage;
import io.jdl.device.DType;
import java.util.ArrayList;
import java.util.List;

/**
 * The float32 arrays one CPU matrix product or convolution runs on when its operands are bfloat16 or float16: a half
 * operand is widened to float32 (exact), the float32 kernel runs, and a half result is rounded once (to nearest
 * even) into its storage: the arithmetic of cuBLAS's {@code cublasGemmEx} and cuDNN's pseudo-half convolutions
 * (half data, float32 accumulation), and the same numbers the float32 kernel gives on the widened values, bit for
 * bit. Float32 storages are used in place, with nothing copied.
 *
 * <p>Lifetime: one instance per call, in try-with-resources; the widened copies come from {@link CpuArrayPool} and
 * go back to it at {@link #close()}, after the kernel and {@link #write} (nothing keeps them past the call).
 */
final class CpuHalfOperands implements AutoCloseable {
    private final List<float[]> borrowed = new ArrayList<>(4);

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

    /**
     * s's elements as float32: its own array when float32, else a widened copy, valid until {@link #close()}. Also
     * the array to write an output through ({@link #write}): a kernel that writes only some matrices of a strided
     * batch leaves the others as they were.
     */
    float[] read(Storage s) {
        CpuStorage cpu = cpu(s);
        if (s.dtype() == DType.FLOAT32) {
            return cpu.data();
        }
        float[] f = CpuArrayPool.take(Math.toIntExact(s.numel()));
        borrowed.add(f);
        CpuCasts.cast(cpu.array(), s.dtype(), f, DType.FLOAT32, f.length);
        return f;
    }

    /** Rounds {@code values} (from {@link #read}) into s when s is a half storage; nothing for float32. */
    void write(float[] values, Storage s) {
        if (s.dtype() != DType.FLOAT32) {
            CpuCasts.cast(values, DType.FLOAT32, cpu(s).array(), s.dtype(), values.length);
        }
    }

    /** Gives the widened copies back to the pool. */
    @Override
    public void close() {
        borrowed.forEach(CpuArrayPool::give);
        borrowed.clear();
    }

    private static CpuStorage cpu(Storage s) {
        if (!(s instanceof CpuStorage cpu)) {
            throw new IllegalArgumentException("CPU backend got storage on " + s.device());
        }
        return cpu;
    }
}
