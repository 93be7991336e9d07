package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jdl.device.Device;
import org.junit.jupiter.api.Test;

/** Forward values of the newer ops against numbers worked out by hand (the gradient checks test backward). */
class OpsValuesTest {
    private static final float EPS = 1e-5f;

    private static float[] seq(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i + 1;
        }
        return v;
    }

    @Test
    void convolution() {
        try (Tensor x = Tensor.of(seq(9), 1, 1, 3, 3); Tensor w = Tensor.of(new float[] {1, 0, 0, 1}, 1, 1, 2, 2);
             Tensor b = Tensor.of(new float[] {0.5f}, 1);
             Tensor y = x.conv2d(w, b, 1, 0, 1, 1); Tensor padded = x.conv2d(w, null, 2, 1, 1, 1)) {
            // [1 2 3; 4 5 6; 7 8 9] with the diagonal kernel: x[i][j] + x[i+1][j+1] + 0.5
            assertArrayEquals(new float[] {6.5f, 8.5f, 12.5f, 14.5f}, y.toArray(), EPS);
            // padding 1, stride 2: windows at (-1,-1), (-1,1), (1,-1), (1,1)
            assertArrayEquals(new float[] {1, 3, 7, 14}, padded.toArray(), EPS);
        }
    }

    @Test
    void pooling() {
        try (Tensor x = Tensor.of(seq(16), 1, 1, 4, 4); Tensor max = x.maxPool2d(2, 2, 0); Tensor avg = x.avgPool2d(2, 2, 0);
             Tensor avgPad = x.avgPool2d(2, 2, 1)) {
            assertArrayEquals(new float[] {6, 8, 14, 16}, max.toArray(), EPS);
            assertArrayEquals(new float[] {3.5f, 5.5f, 11.5f, 13.5f}, avg.toArray(), EPS);
            // padding counts in the divisor: the corner window holds only x[0][0] = 1
            assertEquals(0.25f, avgPad.toArray()[0], EPS);
        }
    }

    @Test
    void softmaxCrossEntropyAndActivations() {
        try (Tensor x = Tensor.of(new float[] {0, (float) Math.log(3)}, 1, 2); Tensor p = x.softmax();
             Tensor lp = x.logSoftmax(); Tensor ce = x.crossEntropy(new int[] {0})) {
            assertArrayEquals(new float[] {0.25f, 0.75f}, p.toArray(), EPS);
            assertArrayEquals(new float[] {(float) Math.log(0.25), (float) Math.log(0.75)}, lp.toArray(), EPS);
            assertEquals((float) Math.log(4), ce.item(), EPS);
        }
        try (Tensor x = Tensor.of(new float[] {-2, 0, 1}, 3); Tensor l = x.leakyRelu(0.1f); Tensor g = x.gelu();
             Tensor s = x.sigmoid(); Tensor t = x.tanh()) {
            assertArrayEquals(new float[] {-0.2f, 0, 1}, l.toArray(), EPS);
            assertArrayEquals(new float[] {-0.04550026f, 0, 0.8413447f}, g.toArray(), 1e-6f);
            assertEquals(1 / (1 + Math.exp(2)), s.toArray()[0], EPS);
            assertEquals(Math.tanh(1), t.toArray()[2], EPS);
        }
    }

    @Test
    void shapesAndConcat() {
        try (Tensor x = Tensor.of(seq(6), 2, 3); Tensor t = x.transpose(0, 1); Tensor r = x.reshape(3, -1);
             Tensor y = Tensor.of(new float[] {7, 8}, 2, 1); Tensor c = Tensor.concat(1, x, y)) {
            assertEquals(Shape.of(3, 2), t.shape());
            assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, t.toArray(), 0f);
            assertEquals(Shape.of(3, 2), r.shape());
            assertArrayEquals(new float[] {1, 2, 3, 7, 4, 5, 6, 8}, c.toArray(), 0f);
        }
    }

    @Test
    void batchNormAndDropout() {
        try (Tensor x = Tensor.of(new float[] {1, 3, 5, 7}, 4, 1); Tensor g = Tensor.of(new float[] {2}, 1);
             Tensor b = Tensor.of(new float[] {1}, 1); Tensor rm = Tensor.zeros(Shape.of(1), Device.CPU);
             Tensor rv = Tensor.full(Shape.of(1), 1f, Device.CPU); Tensor y = x.batchNorm2d(g, b, rm, rv, true, 0.1f, 0f)) {
            // mean 4, biased var 5: y = 2·(x - 4)/√5 + 1; running var uses the unbiased 20/3
            float k = (float) (2 / Math.sqrt(5));
            assertArrayEquals(new float[] {1 - 3 * k, 1 - k, 1 + k, 1 + 3 * k}, y.toArray(), EPS);
            assertEquals(0.4f, rm.item(), EPS);
            assertEquals(0.9f + 0.1f * 20 / 3f, rv.item(), EPS);
        }
        try (Tensor x = Tensor.full(Shape.of(1000), 1f, Device.CPU); Tensor y = x.dropout(0.25f, 3, true);
             Tensor again = x.dropout(0.25f, 3, true)) {
            float[] v = y.toArray();
            int kept = 0;
            for (float f : v) {
                kept += f != 0 ? 1 : 0;
                assertEquals(f == 0 ? 0f : 1 / 0.75f, f, EPS);
            }
            assertEquals(750, kept, 50);
            assertArrayEquals(v, again.toArray(), 0f, "same seed, same mask");
        }
    }
}
