package io.jdl.tensor;

import static io.jdl.Refusals.assertRefused;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jdl.device.Device;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Convolution and pooling geometry at the edges (issue #11, items 1-3): output sizes as PyTorch computes
 * them (floor division, in 64 bits), kernels larger than the padded input refused, huge strides, paddings
 * and windows answered at once instead of looping for ever, and taps that lie wholly in the padding.
 */
@Timeout(value = 20, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class PoolConvGeometryTest {

    private static Tensor zeros(int... dims) {
        return Tensor.zeros(Shape.of(dims), Device.CPU);
    }

    private static Tensor arange(int... dims) {
        Shape shape = Shape.of(dims);
        float[] v = new float[Math.toIntExact(shape.numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = i + 1;
        }
        return Tensor.of(v, shape, Device.CPU);
    }

    @Test
    void hugeWindowsAndPaddingsAreRefusedAtOnce() {
        try (Tensor x = zeros(1, 1, 4, 4); Tensor x46 = zeros(1, 1, 4, 6)) {
            assertRefused(() -> x.avgPool2d(1 << 30, 1 << 30, 0), "avgPool2d", "1073741824", "[1, 1, 4, 4]");
            // 2 * padding overflows an int: in 64 bits it is more than half the window.
            assertRefused(() -> x46.maxPool2d(Integer.MAX_VALUE, 2, (1 << 30) + 1), "maxPool2d", "padding 1073741825",
                    "half");
        }
    }

    @Test
    void windowsLargerThanThePaddedInputAreRefused() {
        try (Tensor x = zeros(1, 1, 3, 3); Tensor x34 = zeros(1, 1, 3, 4); Tensor w = zeros(1, 1, 4, 4)) {
            assertRefused(() -> x.avgPool2d(4, 2, 0), "avgPool2d", "[1, 1, 3, 3]", "4x4");
            assertRefused(() -> x34.maxPool2d(4, 3, 0), "maxPool2d", "[1, 1, 3, 4]", "4x4");
            for (int stride = 1; stride <= 4; stride++) {
                int s = stride;
                assertRefused(() -> x.conv2d(w, null, s, 0, 1, 1), "conv2d", "[1, 1, 3, 3]", "[1, 1, 4, 4]");
            }
            // With padding the same kernel fits, as in PyTorch: (3 + 2 - 4) / 1 + 1 = 2.
            try (Tensor y = x.conv2d(w, null, 1, 1, 1, 1)) {
                assertEquals(Shape.of(1, 1, 2, 2), y.shape());
            }
        }
    }

    @Test
    void aKernelTapWhollyInThePaddingContributesZero() {
        // PyTorch: conv2d(x[1,1,1,1], w[1,1,1,5], padding=2) has shape [1,1,5,1]; only the centre tap sees x.
        try (Tensor x = Tensor.of(new float[] {3}, Shape.of(1, 1, 1, 1), Device.CPU).requiresGrad(true);
             Tensor w = Tensor.of(new float[] {1, 2, 5, 7, 11}, Shape.of(1, 1, 1, 5), Device.CPU).requiresGrad(true);
             Tensor y = x.conv2d(w, null, 1, 2, 1, 1); Tensor loss = y.sum()) {
            assertEquals(Shape.of(1, 1, 5, 1), y.shape());
            assertArrayEquals(new float[] {0, 0, 15, 0, 0}, y.toArray());
            loss.backward();
            assertArrayEquals(new float[] {5}, x.grad().toArray(), "dx: the centre tap only");
            assertArrayEquals(new float[] {0, 0, 3, 0, 0}, w.grad().toArray(), "dw: the centre tap only");
        }
    }

    @Test
    void hugeStrideAndPaddingIndexIn64Bits() {
        // Padded height 2 + 2^31 overflows an int; output (2^31 + 1) / 2^30 + 1 = 3. Output 1 starts at input 0.
        int big = 1 << 30;
        try (Tensor x = arange(1, 1, 2, 2).requiresGrad(true);
             Tensor w = Tensor.of(new float[] {2}, Shape.of(1, 1, 1, 1), Device.CPU).requiresGrad(true);
             Tensor y = x.conv2d(w, null, big, big, 1, 1); Tensor loss = y.sum()) {
            assertEquals(Shape.of(1, 1, 3, 3), y.shape());
            assertArrayEquals(new float[] {0, 0, 0, 0, 2, 0, 0, 0, 0}, y.toArray());
            loss.backward();
            assertArrayEquals(new float[] {2, 0, 0, 0}, x.grad().toArray());
            assertArrayEquals(new float[] {1}, w.grad().toArray());
        }
    }

    @Test
    void aHugeWindowWithHalfPaddingCostsOnlyTheInputItCovers() {
        // Every 2^30-wide window covers the whole 4x4 input; 5x5 windows, each visiting 16 elements, not 2^60.
        int k = 1 << 30, pad = 1 << 29;
        try (Tensor x = arange(1, 1, 4, 4).requiresGrad(true); Tensor max = x.maxPool2d(k, 1, pad);
             Tensor avg = x.avgPool2d(k, 1, pad); Tensor loss = max.sum()) {
            assertEquals(Shape.of(1, 1, 5, 5), max.shape());
            float[] m = max.toArray(), a = avg.toArray();
            for (int i = 0; i < 25; i++) {
                assertEquals(16f, m[i]);
                // Padding counts in the divisor (count_include_pad): 136 / 2^60.
                assertEquals((float) (136.0 / Math.pow(2, 60)), a[i], 1e-25f);
            }
            loss.backward();
            float[] dx = x.grad().toArray();
            assertEquals(25f, dx[15], "every window's maximum is the last element");
            assertEquals(25f, sum(dx));
        }
    }

    @Test
    void outputSizesUseFloorDivision() {
        // (5 + 0 - 2) / 2 + 1 = 2 (floor); a negative numerator must not truncate toward zero into size 1.
        try (Tensor x = arange(1, 1, 5, 5); Tensor y = x.maxPool2d(2, 2, 0); Tensor z = x.avgPool2d(3, 2, 1)) {
            assertEquals(Shape.of(1, 1, 2, 2), y.shape());
            assertArrayEquals(new float[] {7, 9, 17, 19}, y.toArray());
            assertEquals(Shape.of(1, 1, 3, 3), z.shape());
            assertEquals((1 + 2 + 6 + 7) / 9f, z.toArray()[0], 1e-6f);
        }
    }

    private static float sum(float[] v) {
        float s = 0;
        for (float f : v) {
            s += f;
        }
        return s;
    }
}
