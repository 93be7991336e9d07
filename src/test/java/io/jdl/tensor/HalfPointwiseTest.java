package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.cpu.CpuStorage;
import io.jdl.device.DType;
import io.jdl.device.Device;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The half pointwise ops (issue #14 item 4) on the CPU reference: add, sub, mul (broadcasting, views), scale,
 * addBias, the activations, dropout, softmax, logSoftmax, sum and mean, gradient accumulation and a half linear's
 * epilogue run on the bfloat16 / float16 tensors as they are, one backend call with no recorded conversion, and give
 * bit for bit the old path's numbers, written out here as {@code x.to(FLOAT32)} -> float32 op -> {@code .to(dtype)}:
 * every output and every gradient, in each input's dtype, also for mixed dtypes (PyTorch's promotion).
 */
class HalfPointwiseTest {
    private static final Device CPU = Device.CPU;
    private static final DType BF16 = DType.BFLOAT16, F16 = DType.FLOAT16, F32 = DType.FLOAT32;
    private static final int[] M = {3, 7}, ROW = {7}, B3 = {2, 3, 5};

    private record Case(String name, Function<Tensor[], Tensor> op, int[][] shapes) {
    }

    private static Case c(String name, Function<Tensor[], Tensor> op, int[]... shapes) {
        return new Case(name, op, shapes);
    }

    /** The ops moved to the half primitives, on odd shapes, with broadcasting and views. */
    private static List<Case> cases() {
        return List.of(
                c("add", t -> t[0].add(t[1]), M, M),
                c("sub", t -> t[0].sub(t[1]), M, M),
                c("mul", t -> t[0].mul(t[1]), M, M),
                c("add broadcast", t -> t[0].add(t[1]), B3, new int[] {5}),
                c("sub broadcast both", t -> t[0].sub(t[1]), new int[] {3, 1}, new int[] {1, 5}),
                c("mul broadcast", t -> t[0].mul(t[1]), B3, new int[] {3, 1}),
                c("mul broadcast both", t -> t[0].mul(t[1]), new int[] {2, 1, 5}, new int[] {3, 1}),
                c("add expand view", t -> t[0].add(t[1].expand(3, 7)), M, new int[] {1, 7}),
                c("mul 6-d broadcast", t -> t[0].mul(t[1]), new int[] {2, 1, 3, 1, 2, 1}, new int[] {1, 3, 1, 2, 1, 3}),
                c("scale", t -> t[0].scale(-0.3f), M),
                c("addBias", t -> t[0].addBias(t[1]), B3, new int[] {5}),
                c("relu", t -> t[0].relu(), M),
                c("leakyRelu", t -> t[0].leakyRelu(-0.2f), M),
                c("sigmoid", t -> t[0].sigmoid(), M),
                c("tanh", t -> t[0].tanh(), M),
                c("gelu", t -> t[0].gelu(), M),
                c("softmax", t -> t[0].softmax(), M),
                c("logSoftmax", t -> t[0].logSoftmax(), B3),
                c("dropout", t -> t[0].dropout(0.3f, 9, true), M),
                c("dropout eval", t -> t[0].dropout(0.3f, 9, false), M),
                c("sum", t -> t[0].sum(), M),
                c("mean", t -> t[0].mean(), M),
                c("sum axis", t -> t[0].sum(1), B3),
                c("mean axis", t -> t[0].mean(0), B3),
                c("mean last axis", t -> t[0].mean(-1), M),
                // x reaches the loss along four paths: the old path converted x for each op (use) and rounded each
                // op's result (step); x's gradient is summed in its dtype, one path after another
                c("accumulated gradient", t -> step(step(step(use(t, 0).mul(use(t, 0))).add(step(use(t, 0).gelu())))
                        .sub(step(use(t, 0).scale(3f)))), M),
                c("linear bias gelu", t -> t[0].linear(t[1], t[2], FusedActivation.gelu()), M, new int[] {5, 7}, new int[] {5}),
                c("linear bias sigmoid", t -> t[0].linear(t[1], t[2], FusedActivation.sigmoid()), M, new int[] {5, 7},
                        new int[] {5}),
                c("linear relu", t -> t[0].linear(t[1], null, FusedActivation.relu()), M, new int[] {5, 7}),
                c("linear bias", t -> t[0].linear(t[1], t[2]), M, new int[] {5, 7}, new int[] {5}));
    }

