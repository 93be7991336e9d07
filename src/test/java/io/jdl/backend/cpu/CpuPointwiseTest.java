package io.jdl.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.Activation;
import io.jdl.backend.Backend;
import io.jdl.backend.Storage;
import io.jdl.device.DType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@code Backend}'s pointwise contract on the CPU: every pointwise primitive takes each operand in any float dtype,
 * and its result is, bit for bit, the float32 primitive on the widened inputs followed by one cast of each output;
 * an output may alias an input of another dtype's kind; integer storages are refused naming the primitive.
 */
class CpuPointwiseTest {
    private static final Backend CPU = CpuBackend.INSTANCE;
    private static final DType[] FLOATS = {DType.FLOAT32, DType.BFLOAT16, DType.FLOAT16};
    private static final int N = 3, C = 5, HW = 7, NCHW = N * C * HW;

    /** A primitive over operands of the given sizes; {@code outputs[i]}: operand i is written; float32Only: fixed. */
    private record Case(String name, int[] sizes, boolean[] outputs, boolean[] float32Only, Run run) {
    }

    private interface Run {
        void run(Storage[] s);
    }

    private static Case c(String name, String roles, Run run, int... sizes) {
        boolean[] out = new boolean[roles.length()], f32 = new boolean[roles.length()];
        for (int i = 0; i < roles.length(); i++) {
            out[i] = roles.charAt(i) == 'o' || roles.charAt(i) == 'O';
            f32[i] = roles.charAt(i) == 'F' || roles.charAt(i) == 'O';
        }
        return new Case(name, sizes, out, f32, run);
    }

    /** Roles: i an input, o an output, F a float32 input, O a float32 output. */
    private static List<Case> cases() {
        List<Case> cases = new ArrayList<>();
        cases.add(c("axpby", "iio", s -> CPU.axpby(0.7f, s[0], -1.3f, s[1], s[2], NCHW), NCHW, NCHW, NCHW));
        cases.add(c("mul", "iio", s -> CPU.mul(s[0], s[1], s[2], NCHW), NCHW, NCHW, NCHW));
        cases.add(c("mulScalar", "iFo", s -> CPU.mulScalar(s[0], s[1], s[2], NCHW), NCHW, 1, NCHW));
        for (boolean multiply : new boolean[] {false, true}) {
            // a [N, C, HW] with b [C, 1] broadcast over N and HW: out [N, C, HW] as dims [1, N, C, HW]
            cases.add(c("broadcastBinary " + multiply, "iio", s -> CPU.broadcastBinary(multiply, 0.5f, 2f, s[0],
                    new int[] {0, C * HW, HW, 1}, s[1], new int[] {0, 0, 1, 0}, s[2], new int[] {1, N, C, HW}),
                    NCHW, C, NCHW));
        }
        cases.add(c("broadcast", "io", s -> CPU.broadcast(s[0], s[1], N, C, HW), N * HW, NCHW));
        cases.add(c("sum", "io", s -> CPU.sum(s[0], s[1], N, C, HW), NCHW, N * HW));
        cases.add(c("sum rows", "io", s -> CPU.sum(s[0], s[1], N * C, HW, 1), NCHW, N * C));
        cases.add(c("addBias", "iio", s -> CPU.addBias(s[0], s[1], s[2], N * C, HW), NCHW, HW, NCHW));
        cases.add(c("addChannelBias", "iio", s -> CPU.addChannelBias(s[0], s[1], s[2], N, C, HW), NCHW, C, NCHW));
        cases.add(c("channelBiasBackward", "io", s -> CPU.channelBiasBackward(s[0], s[1], N, C, HW), NCHW, C));
        for (Activation act : Activation.values()) {
            cases.add(c("activation " + act, "io", s -> CPU.activation(act, -0.2f, s[0], s[1], NCHW), NCHW, NCHW));
            cases.add(c("activationBackward " + act, "iiio", s -> CPU.activationBackward(act, -0.2f, s[0], s[1], s[2],
                    s[3], NCHW), NCHW, NCHW, NCHW, NCHW));
            cases.add(c("biasActivation " + act, "iio", s -> CPU.biasActivation(act, -0.2f, s[0], s[1], null, s[2], N,
                    C, HW), NCHW, C, NCHW));
            cases.add(c("biasActivation rows " + act, "iioo", s -> CPU.biasActivation(act, -0.2f, s[0], s[1], s[2],
                    s[3], N * HW, C, 1), NCHW, C, NCHW, NCHW));
        }
        cases.add(c("dropout", "ioO", s -> CPU.dropout(s[0], s[1], s[2], NCHW, 0.3f, 11), NCHW, NCHW, NCHW));
        for (boolean log : new boolean[] {false, true}) {
            cases.add(c("softmax " + log, "io", s -> CPU.softmax(log, s[0], s[1], N * C, HW), NCHW, NCHW));
            cases.add(c("softmaxBackward " + log, "iio", s -> CPU.softmaxBackward(log, s[0], s[1], s[2], N * C, HW),
                    NCHW, NCHW, NCHW));
        }
        return cases;
    }

