package io.jdl.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.io.NamedArray;
import io.jdl.io.Safetensors;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link HalfPrecision} against PyTorch: the tables of scripts/make_torch_fixtures.py (every 16-bit pattern of
 * both formats to float32, and 12366 float32 values, edge cases first, to both formats).
 */
class HalfPrecisionTest {
    private static Safetensors.Contents tables;

    @BeforeAll
    static void readTables(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("half_tables.safetensors");
        try (InputStream in = new GZIPInputStream(HalfPrecisionTest.class.getResourceAsStream(
                "/io/jdl/torch/half_tables.safetensors.gz"))) {
            Files.copy(in, file);
        }
        tables = Safetensors.read(file);
    }

    private static NamedArray table(String name) {
        try {
            return tables.get(name);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static short[] shorts(NamedArray a) {
        short[] out = new short[a.numel()];
        ByteBuffer.wrap(a.bytes()).order(ByteOrder.LITTLE_ENDIAN).asShortBuffer().get(out);
        return out;
    }

    private static String hex(int bits, int digits) {
        return String.format("0x%0" + digits + "X", bits & (digits == 4 ? 0xffff : 0xffffffff));
    }

    @Test
    void everyBf16PatternConvertsToFloatAsPyTorch() {
        everyPattern(HalfPrecision.BF16, table("bf16_to_f32").data());
    }

    @Test
    void everyF16PatternConvertsToFloatAsPyTorch() {
        everyPattern(HalfPrecision.F16, table("f16_to_f32").data());
    }

    private static void everyPattern(HalfPrecision type, float[] expected) {
        assertEquals(65536, expected.length);
        for (int h = 0; h < 65536; h++) {
            int want = Float.floatToRawIntBits(expected[h]);
            int got = Float.floatToRawIntBits(type.toFloat((short) h));
            if (want != got) {
                throw new AssertionError(type + " " + hex(h, 4) + " -> " + hex(got, 8) + ", PyTorch " + hex(want, 8));
            }
        }
    }

    @Test
    void floatsRoundToBf16AsPyTorchExceptNaNPatterns() {
        floatsToHalf(HalfPrecision.BF16, shorts(table("f32_to_bf16")));
    }

    @Test
    void floatsRoundToF16AsPyTorch() {
        floatsToHalf(HalfPrecision.F16, shorts(table("f32_to_f16")));
    }

    /**
     * Bit-exact for every non-NaN input; a NaN input gives a quiet NaN of the same sign (PyTorch's CPU kernels
     * write 0xFFFF for every bf16 NaN, so there only NaN-ness is compared with PyTorch).
     */
    private static void floatsToHalf(HalfPrecision type, short[] expected) {
        float[] inputs = table("f32_inputs").data();
        assertEquals(inputs.length, expected.length);
        int nans = 0;
        for (int i = 0; i < inputs.length; i++) {
            short got = type.fromFloat(inputs[i]);
            int inBits = Float.floatToRawIntBits(inputs[i]);
            if (Float.isNaN(inputs[i])) {
                nans++;
                float back = type.toFloat(got);
                assertTrue(Float.isNaN(back) && Float.isNaN(type.toFloat(expected[i])), "NaN " + hex(inBits, 8));
                assertEquals(inBits < 0, (got & 0x8000) != 0, "sign of NaN " + hex(inBits, 8));
                int quietBit = type == HalfPrecision.BF16 ? 0x0040 : 0x0200;
                assertTrue((got & quietBit) != 0, "quiet NaN from " + hex(inBits, 8));
                if (type == HalfPrecision.F16) {
                    assertEquals(hex(expected[i], 4), hex(got, 4), "NaN " + hex(inBits, 8) + " (F16C keeps payload)");
                }
            } else if (got != expected[i]) {
                throw new AssertionError(type + " of " + inputs[i] + " (" + hex(inBits, 8) + ") = " + hex(got, 4)
                        + ", PyTorch " + hex(expected[i], 4) + " (input " + i + ")");
            }
        }
        assertTrue(nans >= 9, "the edge cases hold NaNs with payloads, found " + nans);
    }

    /** The JDK's own binary16 conversions (JDK 20+) agree with F16 on every value (NaN payloads aside). */
    @Test
    void f16MatchesTheJdkOnEveryNonNaN() {
        for (int h = 0; h < 65536; h++) {
            float f = HalfPrecision.F16.toFloat((short) h);
            if (!Float.isNaN(f)) {
                assertEquals(Float.floatToRawIntBits(Float.float16ToFloat((short) h)), Float.floatToRawIntBits(f), hex(h, 4));
            }
        }
        for (float f : table("f32_inputs").data()) {
            if (!Float.isNaN(f)) {
                assertEquals(Float.floatToFloat16(f), HalfPrecision.F16.fromFloat(f), "" + f);
            }
        }
    }

    @Test
    void namedLimits() {
        assertEquals(65504f, HalfPrecision.F16.round(65519.99f));
        assertEquals(Float.POSITIVE_INFINITY, HalfPrecision.F16.round(65520f));
        assertEquals(Float.NEGATIVE_INFINITY, HalfPrecision.F16.round(-1e6f));
        assertEquals(0x1p-24f, HalfPrecision.F16.round(0x1.000002p-25f));
        assertEquals(0f, HalfPrecision.F16.round(0x1p-25f)); // the tie goes to the even zero
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(HalfPrecision.F16.round(-0x1p-26f)));
        assertEquals(Float.POSITIVE_INFINITY, HalfPrecision.BF16.round(Float.MAX_VALUE));
        assertEquals(0x1.fep127f, HalfPrecision.BF16.round(0x1.fe7ffep127f));
        float subnormal = Float.intBitsToFloat(0x00010000); // a float32 subnormal that bf16 holds exactly
        assertEquals(subnormal, HalfPrecision.BF16.round(subnormal));
        assertEquals(0f, HalfPrecision.BF16.round(Float.MIN_VALUE)); // below half of bf16's smallest subnormal
        assertEquals(1f, HalfPrecision.BF16.round(1.00390625f)); // 1 + 2^-8: the tie goes to the even 1
        assertEquals(1.015625f, HalfPrecision.BF16.round(1.01171875f)); // 1 + 3 * 2^-8: to the even 1 + 2^-6
    }

    @Test
    void bulkConversionsAgreeWithTheElementwiseOnes() {
        float[] values = {1.1f, -2.5e-6f, 7e4f, Float.NaN, -0f, 3e38f};
        for (HalfPrecision type : HalfPrecision.values()) {
            short[] halves = type.fromFloats(values);
            float[] back = type.toFloats(halves);
            float[] rounded = values.clone();
            type.roundInPlace(rounded);
            for (int i = 0; i < values.length; i++) {
                assertEquals(type.fromFloat(values[i]), halves[i]);
                assertEquals(Float.floatToRawIntBits(type.round(values[i])), Float.floatToRawIntBits(back[i]));
            }
            assertArrayEquals(back, rounded);
            assertEquals(2, type.bytes());
        }
    }
}
