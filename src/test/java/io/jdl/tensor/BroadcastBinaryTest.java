package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jdl.autograd.GradCheck;
import io.jdl.backend.cpu.CpuStorage;
import io.jdl.device.Device;
import java.util.List;
import java.util.Random;
import java.util.function.BinaryOperator;
import org.junit.jupiter.api.Test;

/**
 * Broadcasting add, sub and mul read their operands in place: the same values and gradients, bit for bit, as
 * expanding first (a broadcast view, read in place too, or materialised where the kernel cannot take it),
 * one allocation (the result), and finite-difference gradients. Shapes cover leading dimensions, repeats in the middle, both operands
 * repeating, and a broadcast that needs more than 4 merged dimensions (the expand path).
 */
class BroadcastBinaryTest {
    private static final int[][][] SHAPES = {
        {{2, 3, 4}, {4}}, {{2, 3, 4}, {3, 1}}, {{5, 1, 7}, {1, 6, 1}}, {{2, 1, 3, 1, 4}, {1, 5, 1, 6, 1}},
        {{1}, {3, 2}}, {{4, 1, 1, 3}, {4, 2, 5, 3}}};

    private static final List<BinaryOperator<Tensor>> OPS = List.of(Tensor::add, Tensor::sub, Tensor::mul);

    /** out, a's gradient, b's gradient after backward of Σ out·r. */
    private static float[][] run(BinaryOperator<Tensor> op, float[] av, Shape as, float[] bv, Shape bs,
                                 boolean expandFirst) {
        try (Tensor a = Tensor.of(av, as, Device.CPU).requiresGrad(true);
             Tensor b = Tensor.of(bv, bs, Device.CPU).requiresGrad(true)) {
            int[] dims = Broadcast.shape("test", as.dims(), bs.dims());
            float[] out;
            try (TensorScope scope = TensorScope.open()) {
                Tensor y = expandFirst ? op.apply(a.expand(dims), b.expand(dims)) : op.apply(a, b);
                out = y.toArray();
                Tensor r = Tensor.of(GradCheck.randn(new Random(1), out.length), y.shape(), Device.CPU);
                y.mul(r).sum().backward();
            }
            return new float[][] {out, a.grad().toArray(), b.grad().toArray()};
        }
    }

    @Test
    void sameValuesAndGradientsAsExpandingFirst() {
        Random rng = new Random(5);
        for (int[][] s : SHAPES) {
            Shape as = Shape.of(s[0]), bs = Shape.of(s[1]);
            float[] av = GradCheck.randn(rng, (int) as.numel()), bv = GradCheck.randn(rng, (int) bs.numel());
            for (int o = 0; o < OPS.size(); o++) {
                float[][] direct = run(OPS.get(o), av, as, bv, bs, false), expanded = run(OPS.get(o), av, as, bv, bs, true);
                for (int i = 0; i < 3; i++) {
                    assertArrayEquals(expanded[i], direct[i], "op " + o + " " + as + " with " + bs + ", result " + i);
                }
            }
        }
    }

    @Test
    void finiteDifferenceGradients() {
        Random rng = new Random(6);
        for (int[][] s : new int[][][] {SHAPES[2], SHAPES[1]}) {
            Shape as = Shape.of(s[0]), bs = Shape.of(s[1]);
            GradCheck.check("broadcast add " + as + bs, in -> in[0].add(in[1]), 1e-2,
                    new float[][] {GradCheck.randn(rng, (int) as.numel()), GradCheck.randn(rng, (int) bs.numel())}, as, bs);
            GradCheck.check("broadcast mul " + as + bs, in -> in[0].mul(in[1]), 1e-2,
                    new float[][] {GradCheck.randn(rng, (int) as.numel()), GradCheck.randn(rng, (int) bs.numel())}, as, bs);
        }
    }

    @Test
    void onlyTheResultIsAllocated() {
        try (Tensor x = Tensor.of(new float[2 * 3 * 4 * 5], Shape.of(2, 3, 4, 5), Device.CPU);
             Tensor bias = Tensor.of(new float[] {1, 2, 3}, Shape.of(1, 3, 1, 1), Device.CPU)) {
            long before = CpuStorage.allocationCount();
            try (Tensor y = x.add(bias)) {
                assertEquals(before + 1, CpuStorage.allocationCount(), "arrays allocated by the broadcasting add");
                assertEquals(2f, y.toArray()[20]);  // channel 1
            }
            before = CpuStorage.allocationCount();
            try (Tensor y = x.add(bias.expand(2, 3, 4, 5))) {
                assertEquals(before + 1, CpuStorage.allocationCount(),
                        "expand first: a broadcast view, which the add reads in place: only the result");
            }
        }
    }
}
