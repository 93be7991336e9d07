package io.jdl.backend;

import java.util.Objects;

/**
 * The two 16-bit floating-point formats of mixed precision, as bit patterns held in {@code short}s, and their
 * exact conversions to and from float32: the host's reference for what the GPU stores, so that the CPU backend,
 * the host stand-in and checkpoints round every value the same way.
 *
 * <ul>
 *   <li>{@link #BF16} (bfloat16): 1 sign, 8 exponent, 7 mantissa bits: float32's range with 8 significant bits;
 *       its bit pattern is the upper half of a float32's.</li>
 *   <li>{@link #F16} (IEEE 754 binary16): 1 sign, 5 exponent, 10 mantissa bits: largest finite value 65504,
 *       smallest normal 2^-14, subnormals down to 2^-24.</li>
 * </ul>
 *
 * <p><b>Float32 to half</b> rounds to nearest, ties to even (IEEE's default, what PyTorch's {@code .to()} and
 * CUDA's {@code __float2bfloat16_rn} / {@code __float2half_rn} do): a value past the largest finite half by half
 * a unit or more becomes infinity with its sign, a value too small becomes a subnormal (F16) or a signed zero,
 * float32 subnormals convert to BF16 like any other value. <b>NaN</b> stays NaN with its sign and the top
 * bits of its payload, quieted (quiet bit set): what x86's F16C {@code vcvtps2ph} and therefore PyTorch's CPU
 * conversion give for F16. For BF16 PyTorch's CPU kernels write the one pattern 0xFFFF for every NaN and CUDA
 * writes 0x7FFF; jdl applies the F16 rule to BF16 too, so that the sign of a NaN survives both formats.
 *
 * <p><b>Half to float32</b> is exact (every half value is a float32). BF16 fills the low 16 bits with zeros, so
 * a NaN keeps its bits exactly (a signalling one stays signalling); an F16 NaN keeps its sign and payload and is
 * quieted. Both as PyTorch does (for F16 through F16C's {@code vcvtph2ps}).
 *
 * <p>Checked against PyTorch on every one of the 65536 patterns of each format and on thousands of float32
 * values (the fixtures of {@code scripts/make_torch_fixtures.py}). Stateless; safe from any thread.
 */
public enum HalfPrecision {
    BF16 {
        @Override
        public short fromFloat(float value) {
            int bits = Float.floatToRawIntBits(value);
            if ((bits & 0x7fffffff) > 0x7f800000) {
                return (short) ((bits >>> 16) | 0x0040); // NaN: sign and top payload kept, quiet bit set
            }
            // Round to nearest even at bit 16: add just under half a unit, plus one when the kept lsb is odd. A carry
            // into the exponent is the correct next binade, and past the largest finite value it gives infinity.
            int lsb = (bits >>> 16) & 1;
            return (short) ((bits + 0x7fff + lsb) >>> 16);
        }

        @Override
        public float toFloat(short half) {
            return Float.intBitsToFloat((half & 0xffff) << 16); // the upper half of a float32, NaNs unchanged
        }
    },
    F16 {
        @Override
        public short fromFloat(float value) {
            int bits = Float.floatToRawIntBits(value);
            int sign = (bits >>> 16) & 0x8000;
            int abs = bits & 0x7fffffff;
            if (abs > 0x7f800000) {
                return (short) (sign | 0x7e00 | ((abs >>> 13) & 0x3ff)); // NaN: quiet, sign and top payload kept
            }
            if (abs >= 0x477ff000) { // >= 65520, the midpoint between 65504 and 2^16: infinity (inf included)
                return (short) (sign | 0x7c00);
            }
            if (abs >= 0x38800000) { // >= 2^-14: a normal half. Round at bit 13, then rebias the exponent 127 -> 15.
                int lsb = (abs >>> 13) & 1;
                return (short) (sign | ((abs + 0xfff + lsb - 0x38000000) >>> 13));
            }
            if (abs <= 0x33000000) { // <= 2^-25, half the smallest subnormal: the tie goes to the even zero
                return (short) sign;
            }
            // A subnormal half: the value in units of 2^-24, rounded to nearest even. value = m * 2^(e - 150)
            // with the implicit bit in m, so units = m >> (126 - e), shift in [14, 24] here.
            int e = abs >>> 23;
            int m = (abs & 0x7fffff) | 0x800000;
            int shift = 126 - e;
            int units = m >>> shift;
            int rest = m & ((1 << shift) - 1);
            int halfUnit = 1 << (shift - 1);
            if (rest > halfUnit || (rest == halfUnit && (units & 1) != 0)) {
                units++; // 0x400 is the smallest normal, the right answer when rounding up from the largest subnormal
            }
            return (short) (sign | units);
        }

        @Override
        public float toFloat(short half) {
            int h = half & 0xffff;
            int sign = (h & 0x8000) << 16;
            int exponent = (h >>> 10) & 0x1f;
            int mantissa = h & 0x3ff;
            if (exponent == 0x1f) {
                return Float.intBitsToFloat(mantissa == 0 ? sign | 0x7f800000 : sign | 0x7fc00000 | (mantissa << 13));
            }
            if (exponent == 0) { // zero or subnormal: mantissa * 2^-24, exact in float32
                return Float.intBitsToFloat(sign | Float.floatToRawIntBits(mantissa * 0x1p-24f));
            }
            return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
        }
    };

    /** The half nearest to {@code value} (ties to even), as its bit pattern; see the class comment for NaN. */
    public abstract short fromFloat(float value);

    /** The float32 equal to the half with bit pattern {@code half} (exact; NaN quieted). */
    public abstract float toFloat(short half);

    /** {@code value} rounded to this format and back: what storing it as a half keeps. */
    public float round(float value) {
        return toFloat(fromFloat(value));
    }

    /** Every element of {@code values} converted to this format, in a new array. */
    public short[] fromFloats(float[] values) {
        Objects.requireNonNull(values, "values");
        short[] out = new short[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = fromFloat(values[i]);
        }
        return out;
    }

    /** Every half of {@code halves} as float32, in a new array. */
    public float[] toFloats(short[] halves) {
        Objects.requireNonNull(halves, "halves");
        float[] out = new float[halves.length];
        for (int i = 0; i < halves.length; i++) {
            out[i] = toFloat(halves[i]);
        }
        return out;
    }

    /** Rounds every element of {@code values} to this format, in place (the emulation of a half buffer). */
    public void roundInPlace(float[] values) {
        Objects.requireNonNull(values, "values");
        for (int i = 0; i < values.length; i++) {
            values[i] = round(values[i]);
        }
    }

    /** Bytes per element (2). */
    public int bytes() {
        return Short.BYTES;
    }
}
