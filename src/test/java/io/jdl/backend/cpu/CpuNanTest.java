package io.jdl.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.tensor.Tensor;
import io.jdl.tensor.TensorScope;
import org.junit.jupiter.api.Test;

/**
 * A NaN in the input is never swallowed on the CPU: it reaches the output as in PyTorch (max_pool2d, relu,
 * softmax, sum all propagate it), instead of silently giving a plausible number.
 */
class CpuNanTest {
    private static final float NAN = Float.NaN;

    @Test
    void maxPoolingPropagatesNanAndSendsTheGradientToTheFirstNan() {
        // [1, 1, 2, 4]: the left 2x2 window holds a NaN after its largest value; the right one has none
        float[] x = {5f, 1f, 2f, 3f,
                     NAN, NAN, 4f, 0f};
        try (TensorScope scope = TensorScope.open()) {
            Tensor in = Tensor.of(x, 1, 1, 2, 4).requiresGrad(true);
            Tensor y = in.maxPool2d(2, 2, 0);
            assertArrayEquals(new float[] {NAN, 4f}, y.toArray());
            y.sum().backward();
            assertArrayEquals(new float[] {0f, 0f, 0f, 0f, 1f, 0f, 1f, 0f}, in.grad().toArray(),
                    "the first NaN in row-major order gets the window's gradient, as in the GPU stand-in");
            in.close();
        }
    }

    @Test
    void paddedMaxPoolingPropagatesNanToo() {
        float[] x = {1f, 2f, NAN,
                     3f, 0f, -1f,
                     7f, 8f, 9f};
        try (TensorScope scope = TensorScope.open()) {
            float[] y = Tensor.of(x, 1, 1, 3, 3).maxPool2d(2, 2, 1).toArray();  // windows over rows/cols {-1,0},{1,2}
            assertArrayEquals(new float[] {1f, NAN, 7f, 9f}, y, "the NaN after the 2 wins its window");
        }
    }

    @Test
    void reluSoftmaxAndSumPropagateNan() {
        try (TensorScope scope = TensorScope.open()) {
            float[] relu = Tensor.of(new float[] {NAN, -1f, 2f}, 3).relu().toArray();
            assertTrue(Float.isNaN(relu[0]), "relu(NaN) is NaN");
            assertArrayEquals(new float[] {0f, 2f}, new float[] {relu[1], relu[2]});
            // ReLU's gradient passes the incoming gradient at a NaN input (x <= 0 is false), as PyTorch's does
            float nanNegative = Float.intBitsToFloat(0xffc00001);
            Tensor x = Tensor.of(new float[] {NAN, nanNegative, -1f, -0f, 0f, 2f, Float.POSITIVE_INFINITY,
                    Float.NEGATIVE_INFINITY, Float.MIN_VALUE, -Float.MIN_VALUE}, 10).requiresGrad(true);
            x.relu().mul(Tensor.of(new float[] {3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 10)).sum().backward();
            assertArrayEquals(new float[] {3, 4, 0, 0, 0, 8, 9, 0, 11, 0}, x.grad().toArray(),
                    "torch: relu(x).backward at [nan, -nan, -1, -0, 0, 2, inf, -inf, min, -min]");

            float[] softmax = Tensor.of(new float[] {1f, NAN, 0f, 1f, 2f, 3f}, 2, 3).softmax().toArray();
            for (int j = 0; j < 3; j++) {
                assertTrue(Float.isNaN(softmax[j]), "a row holding a NaN is NaN throughout: " + softmax[j]);
            }
            assertEquals(1f, softmax[3] + softmax[4] + softmax[5], 1e-6f, "the other row is untouched");

            assertTrue(Float.isNaN(Tensor.of(new float[] {1f, NAN, 2f}, 3).sum().item()), "sum");
        }
    }
}
