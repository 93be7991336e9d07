package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.HalfPrecision;
import io.jdl.cuda.Gpu;
import io.jdl.device.DType;
import io.jdl.device.Device;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Dtypes on the CPU reference: sizes and names, creation and reading back of every dtype, the conversions
 * against PyTorch's results, half-precision ops as float32 arithmetic rounded once, gradients in the inputs'
 * dtypes, and the errors for what is refused.
 */
class DTypeTest {
    private static final Device CPU = Device.CPU;
    static final float NAN = Float.NaN, INF = Float.POSITIVE_INFINITY;
    /** Inputs of the conversion table below. */
    static final float[] TABLE_IN = {NAN, INF, -INF, 3e9f, -3e9f, 1e20f, -1.7f, 2.9f, -0.5f, 255.9f, 256.5f, -1f, -255f,
        300f};
    static final long M32 = Integer.MIN_VALUE, M64 = Long.MIN_VALUE;
    /** PyTorch 2.x on an x86 CPU: {@code x.to(torch.int32 / int64 / uint8).tolist()} of TABLE_IN. */
    static final long[] TORCH_I32 = {M32, M32, M32, M32, M32, M32, -1, 2, 0, 255, 256, -1, -255, 300};
    static final long[] TORCH_I64 = {M64, M64, M64, 3000000000L, -3000000000L, M64, -1, 2, 0, 255, 256, -1, -255, 300};
    static final long[] TORCH_U8 = {0, 0, 0, 0, 0, 0, 255, 2, 0, 255, 0, 255, 1, 44};

