package io.jdl.backend.cpu;

/**
 * Batch normalisation over [n, c, hw] on the CPU, training forward and backward side by side; channels are
 * independent and run in parallel.
 *
 * <p>Precision: the channel statistics (mean, variance, and the backward's Σdy and Σdy·x̂) add in float64
 * ({@link CpuBroadcastSums#sum}'s four running sums per plane, planes in image order), so they do not depend
 * on the thread count; the per-element passes are float32 {@code y = (x − mean)·a + β} and
 * {@code dx = A·dy + B·(x − mean) + C} with the coefficients worked out in float64 per channel, loops C2
 * vectorises (a float64 expression per element kept them scalar: batch norm was a tenth of the cnn step). A
 * channel whose float32 dx overflows (a gradient scaled near float32's range, where the float64 terms cancel)
 * is redone in float64, as before.
 */
final class CpuBatchNorm {
    private CpuBatchNorm() {
    }

    /**
     * y = (x − mean)/sqrt(var + eps)·γ + β with the batch statistics of each channel; saves mean and 1/sqrt(var +
     * eps) for the backward and updates the running statistics (unbiased variance), as PyTorch does.
     */
    static void train(int n, int c, int hw, float[] x, float[] gamma, float[] beta, float[] y, float[] runMean,
                      float[] runVar, float[] saveMean, float[] saveInv, float momentum, float eps) {
        long m = (long) n * hw;
        CpuParallel.forEach(c, m * c * 4, ch -> {
            double sum = 0;
            for (int i = 0; i < n; i++) {
                int from = (i * c + ch) * hw;
                sum += CpuBroadcastSums.sum(x, from, from + hw);
            }
            double mean = sum / m;
            double sq = 0;
            for (int i = 0; i < n; i++) {
                sq += squaredDeviations(x, (i * c + ch) * hw, hw, mean);
            }
            double var = sq / m, inv = 1 / Math.sqrt(var + eps);
            float meanF = (float) mean, a = (float) (inv * gamma[ch]), b = beta[ch];
            for (int i = 0; i < n; i++) {
                for (int p = (i * c + ch) * hw, end = p + hw; p < end; p++) {
                    y[p] = (x[p] - meanF) * a + b;
                }
            }
            saveMean[ch] = meanF;
            saveInv[ch] = (float) inv;
            runMean[ch] = (float) ((1 - momentum) * runMean[ch] + momentum * mean);
            runVar[ch] = (float) ((1 - momentum) * runVar[ch] + momentum * (m > 1 ? sq / (m - 1) : var));
        });
    }

    /**
     * dx, dγ, dβ of {@link #train} from dy, with the saved mean and inverse deviation:
     * dβ = Σdy, dγ = Σdy·x̂, dx = γ·inv/m·(m·dy − Σdy − x̂·Σdy·x̂) where x̂ = (x − mean)·inv.
     */
    static void backward(int n, int c, int hw, float[] x, float[] dy, float[] gamma, float[] mean, float[] inv,
                         float[] dx, float[] dGamma, float[] dBeta) {
        long m = (long) n * hw;
        CpuParallel.forEach(c, m * c * 6, ch -> {
            float mu = mean[ch];
            double sumDy = 0, sumDyCentred = 0;
            for (int i = 0; i < n; i++) {
                int from = (i * c + ch) * hw;
                sumDy += CpuBroadcastSums.sum(dy, from, from + hw);
                sumDyCentred += dotCentred(dy, x, from, hw, mu);
            }
            double in = inv[ch], sumDyXhat = sumDyCentred * in;
            dGamma[ch] = (float) sumDyXhat;
            dBeta[ch] = (float) sumDy;
            double k = gamma[ch] * in / m;
            float aDy = (float) (k * m), bCentred = (float) (-k * in * sumDyXhat), cConst = (float) (-k * sumDy);
            float worst = 0;
            for (int i = 0; i < n; i++) {
                for (int p = (i * c + ch) * hw, end = p + hw; p < end; p++) {
                    dx[p] = aDy * dy[p] + bCentred * (x[p] - mu) + cConst;
                }
                worst = Math.max(worst, maxAbs(dx, (i * c + ch) * hw, hw));
            }
            if (!(worst <= Float.MAX_VALUE)) {
                // A term overflowed float32 (or the input holds inf/NaN): with a loss scaled near float32's range
                // the three terms can each overflow where their sum cancels (exactly 0 for two samples). The
                // float64 expression gives what the terms really sum to, inf/NaN only where that is the answer.
                for (int i = 0; i < n; i++) {
                    for (int p = (i * c + ch) * hw, end = p + hw; p < end; p++) {
                        double xhat = (x[p] - (double) mu) * in;
                        dx[p] = (float) (k * (m * (double) dy[p] - sumDy - xhat * sumDyXhat));
                    }
                }
            }
        });
    }

    /** max |v[p]| over [from, from + len); NaN when one is NaN. */
    private static float maxAbs(float[] v, int from, int len) {
        float worst = 0;
        for (int p = from, end = from + len; p < end; p++) {
            worst = Math.max(worst, Math.abs(v[p]));
        }
        return worst;
    }

    /** Σ (x[p] − mean)² over [from, from + len), float64, two running sums. */
    private static double squaredDeviations(float[] x, int from, int len, double mean) {
        double s0 = 0, s1 = 0;
        int p = from, end = from + len;
        for (; p + 2 <= end; p += 2) {
            double d0 = x[p] - mean, d1 = x[p + 1] - mean;
            s0 += d0 * d0;
            s1 += d1 * d1;
        }
        for (; p < end; p++) {
            double d = x[p] - mean;
            s0 += d * d;
        }
        return s0 + s1;
    }

    /** Σ dy[p]·(x[p] − mean) over [from, from + len), float64, two running sums. */
    private static double dotCentred(float[] dy, float[] x, int from, int len, float mean) {
        double s0 = 0, s1 = 0;
        int p = from, end = from + len;
        for (; p + 2 <= end; p += 2) {
            s0 += (double) dy[p] * (x[p] - (double) mean);
            s1 += (double) dy[p + 1] * (x[p + 1] - (double) mean);
        }
        for (; p < end; p++) {
            s0 += (double) dy[p] * (x[p] - (double) mean);
        }
        return s0 + s1;
    }
}
