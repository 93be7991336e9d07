package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.device.Device;
import org.junit.jupiter.api.Test;

/** Every CPU op against values computed by hand. */
class TensorCpuTest {
    private static final float EPS = 1e-6f;

    private static Tensor t(float[] data, int... dims) {
        return Tensor.of(data, dims);
    }

    @Test
    void matmulPlain() {
        try (Tensor a = t(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
             Tensor b = t(new float[] {7, 8, 9, 10, 11, 12}, 3, 2);
             Tensor c = a.matmul(b)) {
            assertEquals(Shape.of(2, 2), c.shape());
            // [1 2 3; 4 5 6]·[7 8; 9 10; 11 12] = [58 64; 139 154]
            assertArrayEquals(new float[] {58, 64, 139, 154}, c.toArray(), EPS);
        }
    }

    @Test
    void matmulWithTransposes() {
        try (Tensor a = t(new float[] {1, 4, 2, 5, 3, 6}, 3, 2);   // stored Aᵀ of [1 2 3; 4 5 6]
             Tensor b = t(new float[] {7, 9, 11, 8, 10, 12}, 2, 3); // stored Bᵀ of [7 8; 9 10; 11 12]
             Tensor c1 = a.matmul(b, true, true);
             Tensor bt = t(new float[] {7, 8, 9, 10, 11, 12}, 3, 2);
             Tensor c2 = a.matmul(bt, true, false);
             Tensor a2 = t(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
             Tensor c3 = a2.matmul(b, false, true)) {
            float[] expected = {58, 64, 139, 154};
            assertArrayEquals(expected, c1.toArray(), EPS);
            assertArrayEquals(expected, c2.toArray(), EPS);
            assertArrayEquals(expected, c3.toArray(), EPS);
        }
    }

    @Test
    void batchedMatmul() {
        try (Tensor a = t(new float[] {1, 0, 0, 1, 2, 0, 0, 2}, 2, 2, 2);
             Tensor b = t(new float[] {1, 2, 3, 4, 1, 2, 3, 4}, 2, 2, 2);
             Tensor c = a.matmul(b)) {
            assertEquals(Shape.of(2, 2, 2), c.shape());
            assertArrayEquals(new float[] {1, 2, 3, 4, 2, 4, 6, 8}, c.toArray(), EPS);
        }
    }

    @Test
    void elementwise() {
        try (Tensor a = t(new float[] {1, -2, 3}, 3);
             Tensor b = t(new float[] {4, 5, -6}, 3);
             Tensor sum = a.add(b); Tensor diff = a.sub(b); Tensor prod = a.mul(b);
             Tensor scaled = a.scale(-0.5f); Tensor r = a.relu()) {
            assertArrayEquals(new float[] {5, 3, -3}, sum.toArray(), EPS);
            assertArrayEquals(new float[] {-3, -7, 9}, diff.toArray(), EPS);
            assertArrayEquals(new float[] {4, -10, -18}, prod.toArray(), EPS);
            assertArrayEquals(new float[] {-0.5f, 1, -1.5f}, scaled.toArray(), EPS);
            assertArrayEquals(new float[] {1, 0, 3}, r.toArray(), EPS);
        }
    }

    @Test
    void biasAddsToEveryRow() {
        try (Tensor x = t(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
             Tensor bias = t(new float[] {10, 20, 30}, 3);
             Tensor y = x.addBias(bias)) {
            assertArrayEquals(new float[] {11, 22, 33, 14, 25, 36}, y.toArray(), EPS);
        }
    }

    @Test
    void sumsAndMeans() {
        try (Tensor x = t(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
             Tensor all = x.sum(); Tensor mean = x.mean();
             Tensor rows = x.sum(0); Tensor cols = x.sum(1); Tensor colMean = x.mean(-1)) {
            assertEquals(Shape.of(), all.shape());
            assertEquals(21f, all.item(), EPS);
            assertEquals(3.5f, mean.item(), EPS);
            assertArrayEquals(new float[] {5, 7, 9}, rows.toArray(), EPS);
            assertArrayEquals(new float[] {6, 15}, cols.toArray(), EPS);
            assertArrayEquals(new float[] {2, 5}, colMean.toArray(), EPS);
        }
    }

    @Test
    void sumOverMiddleAxisOf3d() {
        float[] data = new float[24];
        for (int i = 0; i < data.length; i++) {
            data[i] = i;
        }
        try (Tensor x = t(data, 2, 3, 4); Tensor s = x.sum(1)) {
            assertEquals(Shape.of(2, 4), s.shape());
            // out[o][i] = Σ_d x[o][d][i] = 3·(12o + i) + 12
            assertArrayEquals(new float[] {12, 15, 18, 21, 48, 51, 54, 57}, s.toArray(), EPS);
        }
    }

    @Test
    void fullZerosAndCopies() {
        try (Tensor z = Tensor.zeros(Shape.of(2, 2), Device.CPU);
             Tensor f = Tensor.full(Shape.of(3), 2.5f, Device.CPU);
             Tensor copy = f.to(Device.CPU)) {
            assertArrayEquals(new float[4], z.toArray(), EPS);
            assertArrayEquals(new float[] {2.5f, 2.5f, 2.5f}, copy.toArray(), EPS);
        }
    }

    @Test
    void useAfterCloseAndDoubleCloseThrow() {
        Tensor a = t(new float[] {1, 2}, 2);
        Tensor b = t(new float[] {1, 2}, 2);
        a.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, a::toArray);
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> a.add(b));
        assertThrows(IllegalStateException.class, () -> b.add(a));
        assertThrows(IllegalStateException.class, a::close);
        assertTrue(a.isClosed());
        b.close();
    }

    @Test
    void shapeMismatchNamesBothShapes() {
        try (Tensor a = t(new float[6], 2, 3); Tensor b = t(new float[6], 3, 2)) {
            IllegalArgumentException add = assertThrows(IllegalArgumentException.class, () -> a.add(b));
            assertTrue(add.getMessage().contains("[2, 3]") && add.getMessage().contains("[3, 2]"), add.getMessage());
            IllegalArgumentException mm = assertThrows(IllegalArgumentException.class, () -> a.matmul(a));
            assertTrue(mm.getMessage().contains("[2, 3]") && mm.getMessage().contains("3 vs 2"), mm.getMessage());
            IllegalArgumentException bias = assertThrows(IllegalArgumentException.class, () -> a.addBias(b));
            assertTrue(bias.getMessage().contains("[3, 2]") && bias.getMessage().contains("[2, 3]"), bias.getMessage());
        }
        IllegalArgumentException count = assertThrows(IllegalArgumentException.class, () -> t(new float[5], 2, 3));
        assertTrue(count.getMessage().contains("[2, 3]") && count.getMessage().contains("5"), count.getMessage());
    }

    @Test
    void badAxisAndItemAreClear() {
        try (Tensor a = t(new float[6], 2, 3)) {
            IllegalArgumentException axis = assertThrows(IllegalArgumentException.class, () -> a.sum(2));
            assertTrue(axis.getMessage().contains("axis 2") && axis.getMessage().contains("[2, 3]"), axis.getMessage());
            assertThrows(IllegalArgumentException.class, a::item);
        }
    }

    @Test
    void deviceParsing() {
        assertEquals(Device.CPU, Device.parse("cpu"));
        assertEquals(Device.cuda(0), Device.parse("CUDA"));
        assertEquals(Device.cuda(2), Device.parse("cuda:2"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Device.parse("tpu"));
        assertTrue(e.getMessage().contains("tpu"));
    }
}
