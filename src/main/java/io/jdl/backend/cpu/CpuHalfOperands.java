package io.jdl.backend.cpu;

import io.jdl.backend.Storage;
import io.jdl.device.DType;

/**
 * The float32 arrays the CPU reference's matrix products and convolutions run on when their operands are bfloat16 or
 * float16: a half operand is widened to float32 (exact), the float32 kernel runs, and a half result is rounded once
 * (to nearest even) into its storage: the arithmetic of cuBLAS's {@code cublasGemmEx} and cuDNN's pseudo-half
 * convolutions (half data, float32 accumulation), and the same numbers the float32 kernel gives on the widened
 * values, bit for bit. Float32 storages are used in place, with nothing copied.
 */
final class CpuHalfOperands {
    private CpuHalfOperands() {
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

    /** s's elements as float32: its own array when float32, else a widened copy. */
    static float[] read(Storage s) {
        CpuStorage cpu = cpu(s);
        if (s.dtype() == DType.FLOAT32) {
            return cpu.data();
        }
        float[] f = new float[Math.toIntExact(s.numel())];
        CpuCasts.cast(cpu.array(), s.dtype(), f, DType.FLOAT32, f.length);
        return f;
    }

    /**
     * A float32 array to write s through: its own when float32, else a widened copy of its values (a kernel that
     * writes some matrices of a strided batch leaves the others as they were, after {@link #write}).
     */
    static float[] output(Storage s) {
        return read(s);
    }

    /** Rounds {@code values} (from {@link #output}) into s when s is a half storage; nothing for float32. */
    static void write(float[] values, Storage s) {
        if (s.dtype() != DType.FLOAT32) {
            CpuCasts.cast(values, DType.FLOAT32, cpu(s).array(), s.dtype(), values.length);
        }
    }

    private static CpuStorage cpu(Storage s) {
        if (!(s instanceof CpuStorage cpu)) {
            throw new IllegalArgumentException("CPU backend got storage on " + s.device());
        }
        return cpu;
    }
}
