package io.jdl.autograd;

import static io.jdl.autograd.GradCheck.check;
import static io.jdl.autograd.GradCheck.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Broadcasting (NumPy rules) in add/sub/mul, expand/unsqueeze and matmul: values and finite-difference gradients. */
class BroadcastGradCheckTest {
    private static final double EPS = 1e-2;
    private final Random rng = new Random(77);

    private static Shape s(int... d) {
        return Shape.of(d);
    }

    @Test
    void addSubMulBroadcastBothWays() {
        check("add [2,3,4]+[4]", x -> x[0].add(x[1]), EPS, new float[][] {randn(rng, 24), randn(rng, 4)}, s(2, 3, 4),
                s(4));
        check("sub [2,1,4]-[3,1]", x -> x[0].sub(x[1]), EPS, new float[][] {randn(rng, 8), randn(rng, 3)}, s(2, 1, 4),
                s(3, 1));
        check("mul [3,1]*[1,4]", x -> x[0].mul(x[1]), EPS, new float[][] {randn(rng, 3), randn(rng, 4)}, s(3, 1),
                s(1, 4));
        check("mul scalar", x -> x[0].mul(x[1]), EPS, new float[][] {randn(rng, 6), randn(rng, 1)}, s(2, 3), s());
    }

    @Test
    void expandAndUnsqueeze() {
        check("expand", x -> x[0].expand(2, 3, 4), EPS, new float[][] {randn(rng, 4)}, s(1, 4));
        check("expand middle", x -> x[0].expand(2, -1, 5, 3), EPS, new float[][] {randn(rng, 6)}, s(2, 1, 3));
        check("unsqueeze", x -> x[0].unsqueeze(1).mul(x[0].unsqueeze(-1)), EPS, new float[][] {randn(rng, 6)},
                s(2, 3));
    }

    @Test
    void matmulBroadcastsBatchDimensions() {
        check("[2,3,4,5]x[5,6]", x -> x[0].matmul(x[1]), EPS, new float[][] {randn(rng, 120), randn(rng, 30)},
                s(2, 3, 4, 5), s(5, 6));
        check("[2,1,4,5]x[3,5,2]", x -> x[0].matmul(x[1]), EPS, new float[][] {randn(rng, 40), randn(rng, 30)},
                s(2, 1, 4, 5), s(3, 5, 2));
        check("[4,5]x[2,5,3]", x -> x[0].matmul(x[1]), EPS, new float[][] {randn(rng, 20), randn(rng, 30)},
                s(4, 5), s(2, 5, 3));
        check("[2,5,4]ᵀx[5,3]", x -> x[0].matmul(x[1], true, false), EPS,
                new float[][] {randn(rng, 40), randn(rng, 15)}, s(2, 5, 4), s(5, 3));
    }

    @Test
    void valuesFollowNumpy() {
        try (Tensor a = Tensor.of(new float[] {1, 2, 3}, 3, 1); Tensor b = Tensor.of(new float[] {10, 20}, 2);
             Tensor sum = a.add(b); Tensor prod = a.mul(b); Tensor e = b.expand(2, 2); Tensor u = b.unsqueeze(0)) {
            assertEquals(s(3, 2), sum.shape());
            assertArrayEquals(new float[] {11, 21, 12, 22, 13, 23}, sum.toArray());
            assertArrayEquals(new float[] {10, 20, 20, 40, 30, 60}, prod.toArray());
            assertArrayEquals(new float[] {10, 20, 10, 20}, e.toArray());
            assertEquals(s(1, 2), u.shape());
        }
        try (Tensor a = Tensor.of(new float[] {1, 2, 3, 4}, 2, 1, 2); Tensor eye = Tensor.of(new float[] {1, 0, 0, 1}, 2, 2);
             Tensor y = a.matmul(eye)) {
            assertEquals(s(2, 1, 2), y.shape());
            assertArrayEquals(new float[] {1, 2, 3, 4}, y.toArray());
        }
    }

    @Test
    void incompatibleShapesNameBoth() {
        try (Tensor a = Tensor.of(new float[6], 2, 3); Tensor b = Tensor.of(new float[4], 4)) {
            var e = assertThrows(IllegalArgumentException.class, () -> a.add(b));
            assertTrue(e.getMessage().contains("[2, 3]") && e.getMessage().contains("[4]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> a.expand(3, 3));
            assertThrows(IllegalArgumentException.class, () -> a.unsqueeze(4));
            try (Tensor c = Tensor.of(new float[12], 2, 2, 3); Tensor d = Tensor.of(new float[18], 3, 3, 2)) {
                var m = assertThrows(IllegalArgumentException.class, () -> c.matmul(d));
                assertTrue(m.getMessage().contains("batch"), m.getMessage());
            }
        }
    }
}
