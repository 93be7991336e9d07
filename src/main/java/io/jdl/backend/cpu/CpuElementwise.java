package io.jdl.backend.cpu;

/**
 * ReLU and its gradient as plain loops over float[] that C2 vectorises (the general activation loops
 * switch on the activation per element and branch on the sign, which keeps them scalar), and the broadcasting
 * binary op.
 */
final class CpuElementwise {
    private CpuElementwise() {
    }

    static void relu(float[] x, float[] y, int n) {
        for (int i = 0; i < n; i++) {
            y[i] = Math.max(x[i], 0f);
        }
    }

    /**
     * dx = dy unless x <= 0, then +0: bit for bit {@code x <= 0 ? 0f : dy}, so a NaN x passes dy, as PyTorch's
     * ReLU gradient ({@code threshold_backward}) does. Branch-free so that it vectorises: a branch on the sign of x
     * mispredicts half the time on real activations (8 ms → 0.7 ms for 1.6M elements). On x's bits as a signed
     * int xb: x > 0 exactly when xb lies in [1, 0x7f800000] (positive finite or +∞), the sign bit of
     * {@code -xb & (xb - 0x7f800001)}; x is NaN exactly when its magnitude bits exceed 0x7f800000, the sign bit of
     * {@code 0x7f800000 - (xb & 0x7fffffff)}; {@code >> 31} spreads their or into a mask for dy's bits.
     */
    static void reluBackward(float[] x, float[] dy, float[] dx, int n) {
        for (int i = 0; i < n; i++) {
            int xb = Float.floatToRawIntBits(x[i]);
            int keep = ((-xb & (xb - 0x7f800001)) | (0x7f800000 - (xb & 0x7fffffff))) >> 31;
            dx[i] = Float.intBitsToFloat(Float.floatToRawIntBits(dy[i]) & keep);
        }
    }

    /** Backend.broadcastBinary over dims [d0, d1, d2, d3]: the innermost loop runs over d3. */
    static void broadcastBinary(boolean multiply, float alpha, float beta, float[] a, int[] sa, float[] b, int[] sb,
                                float[] out, int[] dims) {
        int k = 0;
        for (int i0 = 0; i0 < dims[0]; i0++) {
            for (int i1 = 0; i1 < dims[1]; i1++) {
                for (int i2 = 0; i2 < dims[2]; i2++) {
                    int ia = i0 * sa[0] + i1 * sa[1] + i2 * sa[2], ib = i0 * sb[0] + i1 * sb[1] + i2 * sb[2];
                    for (int i3 = 0; i3 < dims[3]; i3++, k++, ia += sa[3], ib += sb[3]) {
                        out[k] = multiply ? a[ia] * b[ib] : alpha * a[ia] + beta * b[ib];
                    }
                }
            }
        }
    }
}
