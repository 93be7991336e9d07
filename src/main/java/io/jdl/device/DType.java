package io.jdl.device;

import java.util.Arrays;

/**
 * The element types of tensors: PyTorch's {@code float32}, {@code bfloat16}, {@code float16}, {@code int32},
 * {@code int64}, {@code uint8} and {@code bool}, with their sizes and their safetensors names. Float32 is the
 * default everywhere; the 16-bit formats are stored as their bit patterns (see {@code io.jdl.backend.HalfPrecision}).
 *
 * <p><b>Conversions</b> ({@code Tensor.to(DType)}) follow PyTorch's results on the CPU, on every device:
 * <ul>
 *   <li>float to float: round to nearest even (bf16 / f16 through float32, which is exact for them);</li>
 *   <li>integer to float: the nearest float32, ties to even, then rounded to bf16 / f16 (as c10's casts do);</li>
 *   <li>float to integer: truncation toward zero; NaN, infinities and values outside the integer type's range
 *       give its minimum (int32 {@code -2^31}, int64 {@code -2^63}): what PyTorch computes on x86 CPUs, where C++
 *       leaves the case undefined and PyTorch's documentation calls it undefined (its CUDA kernels saturate
 *       instead; jdl gives the CPU's answer on both devices so that they agree);</li>
 *   <li>to uint8: the low 8 bits of the int64 value (floats truncated to int64 first, as c10 does, so -1.0 gives
 *       255); integer to integer: the low bits (two's complement wrap-around);</li>
 *   <li>to bool: {@code value != 0} (NaN is true); from bool: 0 or 1.</li>
 * </ul>
 */
public enum DType {
    FLOAT32(4, "F32", true),
    BFLOAT16(2, "BF16", true),
    FLOAT16(2, "F16", true),
    INT32(4, "I32", false),
    INT64(8, "I64", false),
    UINT8(1, "U8", false),
    BOOL(1, "BOOL", false);

    private final int bytes;
    private final String safetensorsName;
    private final boolean floatingPoint;

    DType(int bytes, String safetensorsName, boolean floatingPoint) {
        this.bytes = bytes;
        this.safetensorsName = safetensorsName;
        this.floatingPoint = floatingPoint;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    /** The name in a safetensors header ({@code "BF16"}). */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** Float32, bfloat16 or float16: the dtypes gradients can flow through. */
    public boolean isFloatingPoint() {
        return floatingPoint;
    }

    /** The 16-bit float formats, which jdl computes in float32 and rounds (see {@code Tensor.to(DType)}). */
    public boolean isHalf() {
        return this == BFLOAT16 || this == FLOAT16;
    }

    /**
     * The dtype of a safetensors name.
     *
     * @throws IllegalArgumentException for a name that is none of {@code F32 BF16 F16 I32 I64 U8 BOOL}
     */
    public static DType ofSafetensorsName(String name) {
        for (DType d : values()) {
            if (d.safetensorsName.equals(name)) {
                return d;
            }
        }
        throw new IllegalArgumentException("safetensors dtype " + name + " is not one of jdl's: "
                + Arrays.stream(values()).map(DType::safetensorsName).toList());
    }
}
