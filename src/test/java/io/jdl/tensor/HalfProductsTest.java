package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.Backend;
import io.jdl.backend.Backends;
import io.jdl.backend.MatrixBatch;
import io.jdl.cuda.Gpu;
import io.jdl.device.DType;
import io.jdl.device.Device;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The half-precision matrix products and convolutions (issue #14 item 4) on the CPU reference: matmul, linear and
 * conv2d on bfloat16 / float16 tensors run their backend products on the half data (no float32 copies) and give
 * the float32 op's numbers on the widened inputs, rounded once, bit for bit: outputs and every gradient (the
 * reference's float32 gradient rounded to the dtype). Exceptions, each stated where it is checked: the gradient of
 * a matmul operand broadcast over the batch (the batch's products are rounded, then summed), and a convolution's
 * bias (cuDNN stores the half product, so bias and activation add one rounding).
 */
class HalfProductsTest {
    private static final Device CPU = Device.CPU;
    private static final DType[] HALVES = {DType.BFLOAT16, DType.FLOAT16};

    static List<HalfOpCases.Case> exactCases() {
        List<HalfOpCases.Case> cases = new ArrayList<>();
        cases.add(c("matmul odd", t -> t[0].matmul(t[1]), new int[] {3, 5}, new int[] {5, 7}));
        cases.add(c("matmul row", t -> t[0].matmul(t[1]), new int[] {1, 9}, new int[] {9, 1}));
        cases.add(c("matmul transA", t -> t[0].matmul(t[1], true, false), new int[] {5, 3}, new int[] {5, 4}));
        cases.add(c("matmul transB", t -> t[0].matmul(t[1], false, true), new int[] {3, 5}, new int[] {4, 5}));
        cases.add(c("matmul transAB", t -> t[0].matmul(t[1], true, true), new int[] {5, 3}, new int[] {4, 5}));
        cases.add(c("matmul batched", t -> t[0].matmul(t[1]), new int[] {2, 3, 5}, new int[] {2, 5, 4}));
        cases.add(c("matmul batched transB", t -> t[0].matmul(t[1], false, true), new int[] {3, 2, 5},
                new int[] {3, 4, 5}));
        cases.add(c("matmul rows of a 4-d batch", t -> t[0].matmul(t[1]), new int[] {2, 2, 3, 5}, new int[] {5, 3}));
        for (FusedActivation act : new FusedActivation[] {FusedActivation.NONE, FusedActivation.relu(),
                FusedActivation.gelu(), FusedActivation.sigmoid(), FusedActivation.tanh(),
                FusedActivation.leakyRelu(-0.2f)}) {
            String name = act.kind == null ? "" : " " + act.kind;
            cases.add(c("linear bias" + name, t -> t[0].linear(t[1], t[2], act), new int[] {2, 3, 5}, new int[] {7, 5},
                    new int[] {7}));
            cases.add(c("linear" + name, t -> t[0].linear(t[1], null, act), new int[] {3, 5}, new int[] {7, 5}));
        }
        cases.add(c("conv2d stride 2", t -> t[0].conv2d(t[1], null, 2, 1, 1, 1), new int[] {2, 3, 7, 6},
                new int[] {4, 3, 3, 3}));
        cases.add(c("conv2d groups dilation", t -> t[0].conv2d(t[1], null, 1, 2, 2, 2), new int[] {1, 4, 6, 5},
                new int[] {6, 2, 3, 2}));
        return cases;
    }

    private static HalfOpCases.Case c(String name, Function<Tensor[], Tensor> op, int[]... shapes) {
        return new HalfOpCases.Case(name, shapes, op);
    }

    @Test
    void productsAreTheFloat32OpOnTheWidenedInputsRoundedOnce() {
        for (HalfOpCases.Case c : exactCases()) {
            for (DType d : HALVES) {
                HalfOpCases.Result half = HalfOpCases.run(c, d, CPU), ref = HalfOpCases.run(c, d, DType.FLOAT32, CPU);
                assertArrayEquals(ref.output(), half.output(), c.name() + " " + d + " output");
                for (int i = 0; i < ref.grads().size(); i++) {
                    assertArrayEquals(rounded(ref.grads().get(i), d), half.grads().get(i), c.name() + " " + d
                            + " gradient " + i);
                }
            }
        }
    }

    @Test
    void aBroadcastOperandsGradientIsRoundedPerProductThenSummed() {
        // [3, 5] broadcast over the batch of [2, 5, 4]: its gradient sums two rounded products, a few ulps off
        HalfOpCases.Case c = c("matmul broadcast", t -> t[0].matmul(t[1]), new int[] {3, 5}, new int[] {2, 5, 4});
        for (DType d : HALVES) {
            HalfOpCases.Result half = HalfOpCases.run(c, d, CPU), ref = HalfOpCases.run(c, d, DType.FLOAT32, CPU);
            assertArrayEquals(ref.output(), half.output(), d + " output");
            assertArrayEquals(rounded(ref.grads().get(1), d), half.grads().get(1), d + " batched operand");
            double err = Gpu.relativeError(half.grads().get(0), ref.grads().get(0));
            assertTrue(err < (d == DType.BFLOAT16 ? 2e-2 : 3e-3), d + " broadcast operand: " + err);
        }
    }

    @Test
    void aConvolutionsBiasAndActivationRunInFloat32OnTheRoundedProduct() {
        for (FusedActivation act : new FusedActivation[] {FusedActivation.NONE, FusedActivation.relu(),
                FusedActivation.gelu()}) {
            int[] x = {2, 3, 5, 4}, w = {4, 3, 3, 3}, b = {4};
            HalfOpCases.Case fused = c("conv2d bias", t -> t[0].conv2d(t[1], t[2], 1, 1, 1, 1, act), x, w, b);
            for (DType d : HALVES) {
                // the same arithmetic from separate float32 ops: the product rounded, bias and activation in float32
                HalfOpCases.Case composed = c("conv2d bias", t -> {
                    Tensor y = t[0].conv2d(t[1], null, 1, 1, 1, 1).to(d).to(DType.FLOAT32).add(t[2].reshape(1, 4, 1, 1));
                    return act.kind == null ? y : Pointwise.activation(y, act.kind, act.slope, y.dtype());
                }, x, w, b);
                HalfOpCases.Result half = HalfOpCases.run(fused, d, CPU);
                HalfOpCases.Result ref = HalfOpCases.run(composed, d, DType.FLOAT32, CPU);
                String what = "conv2d bias " + act.kind + " " + d;
                assertArrayEquals(ref.output(), half.output(), what + " output");
                for (int i = 0; i < 2; i++) {
                    assertArrayEquals(rounded(ref.grads().get(i), d), half.grads().get(i), what + " gradient " + i);
                }
                // the bias's column sums: one float32 sum in another order, rounded once
                double err = Gpu.relativeError(half.grads().get(2), rounded(ref.grads().get(2), d));
                assertTrue(err < (d == DType.BFLOAT16 ? 8e-3 : 1e-3), what + " bias gradient: " + err);
            }
        }
    }

    @Test
    void theBackendProductsTakeOneHalfDtypeOrAFloat32Result() {
        Backend cpu = Backends.of(CPU);
        try (TensorScope scope = TensorScope.open()) {
            Tensor a = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3), b = Tensor.of(new float[] {1, 0, 0, 1, 1, 1}, 3, 2);
            Tensor ah = a.to(DType.BFLOAT16), bh = b.to(DType.BFLOAT16), bf = b.to(DType.FLOAT16);
            Tensor c32 = Tensor.zeros(Shape.of(2, 2), CPU), ch = c32.to(DType.BFLOAT16);
            cpu.matmul(false, false, 1, 2, 2, 3, ah.dense(), bh.dense(), c32.dense());
            assertArrayEquals(new float[] {4, 5, 10, 11}, c32.toArray());
            cpu.matmul(false, false, 1, 1, 2, 2, 3, MatrixBatch.packed(ah.dense(), 1, 2, 3),
                    MatrixBatch.packed(bh.dense(), 1, 3, 2), MatrixBatch.packed(ch.dense(), 1, 2, 2));
            assertArrayEquals(new float[] {4, 5, 10, 11}, ch.toArray());
            String mixed = assertThrows(IllegalStateException.class,
                    () -> cpu.matmul(false, false, 1, 2, 2, 3, ah.dense(), bf.dense(), ch.dense())).getMessage();
            assertTrue(mixed.contains("BFLOAT16") && mixed.contains("FLOAT16"), mixed);
            assertThrows(IllegalStateException.class,
                    () -> cpu.matmul(false, false, 1, 2, 2, 3, a.dense(), b.dense(), ch.dense()));
            String message = assertThrows(IllegalArgumentException.class, () -> ah.matmul(bf)).getMessage();
            assertTrue(message.contains("same dtype"), message);
        }
    }

    @Test
    void underAutocastAFloat32LinearRunsOnTheRoundedOperands() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = Tensor.of(new float[] {0.1f, -1.3f, 2.7f, 0.33f, 5.1f, -0.7f}, 2, 3);
            Tensor w = Tensor.of(new float[] {0.2f, 0.4f, -0.6f, 1.1f, 0.01f, 3.3f}, 2, 3).requiresGrad(true);
            Tensor bias = Tensor.of(new float[] {0.5f, -0.25f}, 2).requiresGrad(true);
            Tensor y;
            try (Autocast ac = Autocast.bf16()) {
                y = x.linear(w, bias, FusedActivation.relu());
            }
            Tensor expected = x.to(DType.BFLOAT16).to(DType.FLOAT32).linear(w.to(DType.BFLOAT16).to(DType.FLOAT32),
                    bias.to(DType.BFLOAT16).to(DType.FLOAT32), FusedActivation.relu()).to(DType.BFLOAT16);
            assertTrue(y.dtype() == DType.BFLOAT16);
            assertArrayEquals(expected.toArray(), y.toArray());
        }
    }

    /** values rounded to d (to nearest even), as float32. */
    static float[] rounded(float[] values, DType d) {
        if (values.length == 0) {
            return values;
        }
        try (Tensor t = Tensor.of(values, values.length); Tensor r = t.to(d); Tensor f = r.to(DType.FLOAT32)) {
            return f.toArray();
        }
    }
}
