package io.jdl.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The branch-free ReLU gradient equals {@code x <= 0 ? 0f : dy} bit for bit (PyTorch's threshold_backward: a NaN x
 * passes dy), special values included: every pair of them and random bit patterns, NaNs of both signs among them.
 */
class CpuElementwiseTest {

    @Test
    void reluBackwardMatchesTheBranch() {
        float[] special = {0f, -0f, Float.NaN, Float.intBitsToFloat(0x7fc00001), Float.intBitsToFloat(0xffc00000),
                Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MAX_VALUE,
                -Float.MAX_VALUE, Float.MIN_NORMAL, 1f, -1f};
        Random rng = new Random(7);
        int n = special.length * special.length + 1000;
        float[] x = new float[n], dy = new float[n], dx = new float[n];
        for (int i = 0; i < n; i++) {
            boolean table = i < special.length * special.length;
            x[i] = table ? special[i / special.length] : Float.intBitsToFloat(rng.nextInt());
            dy[i] = table ? special[i % special.length] : (float) rng.nextGaussian();
        }
        CpuElementwise.reluBackward(x, dy, dx, n);
        for (int i = 0; i < n; i++) {
            assertEquals(Float.floatToRawIntBits(x[i] <= 0 ? 0f : dy[i]), Float.floatToRawIntBits(dx[i]),
                    "x=" + x[i] + " dy=" + dy[i]);
        }
    }
}