    @Test
    void sizesAndNames() {
        assertEquals(4, DType.FLOAT32.bytes());
        assertEquals(2, DType.BFLOAT16.bytes());
        assertEquals(8, DType.INT64.bytes());
        assertEquals(1, DType.BOOL.bytes());
        for (DType d : DType.values()) {
            assertEquals(d, DType.ofSafetensorsName(d.safetensorsName()));
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> DType.ofSafetensorsName("F64")).getMessage()
                .contains("F64"));
        try (Tensor t = Tensor.of(new float[] {1, 2}, 2)) {
            assertEquals(DType.FLOAT32, t.dtype());
        }
    }

    @Test
    void floatToIntegerAsPyTorch() {
        try (Tensor x = Tensor.of(TABLE_IN, TABLE_IN.length); Tensor i32 = x.to(DType.INT32);
             Tensor i64 = x.to(DType.INT64); Tensor u8 = x.to(DType.UINT8); Tensor b = x.to(DType.BOOL)) {
            assertEquals(DType.INT32, i32.dtype());
            assertArrayEquals(TORCH_I32, i32.toLongArray());
            assertArrayEquals(TORCH_I64, i64.toLongArray());
            assertArrayEquals(TORCH_U8, u8.toLongArray());
            long[] ones = new long[TABLE_IN.length];
            java.util.Arrays.fill(ones, 1);
            assertArrayEquals(ones, b.toLongArray());
        }
    }

    @Test
    void integerConversionsAsPyTorch() {
        // torch.tensor([2**63-1, -2**63, 16777217, 2**31+5, 257, -1, 300]).to(int32 / uint8 / float32 / bfloat16)
        long[] in = {Long.MAX_VALUE, Long.MIN_VALUE, 16777217L, 2147483653L, 257, -1, 300};
        try (Tensor x = Tensor.of(in, Shape.of(in.length), CPU); Tensor i32 = x.to(DType.INT32);
             Tensor u8 = x.to(DType.UINT8); Tensor f = x.to(DType.FLOAT32); Tensor bf = x.to(DType.BFLOAT16)) {
            assertEquals(DType.INT64, x.dtype());
            assertArrayEquals(new long[] {-1, 0, 16777217, -2147483643, 257, -1, 300}, i32.toLongArray());
            assertArrayEquals(new long[] {255, 0, 1, 5, 1, 255, 44}, u8.toLongArray());
            assertEquals(16777216f, f.toArray()[2]);
            float[] b = bf.toArray();
            assertEquals(256f, b[4]); // 257 is a tie between 256 and 258: even
            assertEquals(-1f, b[5]);
            assertEquals(300f, b[6]);
        }
        try (Tensor flags = Tensor.of(new float[] {0f, -0f, 0.1f, NAN}, 4); Tensor b = flags.to(DType.BOOL);
             Tensor back = b.to(DType.FLOAT32)) {
            assertArrayEquals(new long[] {0, 0, 1, 1}, b.toLongArray());
            assertArrayEquals(new float[] {0, 0, 1, 1}, back.toArray());
        }
    }

    @Test
    void everyDtypeRoundTripsThroughBytesBitForBit() {
        Random rng = new Random(5);
        for (DType d : DType.values()) {
            byte[] bytes = new byte[12 * d.bytes()];
            rng.nextBytes(bytes);
            if (d == DType.BOOL) {
                for (int i = 0; i < bytes.length; i++) {
                    bytes[i] &= 1;
                }
            }
            try (Tensor t = Tensor.ofBytes(bytes, Shape.of(3, 4), d, CPU); Tensor copy = t.detach()) {
                assertEquals(d, t.dtype());
                assertArrayEquals(bytes, t.toBytes(), d.toString());
                assertArrayEquals(bytes, copy.toBytes(), d + " detach");
                try (Tensor v = t.reshape(4, 3)) {
                    assertEquals(d, v.dtype());
                    assertArrayEquals(bytes, v.toBytes(), d + " view");
                }
            }
        }
        byte[] notBool = {0, 2};
        assertThrows(IllegalArgumentException.class, () -> Tensor.ofBytes(notBool, Shape.of(2), DType.BOOL, CPU));
        assertThrows(IllegalArgumentException.class, () -> Tensor.ofBytes(new byte[3], Shape.of(2), DType.FLOAT16, CPU));
    }

    @Test
    void halfConversionsRoundToNearestEvenAndBack() {
        float[] x = randn(new Random(1), 257);
        x[0] = NAN;
        x[1] = 70000f; // past float16's range
        for (DType d : new DType[] {DType.BFLOAT16, DType.FLOAT16}) {
            HalfPrecision h = d == DType.BFLOAT16 ? HalfPrecision.BF16 : HalfPrecision.F16;
            try (Tensor t = Tensor.of(x, x.length); Tensor half = t.to(d); Tensor back = half.to(DType.FLOAT32)) {
                float[] got = back.toArray();
                for (int i = 0; i < x.length; i++) {
                    assertEquals(Float.floatToIntBits(h.toFloat(h.fromFloat(x[i]))), Float.floatToIntBits(got[i]), d + " " + i);
                }
                assertArrayEquals(got, half.toArray());
            }
        }
    }

    @Test
    void fillAndFullConvertTheValue() {
        try (Tensor t = Tensor.full(Shape.of(3), -2.7f, DType.INT32, CPU); Tensor h = Tensor.zeros(Shape.of(2), DType.FLOAT16, CPU)) {
            assertArrayEquals(new long[] {-2, -2, -2}, t.toLongArray());
            h.fill(1.0009765625f + 0.0001f); // rounds to 1 + 2^-10
            assertArrayEquals(new float[] {1.0009765625f, 1.0009765625f}, h.toArray());
        }
    }

    @Test
    void halfOpsAreFloat32ArithmeticRoundedOnce() {
        Random rng = new Random(3);
        float[] a = randn(rng, 6 * 5), b = randn(rng, 5 * 4);
        for (DType d : new DType[] {DType.BFLOAT16, DType.FLOAT16}) {
            try (TensorScope s = TensorScope.open()) {
                Tensor ha = Tensor.of(a, 6, 5).to(d), hb = Tensor.of(b, 5, 4).to(d);
                Tensor fa = ha.to(DType.FLOAT32), fb = hb.to(DType.FLOAT32);
                Tensor prod = ha.matmul(hb);
                assertEquals(d, prod.dtype());
                assertArrayEquals(fa.matmul(fb).to(d).toArray(), prod.toArray());
                Tensor sum = ha.add(ha.relu());
                assertEquals(d, sum.dtype());
                assertArrayEquals(fa.add(fa.relu()).to(d).toArray(), sum.toArray());
                // float32 with a half promotes to float32, as in PyTorch
                Tensor mixed = ha.mul(fa);
                assertEquals(DType.FLOAT32, mixed.dtype());
                assertArrayEquals(fa.mul(fa).toArray(), mixed.toArray());
                Tensor mean = ha.mean();
                assertEquals(d, mean.dtype());
                assertEquals(fa.mean().to(d).item(), mean.item());
            }
        }
    }

    @Test
    void gradientsComeBackInTheInputsDtype() {
        Random rng = new Random(4);
        float[] w = randn(rng, 4 * 3), x = randn(rng, 2 * 3);
        try (TensorScope s = TensorScope.open()) {
            Tensor master = Tensor.of(w, 4, 3).requiresGrad(true);
            Tensor input = Tensor.of(x, 2, 3).to(DType.BFLOAT16);
            Tensor loss = input.linear(master.to(DType.BFLOAT16), null).to(DType.FLOAT32).sum();
            loss.backward();
            assertEquals(DType.FLOAT32, master.grad().dtype());
            // d(sum(x·Wᵀ))/dW[o][i] = Σ_b x[b][i], in bf16 (the cast's backward rounds it), then back to float32
            float[] xs = input.toArray(), g = master.grad().toArray();
            for (int o = 0; o < 4; o++) {
                for (int i = 0; i < 3; i++) {
                    float want = HalfPrecision.BF16.toFloat(HalfPrecision.BF16.fromFloat(xs[i] + xs[3 + i]));
                    assertEquals(want, g[o * 3 + i], "dW[" + o + "][" + i + "]");
                }
            }
            Tensor leaf = Tensor.of(x, 2, 3).to(DType.FLOAT16).requiresGrad(true);
            leaf.mul(leaf).sum().backward();
            assertEquals(DType.FLOAT16, leaf.grad().dtype());
            leaf.mul(leaf).sum().backward(); // accumulates in float32, rounded to float16
            float[] lv = leaf.toArray(), lg = leaf.grad().toArray();
            for (int i = 0; i < lv.length; i++) {
                float once = HalfPrecision.F16.toFloat(HalfPrecision.F16.fromFloat(2 * lv[i]));
                assertEquals(HalfPrecision.F16.toFloat(HalfPrecision.F16.fromFloat(once + once)), lg[i]);
            }
        }
    }

    @Test
    void refusedDtypesNameTheOpTheArgumentAndTheDtypes() {
        try (TensorScope s = TensorScope.open()) {
            Tensor f = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
            Tensor bf = f.to(DType.BFLOAT16), ints = f.to(DType.INT64);
            String m = assertThrows(IllegalArgumentException.class, () -> bf.matmul(f)).getMessage();
            assertTrue(m.contains("matmul") && m.contains("BFLOAT16") && m.contains("FLOAT32") && m.contains("same dtype"), m);
            m = assertThrows(IllegalArgumentException.class, () -> ints.relu()).getMessage();
            assertTrue(m.contains("relu") && m.contains("INT64"), m);
            m = assertThrows(IllegalArgumentException.class, () -> f.add(ints)).getMessage();
            assertTrue(m.contains("add") && m.contains("b is INT64"), m);
            m = assertThrows(IllegalArgumentException.class, () -> f.toLongArray()).getMessage();
            assertTrue(m.contains("FLOAT32") && m.contains("to(DType.INT64)"), m);
            m = assertThrows(IllegalArgumentException.class, () -> f.copyFrom(bf)).getMessage();
            assertTrue(m.contains("copyFrom") && m.contains("BFLOAT16"), m);
            Tensor q = Tensor.of(new float[16], 1, 2, 2, 4);
            m = assertThrows(IllegalArgumentException.class, () -> q.attention(q.to(DType.INT32), q, false, null, 0f, 0,
                    false)).getMessage();
            assertTrue(m.contains("attention") && m.contains("k is INT32"), m);
            m = assertThrows(IllegalArgumentException.class, () -> q.attention(q.to(DType.BFLOAT16), q, false, null, 0f,
                    0, false)).getMessage();
            assertTrue(m.contains("attention") && m.contains("same dtype"), m);
            m = assertThrows(IllegalArgumentException.class, () -> q.attention(q, q, false,
                    Tensor.of(new float[] {1, 1}, 1, 2).to(DType.BOOL), 0f, 0, false)).getMessage();
            assertTrue(m.contains("keyPaddingMask is BOOL"), m);
            Tensor p = Tensor.of(new float[] {1, 2}, 2).to(DType.BFLOAT16), g = Tensor.of(new float[] {1, 2}, 2);
            m = assertThrows(IllegalArgumentException.class,
                    () -> OptimizerSteps.sgd(p, g, null, 0.1f, 0f, 0f, 0f, false, true)).getMessage();
            assertTrue(m.contains("sgd") && m.contains("param is BFLOAT16"), m);
        }
    }

    @Test
    void integerTensorsAreEmbeddingIds() {
        try (TensorScope s = TensorScope.open(); io.jdl.nn.Embedding e = new io.jdl.nn.Embedding(5, 3, new Random(6))) {
            Tensor ids = Tensor.of(new long[] {4, 0, 2}, Shape.of(3), CPU);
            assertArrayEquals(e.forward(Tensor.of(new float[] {4, 0, 2}, 3)).toArray(), e.forward(ids).toArray());
            Tensor huge = Tensor.of(new long[] {1L << 40}, Shape.of(1), CPU);
            String m = assertThrows(IllegalArgumentException.class, () -> e.forward(huge)).getMessage();
            assertTrue(m.contains("1099511627776"), m);
        }
    }

    @Test
    void everyHalfOpIsTheFloat32OpOnTheRoundedInputsRoundedOnce() {
        for (HalfOpCases.Case c : HalfOpCases.all()) {
            for (DType d : new DType[] {DType.BFLOAT16, DType.FLOAT16}) {
                HalfOpCases.Result half = HalfOpCases.run(c, d, CPU);
                HalfOpCases.Result ref = HalfOpCases.run(c, d, DType.FLOAT32, CPU);
                assertArrayEquals(ref.output(), half.output(), c.name() + " " + d);
                for (int i = 0; i < ref.grads().size(); i++) {
                    // the half run rounds the output's gradient and each input's: a few of the dtype's ulps apart
                    double tol = d == DType.BFLOAT16 ? 2e-2 : 4e-3;
                    double err = Gpu.relativeError(half.grads().get(i), ref.grads().get(i));
                    assertTrue(err < tol, c.name() + " " + d + " gradient " + i + ": relative error " + err);
                }
            }
        }
    }

    static float[] randn(Random rng, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rng.nextGaussian();
        }
        return x;
    }
}