    /** The dtype the reference rounds each intermediate result to, or null (no reference running). */
    private static DType stepRounding;
    /** The half leaves of the reference running, else null. */
    private static Tensor[] referenceLeaves;

    /** Input i of a case of several ops, for one use: in the reference, converted again for each use. */
    private static Tensor use(Tensor[] t, int i) {
        return referenceLeaves == null ? t[i] : referenceLeaves[i].to(F32);
    }

    /** An intermediate result of a case of several ops: in the reference, rounded as the old path did. */
    private static Tensor step(Tensor t) {
        return stepRounding == null ? t : t.to(stepRounding).to(F32);
    }

    /** An output and its inputs' gradients, as bytes, with their dtypes. */
    private record Result(DType dtype, byte[] output, List<DType> gradTypes, List<byte[]> grads) {
    }

    /**
     * The case on leaves of {@code dtypes} (values rounded to them). {@code reference}: the op written as the old
     * path, each input {@code .to(FLOAT32)}, the float32 op, the result {@code .to(result)}.
     */
    private static Result run(Case c, DType[] dtypes, boolean reference, DType result) {
        try (TensorScope s = TensorScope.open()) {
            Random rng = new Random(c.name.hashCode());
            Tensor[] leaves = new Tensor[dtypes.length], in = new Tensor[dtypes.length];
            for (int i = 0; i < leaves.length; i++) {
                leaves[i] = Tensor.randn(rng, Shape.of(c.shapes[i]), CPU).to(dtypes[i]).requiresGrad(true);
                in[i] = reference ? leaves[i].to(F32) : leaves[i];
            }
            stepRounding = reference ? result : null;
            referenceLeaves = reference ? leaves : null;
            Tensor out;
            try {
                out = c.op.apply(in);
            } finally {
                stepRounding = null;
                referenceLeaves = null;
            }
            if (reference) {
                out = out.to(result);
            }
            byte[] bytes = out.toBytes();
            Tensor weights = Tensor.randn(new Random(3), out.shape(), CPU);
            out.to(F32).mul(weights).sum().backward();
            List<DType> types = new ArrayList<>();
            List<byte[]> grads = new ArrayList<>();
            for (Tensor t : leaves) {
                types.add(t.grad().dtype());
                grads.add(t.grad().toBytes());
            }
            return new Result(out.dtype(), bytes, types, grads);
        }
    }

    private static void assertSameAsTheOldPath(Case c, DType[] dtypes, DType result) {
        String what = c.name + " " + Arrays.toString(dtypes);
        Result got = run(c, dtypes, false, null), want = run(c, dtypes, true, result);
        assertEquals(result, got.dtype, what + ": result dtype");
        assertArrayEquals(want.output, got.output, what + ": output");
        for (int i = 0; i < dtypes.length; i++) {
            assertEquals(dtypes[i], got.gradTypes.get(i), what + ": input " + i + "'s gradient dtype");
            assertArrayEquals(want.grads.get(i), got.grads.get(i), what + ": input " + i + "'s gradient");
        }
    }

    @Test
    void everyHalfPointwiseOpIsTheOldFloat32RoundTripBitForBit() {
        for (Case c : cases()) {
            for (DType d : new DType[] {BF16, F16}) {
                DType[] dtypes = new DType[c.shapes.length];
                Arrays.fill(dtypes, d);
                assertSameAsTheOldPath(c, dtypes, d);
            }
        }
    }

