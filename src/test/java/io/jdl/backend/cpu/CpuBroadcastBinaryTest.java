package io.jdl.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.jdl.autograd.GradCheck;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The parallel broadcasting binary op ({@link CpuElementwise#broadcastBinary}) gives, bit for bit, the plain
 * four-loop walk over the output, for each stride pattern along the innermost dimension (both contiguous, one
 * repeated, either one, strided) and for shapes whose rows cross the pool's range boundaries.
 */
class CpuBroadcastBinaryTest {
    /** The reference: one element at a time, in order. */
    private static float[] reference(boolean multiply, float alpha, float beta, float[] a, int[] sa, float[] b,
                                     int[] sb, int[] dims) {
        float[] out = new float[dims[0] * dims[1] * dims[2] * dims[3]];
        int k = 0;
        for (int i0 = 0; i0 < dims[0]; i0++) {
            for (int i1 = 0; i1 < dims[1]; i1++) {
                for (int i2 = 0; i2 < dims[2]; i2++) {
                    for (int i3 = 0; i3 < dims[3]; i3++) {
                        int ia = i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3];
                        int ib = i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3];
                        out[k++] = multiply ? a[ia] * b[ib] : alpha * a[ia] + beta * b[ib];
                    }
                }
            }
        }
        return out;
    }

    @Test
    void everyStridePatternMatchesThePlainWalkBitForBit() {
        Random rng = new Random(5);
        int[][] shapes = {{1, 1, 1, 802_816}, {3, 5, 7, 1000}, {2, 1, 40_000, 1}, {1, 1, 1, 1}, {4, 3, 2, 17}};
        for (int[] dims : shapes) {
            int[] dense = {dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1};
            int[] lastRepeated = {dims[1] * dims[2], dims[2], 1, 0};       // a [d0, d1, d2, 1] operand
            int[] onlyLast = {0, 0, 0, 1};                                  // a [d3] operand
            int[] scalar = {0, 0, 0, 0};
            int[] strided = {2 * dims[1] * dims[2] * dims[3], 2 * dims[2] * dims[3], 2 * dims[3], 2};
            int[][][] pairs = {{dense, dense}, {dense, scalar}, {scalar, dense}, {dense, lastRepeated},
                    {onlyLast, dense}, {strided, onlyLast}, {lastRepeated, strided}};
            for (int[][] p : pairs) {
                float[] a = GradCheck.randn(rng, extent(dims, p[0])), b = GradCheck.randn(rng, extent(dims, p[1]));
                for (boolean multiply : new boolean[] {true, false}) {
                    float[] got = new float[dims[0] * dims[1] * dims[2] * dims[3]];
                    CpuElementwise.broadcastBinary(multiply, 0.75f, -1.5f, a, p[0], b, p[1], got, dims);
                    assertArrayEquals(reference(multiply, 0.75f, -1.5f, a, p[0], b, p[1], dims), got,
                            java.util.Arrays.toString(dims) + " strides " + java.util.Arrays.toString(p[0]) + " / "
                                    + java.util.Arrays.toString(p[1]) + (multiply ? " multiply" : " weighted sum"));
                }
            }
        }
    }

    /** Elements an operand with these strides spans. */
    private static int extent(int[] dims, int[] strides) {
        int last = 0;
        for (int k = 0; k < 4; k++) {
            last += (dims[k] - 1) * strides[k];
        }
        return last + 1;
    }
}