    /** Gaussians with the values that matter among them: ±0, a NaN, ±inf, halfway and subnormal ones. */
    private static float[] values(Random rng, int n) {
        float[] specials = {-0f, 0f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 1.00390625f,
            0x1p-130f, -3e-8f, 70000f, 1 + 0x1p-11f};
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = i < specials.length && n > 10 && rng.nextInt(3) == 0 ? specials[i] : (float) rng.nextGaussian();
        }
        return x;
    }

    private static Storage of(float[] values, DType d) {
        try (Storage f = CPU.upload(values)) {
            Storage s = CPU.allocate(values.length, d);
            CPU.cast(f, s, values.length);
            return s;
        }
    }

    private static Storage widened(Storage s) {
        Storage f = CPU.allocate(s.numel(), DType.FLOAT32);
        CPU.cast(s, f, s.numel());
        return f;
    }

    private static byte[] castBytes(Storage f32, DType d) {
        try (Storage s = CPU.allocate(f32.numel(), d)) {
            CPU.cast(f32, s, f32.numel());
            return CPU.downloadBytes(s, s.numel());
        }
    }

    @Test
    void everyPrimitiveIsTheFloat32PrimitiveOnTheWidenedOperandsCastOnce() {
        Random rng = new Random(14);
        for (Case c : cases()) {
            int k = c.sizes.length;
            for (int combo = 0; combo < Math.pow(3, k); combo++) {
                DType[] dtypes = new DType[k];
                boolean skip = false;
                for (int i = 0, rest = combo; i < k; i++, rest /= 3) {
                    dtypes[i] = FLOATS[rest % 3];
                    skip |= c.float32Only[i] && dtypes[i] != DType.FLOAT32;
                }
                if (skip) {
                    continue;
                }
                check(c, dtypes, rng);
            }
        }
    }

    private static void check(Case c, DType[] dtypes, Random rng) {
        int k = c.sizes.length;
        Storage[] given = new Storage[k], ref = new Storage[k];
        try {
            for (int i = 0; i < k; i++) {
                // outputs start as garbage of their dtype: a primitive must write every element it promises
                given[i] = of(values(rng, c.sizes[i]), dtypes[i]);
                ref[i] = widened(given[i]);
            }
            c.run.run(given);
            c.run.run(ref);
            for (int i = 0; i < k; i++) {
                if (c.outputs[i]) {
                    assertArrayEquals(castBytes(ref[i], dtypes[i]), CPU.downloadBytes(given[i], given[i].numel()),
                            c.name + " with " + Arrays.toString(dtypes) + ": operand " + i);
                }
            }
        } finally {
            for (int i = 0; i < k; i++) {
                if (given[i] != null) {
                    given[i].close();
                }
                if (ref[i] != null) {
                    ref[i].close();
                }
            }
        }
    }

    @Test
    void aHalfOutputMayAliasItsInput() {
        Random rng = new Random(15);
        for (DType d : new DType[] {DType.BFLOAT16, DType.FLOAT16}) {
            float[] a = values(rng, NCHW), b = values(rng, NCHW), bias = values(rng, C);
            try (Storage x = of(a, d); Storage y = of(b, d); Storage bs = of(bias, d);
                 Storage x32 = widened(x); Storage y32 = widened(y); Storage b32 = widened(bs)) {
                CPU.axpby(2f, x, -1f, y, x, NCHW);  // out is a
                CPU.axpby(2f, x32, -1f, y32, x32, NCHW);
                assertArrayEquals(castBytes(x32, d), CPU.downloadBytes(x, NCHW), d + " axpby in place");
                CPU.biasActivation(Activation.GELU, 0f, y, bs, y, y, N, C, HW);  // pre and y are x
                CPU.biasActivation(Activation.GELU, 0f, y32, b32, y32, y32, N, C, HW);
                assertArrayEquals(castBytes(y32, d), CPU.downloadBytes(y, NCHW), d + " biasActivation in place");
            }
            try (Storage x = of(a, d); Storage x32 = widened(x)) {
                CPU.activation(Activation.TANH, 0f, x, x, NCHW);
                CPU.activation(Activation.TANH, 0f, x32, x32, NCHW);
                assertArrayEquals(castBytes(x32, d), CPU.downloadBytes(x, NCHW), d + " tanh in place");
            }
        }
    }

    @Test
    void aPartialWriteLeavesTheRestOfAHalfOutput() {
        try (Storage a = of(new float[] {1, 2, 3, 4}, DType.BFLOAT16);
             Storage out = of(new float[] {9, 9, 9, 9}, DType.FLOAT16)) {
            CPU.mul(a, a, out, 2);
            try (Storage f = widened(out)) {
                assertArrayEquals(new float[] {1, 4, 9, 9}, CPU.download(f, 4));
            }
        }
    }

    @Test
    void fillRoundsTheValueOnce() {
        float v = 1 + 0x1p-9f + 0x1p-12f;  // exact in neither half: bf16 rounds it to 1, float16 to 1 + 2^-9
        for (DType d : FLOATS) {
            try (Storage s = CPU.allocate(3, d)) {
                CPU.fill(s, v);
                try (Storage ref = of(new float[] {v, v, v}, d)) {
                    assertArrayEquals(CPU.downloadBytes(ref, 3), CPU.downloadBytes(s, 3), d.toString());
                }
            }
        }
    }

    @Test
    void integerStoragesAreRefusedNamingThePrimitiveAndTheDtype() {
        try (Storage f = CPU.allocate(NCHW, DType.FLOAT32); Storage h = CPU.allocate(NCHW, DType.BFLOAT16);
             Storage i = CPU.allocate(NCHW, DType.INT32); Storage l = CPU.allocate(NCHW, DType.INT64)) {
            expectRefused("axpby", "INT32", () -> CPU.axpby(1f, f, 1f, i, h, NCHW));
            expectRefused("mul", "INT64", () -> CPU.mul(h, f, l, NCHW));
            expectRefused("activation", "INT32", () -> CPU.activation(Activation.GELU, 0f, i, h, NCHW));
            expectRefused("activationBackward", "INT32",
                    () -> CPU.activationBackward(Activation.RELU, 0f, h, h, i, h, NCHW));
            expectRefused("biasActivation", "INT64",
                    () -> CPU.biasActivation(Activation.RELU, 0f, h, l, null, h, N, C, HW));
            expectRefused("addBias", "INT32", () -> CPU.addBias(i, h, h, N, C));
            expectRefused("addChannelBias", "INT32", () -> CPU.addChannelBias(h, i, h, N, C, HW));
            expectRefused("dropout", "INT32", () -> CPU.dropout(i, h, f, NCHW, 0.5f, 1));
            expectRefused("dropout", "BFLOAT16", () -> CPU.dropout(f, h, h, NCHW, 0.5f, 1));  // the mask is float32
            expectRefused("fill", "INT32", () -> CPU.fill(i, 1f));
            expectRefused("broadcastBinary", "INT32", () -> CPU.broadcastBinary(true, 1f, 0f, h, new int[4], i,
                    new int[4], h, new int[] {1, 1, 1, 1}));
            expectRefused("broadcast", "INT32", () -> CPU.broadcast(i, h, 1, 1, NCHW));
            expectRefused("sum", "INT64", () -> CPU.sum(h, l, 1, NCHW, 1));
            expectRefused("channelBiasBackward", "INT32", () -> CPU.channelBiasBackward(i, h, N, C, HW));
            expectRefused("mulScalar", "BFLOAT16", () -> CPU.mulScalar(f, h, f, NCHW));  // the scalar is float32
            expectRefused("mulScalar", "INT32", () -> CPU.mulScalar(i, f, f, NCHW));
            expectRefused("softmax", "INT32", () -> CPU.softmax(false, i, h, N, C));
            expectRefused("softmaxBackward", "INT32", () -> CPU.softmaxBackward(false, h, i, h, N, C));
        }
    }

    private static void expectRefused(String primitive, String dtype, Runnable call) {
        String m = assertThrows(IllegalStateException.class, call::run, primitive).getMessage();
        assertTrue(m.contains(primitive) && m.contains(dtype), primitive + ": " + m);
    }
}