    @Test
    void mixedDtypesPromoteAsPyTorchWithGradientsInEachInputsDtype() {
        Case add = c("add", t -> t[0].add(t[1]), M, M), sub = c("sub broadcast", t -> t[0].sub(t[1]), B3, new int[] {5});
        Case mul = c("mul broadcast", t -> t[0].mul(t[1]), B3, new int[] {3, 1});
        Case bias = c("addBias", t -> t[0].addBias(t[1]), B3, new int[] {5});
        for (Case c : List.of(add, sub, mul, bias)) {
            assertSameAsTheOldPath(c, new DType[] {BF16, F32}, F32);
            assertSameAsTheOldPath(c, new DType[] {F32, F16}, F32);
            assertSameAsTheOldPath(c, new DType[] {BF16, F16}, F32);  // no common half: float32, as PyTorch
        }
    }

    @Test
    void underAutocastSoftmaxAndSumReadTheHalfInputAndWriteFloat32() {
        for (DType d : new DType[] {BF16, F16}) {
            for (Case c : List.of(c("softmax", t -> t[0].softmax(), M), c("logSoftmax", t -> t[0].logSoftmax(), M),
                    c("sum", t -> t[0].sum(), B3), c("sum axis", t -> t[0].sum(0), B3))) {
                try (Autocast ac = d == BF16 ? Autocast.bf16() : Autocast.fp16()) {
                    assertSameAsTheOldPath(c, new DType[] {d}, F32);
                }
                try (Autocast ac = Autocast.bf16(); TensorScope s = TensorScope.open()) {
                    Tensor x = Tensor.randn(new Random(1), Shape.of(M), CPU).to(d).requiresGrad(true);
                    Tensor y = c.op.apply(new Tensor[] {x});
                    assertSame(x, y.node.inputs[0], c.name + ": the op reads the half input itself");
                }
            }
        }
    }

    /** The op names of the graph below {@code root}. */
    private static List<String> ops(Tensor root) {
        List<String> names = new ArrayList<>();
        ArrayDeque<Tensor> todo = new ArrayDeque<>(List.of(root));
        while (!todo.isEmpty()) {
            Tensor t = todo.pop();
            if (t.node != null) {
                names.add(t.node.op);
                todo.addAll(List.of(t.node.inputs));
            }
        }
        return names;
    }

    /** How many CPU storages {@code op} allocates. */
    private static long allocations(Supplier<?> op) {
        long before = CpuStorage.allocationCount();
        op.get();
        return CpuStorage.allocationCount() - before;
    }

    @Test
    void aHalfOpRecordsNoConversionAndAllocatesOnlyItsResult() {
        try (TensorScope s = TensorScope.open()) {
            Random rng = new Random(5);
            Tensor x = Tensor.randn(rng, Shape.of(M), CPU).to(BF16).requiresGrad(true);
            Tensor w = Tensor.randn(rng, Shape.of(M), CPU).requiresGrad(true);
            Tensor bias = Tensor.randn(rng, Shape.of(ROW), CPU).to(BF16).requiresGrad(true);
            Tensor[] y = new Tensor[1];
            assertEquals(1, allocations(() -> y[0] = x.gelu()), "gelu: its output");
            assertEquals(List.of("gelu"), ops(y[0]));
            assertSame(x, y[0].node.inputs[0]);
            assertEquals(1, allocations(() -> y[0] = x.add(w)), "bf16 + f32: its float32 output");
            assertEquals(F32, y[0].dtype());
            assertEquals(List.of("add"), ops(y[0]));
            Tensor z = x.mul(x).add(x.softmax()).addBias(bias).sigmoid().dropout(0.2f, 1, true).scale(2f).mean();
            List<String> names = ops(z);
            assertFalse(names.stream().anyMatch(n -> n.startsWith("to(")), "no conversion in " + names);
            assertEquals(List.of("mean", "scale", "dropout", "sigmoid", "addBias", "add", "mul", "softmax"),
                    names.stream().distinct().toList());
            // a one-element half GELU backward: the seed and dx, nothing converted
            Tensor one = Tensor.of(new float[] {0.7f}, 1).to(BF16).requiresGrad(true);
            Tensor g = one.gelu();
            assertEquals(2, allocations(() -> {
                g.backward();
                return null;
            }), "gelu backward: the seed gradient and dx");
            assertEquals(BF16, one.grad().dtype());
        }
    }

