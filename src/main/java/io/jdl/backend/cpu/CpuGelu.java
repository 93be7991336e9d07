package io.jdl.backend.cpu;

/**
 * Exact (erf) GELU and its gradient in float32 with only operations C2 vectorises (multiply, add, divide,
 * min, max): y = x·Φ(x), dy/dx = Φ(x) + x·φ(x), where Φ(x) = (1 + erf(x/√2))/2 is the standard normal CDF
 * and φ its density. PyTorch's {@code F.gelu} (approximate='none') is the same function.
 *
 * <p>Why not {@code Math.exp}: C2 keeps it a scalar call, one element at a time in float64 (a quarter of a
 * transformer's CPU step went there), and a polynomial exp needs bit casts to build 2^k, which stop C2's
 * vectoriser too. So erf is Eigen's rational approximation on [−4, 4] (odd degree-13 over even degree-8;
 * outside, erf is ±1 in float32), and φ's e^(−x²/2) is a degree-10 Taylor polynomial of e^(a/64) raised
 * to the 64th power by six squarings, with |x| clamped to 9 (beyond, x·φ(x) < 1e-16).
 *
 * <p>Accuracy (measured against float64 in CpuGeluTest): erf within 5e-7 absolute, so GELU within about
 * 2e-7·|x| (a few float32 ulps of y); Φ is computed as 1 + erf, so like PyTorch's float32 kernel it is
 * absolute, not relative, in the far negative tail (GELU(−12) is −0, not −2e-32). φ is within 4e-6
 * relative, so the gradient is within about 1e-6 absolute.
 */
final class CpuGelu {
    private static final float SQRT_HALF = 0.70710678118654752f, INV_SQRT_2PI = 0.39894228040143268f;

    private CpuGelu() {
    }

    static void forward(float[] x, float[] y, long n) {
        CpuParallel.forEachRange(n, 30, (from, to) -> {
            for (int i = from; i < to; i++) {
                float v = x[i];
                y[i] = v * cdf(v);
            }
        });
    }

    static void backward(float[] x, float[] dy, float[] dx, long n) {
        CpuParallel.forEachRange(n, 60, (from, to) -> {
            // Two passes over the range (in cache): one loop with both terms is too large for C2 to vectorise.
            for (int i = from; i < to; i++) {
                float c = Math.max(Math.min(x[i], 9f), -9f);
                dx[i] = c * INV_SQRT_2PI * expNegHalfSquare(c);
            }
            for (int i = from; i < to; i++) {
                dx[i] = dy[i] * (cdf(x[i]) + dx[i]);
            }
        });
    }

    /** Φ(v) = (1 + erf(v/√2))/2. */
    static float cdf(float v) {
        return 0.5f + 0.5f * erf(v * SQRT_HALF);
    }

    /** erf(x): Eigen's {@code generic_fast_erf_float}, x·P(x²)/Q(x²) on x clamped to [−4, 4]; NaN stays NaN. */
    static float erf(float x) {
        x = Math.max(Math.min(x, 4f), -4f);
        float x2 = x * x;
        float p = -2.72614225801306e-10f;
        p = p * x2 + 2.77068142495902e-08f;
        p = p * x2 - 2.10102402082508e-06f;
        p = p * x2 - 5.69250639462346e-05f;
        p = p * x2 - 7.34990630326855e-04f;
        p = p * x2 - 2.95459980854025e-03f;
        p = p * x2 - 1.60960333262415e-02f;
        float q = -1.45660718464996e-05f;
        q = q * x2 - 2.13374055278905e-04f;
        q = q * x2 - 1.68282697438203e-03f;
        q = q * x2 - 7.37332916720468e-03f;
        q = q * x2 - 1.42647390514189e-02f;
        return x * p / q;
    }

    /** e^(−c²/2) for |c| <= 9: a = −c²/128 lies in [−0.64, 0], e^a by Taylor to degree 10, then ^64. */
    static float expNegHalfSquare(float c) {
        float a = c * c * (-1f / 128);
        float p = 1f + a * (1f + a * (1f / 2 + a * (1f / 6 + a * (1f / 24 + a * (1f / 120 + a * (1f / 720
                + a * (1f / 5040 + a * (1f / 40320 + a * (1f / 362880 + a * (1f / 3628800))))))))));
        p *= p;
        p *= p;
        p *= p;
        p *= p;
        p *= p;
        return p * p;
    }
}
