package io.jdl.backend.cuda;

import static io.jdl.device.DType.BFLOAT16;
import static io.jdl.device.DType.FLOAT16;
import static io.jdl.device.DType.FLOAT32;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.Activation;
import io.jdl.backend.Backend;
import io.jdl.backend.Storage;
import io.jdl.backend.cpu.CpuBackend;
import io.jdl.cuda.Gpu;
import io.jdl.cuda.NativeCounters;
import io.jdl.cuda.StandIn;
import io.jdl.device.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The pointwise primitives of {@link CudaBackend} on bfloat16 / float16 operands, each operand its own dtype (issue
 * #14): a result must be the float32 primitive on the widened inputs followed by one cast of its output. Checked two
 * ways on odd sizes: bit for bit against that recipe run on CUDA itself (the same kernels, so on any device), and
 * against the CPU reference "cast each input to float32, the CPU's float32 primitive, cast the output": bit for bit
 * on the stand-in for the arithmetic ops, within one unit of the output's last place where float32 may differ
 * already (expf/erff/tanhf against the JDK's, a GPU's fused multiply-add) and within float32 summation order for
 * the sums.
 */
@Tag("gpu")
class HalfPointwiseGpuTest {
    private static final int[] SIZES = {1, 7, 1003};
    private static final float GARBAGE = 7.5f;
    private final Random rng = new Random(14);
    private final List<Storage> storages = new ArrayList<>();

    @BeforeEach
    void needsGpu() {
        Gpu.assumeAvailable();
    }

    @AfterEach
    void free() {
        storages.forEach(Storage::close);
        storages.clear();
    }

    /** How close CUDA must be to the CPU reference. */
    private enum Agreement {
        /** Arithmetic only: bit for bit on the stand-in (one output ulp on a GPU, which may fuse a multiply-add). */
        EXACT,
        /**
         * Transcendental functions, whose float32 results differ a little (the CPU's own erf): 1e-5 relative, then one
         * unit in the output's last place.
         */
        CLOSE,
        /** Sums: float32 summation order, then one unit in the output's last place. */
        SUM
    }

    /** One operand: its dtype and element count. */
    private record Operand(DType type, int size) {
    }

    private interface Op {
        void run(Backend b, Storage[] in, Storage[] out);
    }

    private static Operand[] ops(Operand... o) {
        return o;
    }

    private static Operand of(DType type, int size) {
        return new Operand(type, size);
    }

    /** The dtype combinations the tensor layer uses for a binary op: all-float32, all-half, half with float32. */
    private static final DType[][] BINARY_TYPES = {
        {FLOAT32, FLOAT32, FLOAT32}, {BFLOAT16, BFLOAT16, BFLOAT16}, {FLOAT16, FLOAT16, FLOAT16},
        {BFLOAT16, FLOAT32, FLOAT32}, {FLOAT32, FLOAT16, FLOAT32}, {FLOAT32, FLOAT32, BFLOAT16},
        {FLOAT16, BFLOAT16, FLOAT16}};

    /** Unary ops: all-float32, all-half, half in with float32 out, float32 in with half out. */
    private static final DType[][] UNARY_TYPES = {
        {FLOAT32, FLOAT32}, {BFLOAT16, BFLOAT16}, {FLOAT16, FLOAT16}, {BFLOAT16, FLOAT32}, {FLOAT32, FLOAT16}};

    // ---- the primitives ----

    @Test
    void axpbyMulAndMulScalar() {
        for (int n : SIZES) {
            for (DType[] t : BINARY_TYPES) {
                Operand[] in = ops(of(t[0], n), of(t[1], n));
                Operand[] out = ops(of(t[2], n));
                check("axpby", Agreement.EXACT, in, out, (b, i, o) -> b.axpby(0.75f, i[0], -1.5f, i[1], o[0], n));
                check("mul", Agreement.EXACT, in, out, (b, i, o) -> b.mul(i[0], i[1], o[0], n));
                check("mulScalar", Agreement.EXACT, ops(of(t[0], n), of(FLOAT32, 1)), out,
                        (b, i, o) -> b.mulScalar(i[0], i[1], o[0], n));
            }
        }
    }

    @Test
    void fillRoundsTheValueOnce() {
        for (DType t : new DType[] {FLOAT32, BFLOAT16, FLOAT16}) {
            for (float v : new float[] {1f / 3, -65519.99f, 65520f, 1e-8f, 0f}) {
                check("fill " + v, Agreement.EXACT, ops(), ops(of(t, 1003)), (b, i, o) -> b.fill(o[0], v));
            }
        }
    }

    @Test
    void activationsForwardAndBackward() {
        for (Activation act : Activation.values()) {
            boolean transcendental = act == Activation.SIGMOID || act == Activation.TANH || act == Activation.GELU;
            Agreement forward = transcendental ? Agreement.CLOSE : Agreement.EXACT;
            Agreement backward = act == Activation.GELU ? Agreement.CLOSE : Agreement.EXACT;
            for (int n : SIZES) {
                for (DType[] t : UNARY_TYPES) {
                    check(act + " forward", forward, ops(of(t[0], n)), ops(of(t[1], n)),
                            (b, i, o) -> b.activation(act, -0.2f, i[0], o[0], n));
                }
                // (x or y, dy) -> dx: all-half, half dy with a half input and float32 dx, float32 dy with half x
                DType[][] backwardTypes = {{FLOAT32, FLOAT32, FLOAT32}, {BFLOAT16, BFLOAT16, BFLOAT16},
                    {FLOAT16, FLOAT16, FLOAT16}, {BFLOAT16, BFLOAT16, FLOAT32}, {BFLOAT16, FLOAT32, FLOAT32}};
                for (DType[] t : backwardTypes) {
                    // i[0] as x and y: ReLU, leaky ReLU and GELU read x, sigmoid and tanh y
                    check(act + " backward", backward, ops(of(t[0], n), of(t[1], n)), ops(of(t[2], n)),
                            (b, i, o) -> b.activationBackward(act, -0.2f, i[0], i[0], i[1], o[0], n));
                }
            }
        }
    }

    @Test
    void biasesAndTheBiasActivationEpilogue() {
        int rows = 7;
        int cols = 13;
        int hw = 11;
        // (x, bias) -> out: a float32 GEMM output with a half bias written as half, and the all-half / mixed ones
        DType[][] types = {{FLOAT32, FLOAT32, FLOAT32}, {FLOAT32, BFLOAT16, BFLOAT16}, {FLOAT32, FLOAT16, FLOAT16},
            {BFLOAT16, BFLOAT16, BFLOAT16}, {FLOAT16, FLOAT16, FLOAT16}, {FLOAT32, FLOAT32, BFLOAT16},
            {BFLOAT16, FLOAT32, FLOAT32}};
        for (DType[] t : types) {
            check("addBias", Agreement.EXACT, ops(of(t[0], rows * cols), of(t[1], cols)), ops(of(t[2], rows * cols)),
                    (b, i, o) -> b.addBias(i[0], i[1], o[0], rows, cols));
            check("addChannelBias", Agreement.EXACT, ops(of(t[0], rows * cols * hw), of(t[1], cols)),
                    ops(of(t[2], rows * cols * hw)), (b, i, o) -> b.addChannelBias(i[0], i[1], o[0], rows, cols, hw));
            for (Activation act : Activation.values()) {
                boolean exact = act == Activation.RELU || act == Activation.LEAKY_RELU;
                // pre (x + bias) in y's dtype, as the tensor layer saves it for the backward
                check("biasActivation " + act, exact ? Agreement.EXACT : Agreement.CLOSE,
                        ops(of(t[0], rows * cols * hw), of(t[1], cols)),
                        ops(of(t[2], rows * cols * hw), of(t[2], rows * cols * hw)),
                        (b, i, o) -> b.biasActivation(act, 0.1f, i[0], i[1], o[0], o[1], rows, cols, hw));
                check("biasActivation " + act + " without pre", exact ? Agreement.EXACT : Agreement.CLOSE,
                        ops(of(t[0], rows * cols), of(t[1], cols)), ops(of(t[2], rows * cols)),
                        (b, i, o) -> b.biasActivation(act, 0.1f, i[0], i[1], null, o[0], rows, cols, 1));
            }
        }
    }

    @Test
    void dropoutRoundsYAndKeepsAFloat32Mask() {
        for (int n : SIZES) {
            for (DType[] t : UNARY_TYPES) {
                check("dropout", Agreement.EXACT, ops(of(t[0], n)), ops(of(t[1], n), of(FLOAT32, n)),
                        (b, i, o) -> b.dropout(i[0], o[0], o[1], n, 0.3f, 42L));
            }
        }
    }

    @Test
    void broadcasts() {
        int[] dims = {3, 5, 1, 7};
        for (DType[] t : BINARY_TYPES) {
            // a [3, 1, 1, 7] against b [1, 5, 1, 1], both ways of combining them
            Operand[] in = ops(of(t[0], 3 * 7), of(t[1], 5));
            Operand[] out = ops(of(t[2], 3 * 5 * 7));
            for (boolean multiply : new boolean[] {true, false}) {
                check("broadcastBinary " + (multiply ? "mul" : "axpby"), Agreement.EXACT, in, out,
                        (b, i, o) -> b.broadcastBinary(multiply, 0.5f, -2f, i[0], new int[] {7, 0, 0, 1}, i[1],
                                new int[] {0, 1, 0, 0}, o[0], dims));
            }
        }
        for (DType[] t : UNARY_TYPES) {
            check("broadcast", Agreement.EXACT, ops(of(t[0], 3 * 7)), ops(of(t[1], 3 * 5 * 7)),
                    (b, i, o) -> b.broadcast(i[0], o[0], 3, 5, 7));
        }
    }

    @Test
    void sumsOverAnAxisAndTheChannelBiasGradient() {
        for (DType[] t : UNARY_TYPES) {
            for (int n : SIZES) {
                check("sum rows", Agreement.SUM, ops(of(t[0], 3 * n)), ops(of(t[1], 3)),
                        (b, i, o) -> b.sum(i[0], o[0], 3, n, 1));
                check("sum axis", Agreement.SUM, ops(of(t[0], 2 * n * 5)), ops(of(t[1], 2 * 5)),
                        (b, i, o) -> b.sum(i[0], o[0], 2, n, 5));
                // a copy or cast on CUDA, a sum on the CPU (which makes -0 into +0)
                check("sum over one element", Agreement.SUM, ops(of(t[0], n)), ops(of(t[1], n)),
                        (b, i, o) -> b.sum(i[0], o[0], n, 1, 1));
                check("channelBiasBackward", Agreement.SUM, ops(of(t[0], 2 * 4 * n)), ops(of(t[1], 4)),
                        (b, i, o) -> b.channelBiasBackward(i[0], o[0], 2, 4, n));
            }
        }
    }

    @Test
    void softmaxAndLogSoftmaxEachWay() {
        for (int cols : SIZES) {
            int rows = 3;
            int n = rows * cols;
            for (boolean log : new boolean[] {false, true}) {
                for (DType[] t : UNARY_TYPES) {
                    check((log ? "logSoftmax" : "softmax"), Agreement.SUM, ops(of(t[0], n)), ops(of(t[1], n)),
                            (b, i, o) -> b.softmax(log, i[0], o[0], rows, cols));
                }
                for (DType[] t : new DType[][] {{FLOAT32, FLOAT32, FLOAT32}, {BFLOAT16, BFLOAT16, BFLOAT16},
                    {FLOAT16, FLOAT16, FLOAT16}, {FLOAT32, BFLOAT16, BFLOAT16}, {BFLOAT16, FLOAT32, FLOAT32}}) {
                    // random y and dy: the formula is what is checked, not a softmax's output
                    check((log ? "logSoftmax" : "softmax") + " backward", Agreement.SUM,
                            ops(of(t[0], n), of(t[1], n)), ops(of(t[2], n)),
                            (b, i, o) -> b.softmaxBackward(log, i[0], i[1], o[0], rows, cols));
                }
            }
        }
    }

    // ---- one launch each ----

    @Test
    void eachHalfPrimitiveIsOneLaunch() {
        CudaBackend gpu = CudaBackend.get(0);
        int n = 1003;
        Storage x = typed(gpu, BFLOAT16, random(n));
        Storage y = typed(gpu, BFLOAT16, random(n));
        Storage dx = typed(gpu, BFLOAT16, random(n));
        Storage f = typed(gpu, FLOAT32, random(n));
        Storage out = typed(gpu, FLOAT32, random(n));
        Storage bias = typed(gpu, BFLOAT16, random(n / 17));
        gpu.synchronize();
        assertEquals(1, launches(() -> gpu.activation(Activation.GELU, 0f, x, y, n)), "bf16 GELU forward");
        assertEquals(1, launches(() -> gpu.activationBackward(Activation.GELU, 0f, x, null, y, dx, n)),
                "bf16 GELU backward");
        assertEquals(1, launches(() -> gpu.axpby(1f, x, 1f, f, out, n)), "bf16 + float32 axpby");
        assertEquals(1, launches(() -> gpu.biasActivation(Activation.RELU, 0f, f, bias, null, y, 17, n / 17, 1)),
                "biasActivation of a float32 x with a bf16 bias into a bf16 y");
        assertEquals(1, launches(() -> gpu.softmax(true, x, y, 17, n / 17)), "bf16 log-softmax");
    }

    /** Kernel launches by {@code body} (a cast is a launch too, so 1 means no cast around the kernel). */
    private static long launches(Runnable body) {
        NativeCounters.Snapshot before = NativeCounters.snapshot();
        body.run();
        return NativeCounters.snapshot().minus(before).kernelLaunches();
    }

    // ---- refused ----

    @Test
    void integerStoragesAreRefusedNamingThePrimitiveAndTheDtype() {
        CudaBackend gpu = CudaBackend.get(0);
        Storage ints = keep(gpu.uploadBytes(new byte[4 * 8], DType.INT32));
        Storage f = typed(gpu, FLOAT32, random(8));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> gpu.axpby(1f, ints, 1f, f, f, 8));
        assertTrue(e.getMessage().contains("axpby") && e.getMessage().contains("INT32"), e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> gpu.activation(Activation.RELU, 0f, f, ints, 8));
        assertTrue(e.getMessage().contains("activation") && e.getMessage().contains("INT32"), e.getMessage());
        Storage bf = typed(gpu, BFLOAT16, random(8));
        e = assertThrows(IllegalStateException.class, () -> gpu.dropout(f, f, bf, 8, 0.5f, 1L));
        assertTrue(e.getMessage().contains("mask") && e.getMessage().contains("BFLOAT16"), e.getMessage());
    }

    // ---- the checking ----

    /**
     * Runs {@code op} on CUDA with typed operands, and compares every output with the recipe on CUDA (bit for bit)
     * and on the CPU ({@code agreement}). Inputs are random values representable in their dtypes.
     */
    private void check(String name, Agreement agreement, Operand[] in, Operand[] out, Op op) {
        float[][] inputs = new float[in.length][];
        for (int k = 0; k < in.length; k++) {
            inputs[k] = representable(in[k].type(), random(in[k].size()));
        }
        String what = name + " " + Arrays.toString(in) + " -> " + Arrays.toString(out);
        CudaBackend gpu = CudaBackend.get(0);
        byte[][] typed = run(gpu, op, in, inputs, out, false);
        byte[][] onCuda = run(gpu, op, in, inputs, out, true);
        byte[][] onCpu = run(CpuBackend.INSTANCE, op, in, inputs, out, true);
        for (int k = 0; k < out.length; k++) {
            assertArrayEquals(onCuda[k], typed[k], what + ": output " + k + " is not the float32 op, then a cast");
            compare(what + ": output " + k + " against the CPU", agreement, out[k].type(), decode(out[k].type(),
                    typed[k]), decode(out[k].type(), onCpu[k]));
        }
        storages.forEach(Storage::close);
        storages.clear();
    }

    /**
     * The outputs' bytes: the op on storages of the operands' dtypes ({@code viaFloat32} false), or on float32
     * storages with each output cast to its dtype afterwards (the reference recipe).
     */
    private byte[][] run(Backend b, Op op, Operand[] in, float[][] inputs, Operand[] out, boolean viaFloat32) {
        Storage[] ins = new Storage[in.length];
        for (int k = 0; k < in.length; k++) {
            ins[k] = typed(b, viaFloat32 ? FLOAT32 : in[k].type(), inputs[k]);
        }
        Storage[] outs = new Storage[out.length];
        for (int k = 0; k < out.length; k++) {
            float[] garbage = new float[out[k].size()];
            Arrays.fill(garbage, GARBAGE);
            outs[k] = typed(b, viaFloat32 ? FLOAT32 : out[k].type(), garbage);
        }
        op.run(b, ins, outs);
        byte[][] bytes = new byte[out.length][];
        for (int k = 0; k < out.length; k++) {
            Storage result = outs[k];
            if (viaFloat32 && out[k].type() != FLOAT32) {
                result = keep(b.allocate(out[k].size(), out[k].type()));
                b.cast(outs[k], result, out[k].size());
            }
            bytes[k] = b.downloadBytes(result, out[k].size());
        }
        return bytes;
    }

    private void compare(String what, Agreement agreement, DType type, float[] actual, float[] expected) {
        boolean exact = agreement == Agreement.EXACT && StandIn.isLoaded();
        double scale = 0;
        for (float e : expected) {
            scale = Math.max(scale, Math.abs(e));
        }
        for (int i = 0; i < actual.length; i++) {
            float a = actual[i];
            float e = expected[i];
            if (exact || Float.isNaN(e) || Float.isInfinite(e)) {
                assertEquals(Float.floatToIntBits(e), Float.floatToIntBits(a), what + " at " + i + ": " + a + " vs " + e);
                continue;
            }
            double allowed = ulp(type, e) + switch (agreement) {
                case EXACT -> 2 * Math.ulp((float) scale);  // on a GPU: a fused multiply-add's one rounding
                case CLOSE -> 1e-5 * Math.max(1, Math.abs(e));
                case SUM -> 1e-5 * Math.max(1, scale);
            };
            assertTrue(Math.abs(a - e) <= allowed, what + " at " + i + ": " + a + " vs " + e + " (allowed " + allowed + ")");
        }
    }

    /** One unit in the last place of {@code v} in {@code type} (normal range; the subnormal spacing below). */
    private static double ulp(DType type, float v) {
        return switch (type) {
            case BFLOAT16 -> Math.max(Math.ulp(v) * 65536.0, 0x1p-133);
            case FLOAT16 -> Math.max(Math.ulp(v) * 8192.0, 0x1p-24);
            default -> Math.ulp(v);
        };
    }

    /** values rounded to {@code type} (through the CPU backend's cast) and widened back: exactly representable. */
    private float[] representable(DType type, float[] values) {
        CpuBackend cpu = CpuBackend.INSTANCE;
        Storage f = keep(cpu.upload(values));
        if (type == FLOAT32) {
            return values;
        }
        Storage h = keep(cpu.allocate(values.length, type));
        cpu.cast(f, h, values.length);
        Storage back = keep(cpu.allocate(values.length, FLOAT32));
        cpu.cast(h, back, values.length);
        return cpu.download(back, values.length);
    }

    /** A storage of {@code type} on {@code b} holding {@code values} (representable in it). */
    private Storage typed(Backend b, DType type, float[] values) {
        Storage f = keep(b.upload(values));
        if (type == FLOAT32) {
            return f;
        }
        Storage t = keep(b.allocate(values.length, type));
        b.cast(f, t, values.length);
        return t;
    }

    private Storage keep(Storage s) {
        storages.add(s);
        return s;
    }

    /** Little-endian elements of {@code type} as floats. */
    private static float[] decode(DType type, byte[] bytes) {
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        float[] v = new float[bytes.length / type.bytes()];
        for (int i = 0; i < v.length; i++) {
            v[i] = switch (type) {
                case FLOAT32 -> buf.getFloat(4 * i);
                case BFLOAT16 -> Float.intBitsToFloat((buf.getShort(2 * i) & 0xffff) << 16);
                case FLOAT16 -> Float.float16ToFloat(buf.getShort(2 * i));
                default -> throw new IllegalArgumentException(type.toString());
            };
        }
        return v;
    }

    /** Gaussian values of scale 3 (within float16's range), with zeros of both signs among them. */
    private float[] random(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (3 * rng.nextGaussian());
        }
        if (n > 4) {
            v[1] = 0f;
            v[3] = -0f;
        }
        return v;
    }
}