    @Test
    void aHalfLinearWithBiasAndActivationIsTheGemmAndOneEpilogue() {
        try (TensorScope s = TensorScope.open()) {
            Random rng = new Random(6);
            Tensor x = Tensor.randn(rng, Shape.of(M), CPU).to(BF16).requiresGrad(true);
            Tensor w = Tensor.randn(rng, Shape.of(5, 7), CPU).to(BF16).requiresGrad(true);
            Tensor b = Tensor.randn(rng, Shape.of(5), CPU).to(BF16).requiresGrad(true);
            Tensor[] y = new Tensor[1];
            // the float32 GEMM result (kept as GELU's pre-activation) and the bf16 output
            assertEquals(2, allocations(() -> y[0] = x.linear(w, b, FusedActivation.gelu())));
            assertEquals(BF16, y[0].dtype());
            assertEquals(List.of("linear"), ops(y[0]));
            // without an activation the GEMM's float32 result is freed at once: one array lives on
            long live = CpuStorage.liveCount();
            Tensor plain = x.linear(w, b, FusedActivation.NONE);
            assertEquals(1, CpuStorage.liveCount() - live);
            assertEquals(List.of("linear"), ops(plain));
        }
    }

    @Test
    void integerTensorsAreStillRefusedNamingTheOp() {
        try (TensorScope s = TensorScope.open()) {
            Tensor ints = Tensor.of(new long[] {1, 2, 3}, Shape.of(3), CPU), f = Tensor.of(new float[] {1, 2, 3}, 3);
            List<Object[]> unary = List.of(
                    new Object[] {"relu", (Supplier<Tensor>) ints::relu},
                    new Object[] {"gelu", (Supplier<Tensor>) ints::gelu},
                    new Object[] {"sigmoid", (Supplier<Tensor>) ints::sigmoid},
                    new Object[] {"tanh", (Supplier<Tensor>) ints::tanh},
                    new Object[] {"leakyRelu", (Supplier<Tensor>) () -> ints.leakyRelu(0.1f)},
                    new Object[] {"softmax", (Supplier<Tensor>) ints::softmax},
                    new Object[] {"logSoftmax", (Supplier<Tensor>) ints::logSoftmax},
                    new Object[] {"dropout", (Supplier<Tensor>) () -> ints.dropout(0.5f, 1, true)},
                    new Object[] {"scale", (Supplier<Tensor>) () -> ints.scale(2f)},
                    new Object[] {"sum", (Supplier<Tensor>) ints::sum},
                    new Object[] {"mean", (Supplier<Tensor>) () -> ints.mean(0)});
            for (Object[] u : unary) {
                @SuppressWarnings("unchecked")
                Supplier<Tensor> op = (Supplier<Tensor>) u[1];
                String m = assertThrows(IllegalArgumentException.class, op::get).getMessage();
                assertTrue(m.contains((String) u[0]) && m.contains("x is INT64"), m);
            }
            String m = assertThrows(IllegalArgumentException.class, () -> f.add(ints)).getMessage();
            assertTrue(m.contains("add") && m.contains("b is INT64"), m);
            m = assertThrows(IllegalArgumentException.class, () -> ints.sub(f)).getMessage();
            assertTrue(m.contains("sub") && m.contains("a is INT64"), m);
            m = assertThrows(IllegalArgumentException.class, () -> f.mul(ints.to(DType.BOOL))).getMessage();
            assertTrue(m.contains("mul") && m.contains("b is BOOL"), m);
            m = assertThrows(IllegalArgumentException.class, () -> f.addBias(ints.to(DType.INT32))).getMessage();
            assertTrue(m.contains("addBias") && m.contains("b is INT32"), m);
        }
    }
}
