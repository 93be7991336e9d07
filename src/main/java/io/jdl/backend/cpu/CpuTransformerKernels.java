package io.jdl.backend.cpu;

/**
 * The CPU reference of the transformer operations (layer norm, embedding, attention softmax), on plain
 * row-major float arrays; {@link CpuBackend} calls them. Float32 storage, float64 accumulation. Each
 * method states the same formula as its CUDA twin in {@code native/jdl_kernels.cu}. Rows are independent,
 * so the row kernels run rows across cores ({@link CpuParallel}).
 */
final class CpuTransformerKernels {
    private CpuTransformerKernels() {
    }

    /** out[i, :] = weight[ids[i], :] (ids already validated by the caller). */
    static void embedding(float[] weight, int[] ids, float[] out, int dim) {
        for (int i = 0; i < ids.length; i++) {
            System.arraycopy(weight, ids[i] * dim, out, i * dim, dim);
        }
    }

    /** dWeight = 0, then dWeight[ids[i], :] += dOut[i, :] (repeated ids accumulate). */
    static void embeddingBackward(float[] dOut, int[] ids, float[] dWeight, int dim) {
        java.util.Arrays.fill(dWeight, 0f);
        for (int i = 0; i < ids.length; i++) {
            int row = ids[i] * dim;
            for (int j = 0; j < dim; j++) {
                dWeight[row + j] += dOut[i * dim + j];
            }
        }
    }

    /**
     * Layer norm over the rows of x [rows, cols]: mean[r], rstd[r] = 1/sqrt(var + eps) (biased variance),
     * y = (x - mean)·rstd·gamma + beta; gamma/beta null mean 1/0. y may be x.
     */
    static void layerNorm(float[] x, float[] gamma, float[] beta, float[] y, float[] mean, float[] rstd, int rows,
                          int cols, float eps) {
        CpuParallel.forEach(rows, (long) rows * cols * 6, r -> {
            int o = r * cols;
            double s = 0;
            for (int j = 0; j < cols; j++) {
                s += x[o + j];
            }
            double mu = s / cols;
            double q = 0;
            for (int j = 0; j < cols; j++) {
                double d = x[o + j] - mu;
                q += d * d;
            }
            double rs = 1 / Math.sqrt(q / cols + eps);
            mean[r] = (float) mu;
            rstd[r] = (float) rs;
            for (int j = 0; j < cols; j++) {
                double g = gamma != null ? gamma[j] : 1, b = beta != null ? beta[j] : 0;
                y[o + j] = (float) ((x[o + j] - mu) * rs * g + b);
            }
        });
    }

    /**
     * Layer norm backward with xhat = (x - mean)·rstd, g = dy·gamma:
     * dx = rstd·(g - mean(g) - xhat·mean(g·xhat)); dGamma[j] = Σ_r dy·xhat; dBeta[j] = Σ_r dy
     * (all overwritten; dGamma, dBeta may be null when not wanted).
     */
    static void layerNormBackward(float[] x, float[] gamma, float[] mean, float[] rstd, float[] dy, float[] dx,
                                  float[] dGamma, float[] dBeta, int rows, int cols) {
        double[] dg = new double[cols], db = new double[cols];
        double[] xhat = new double[cols];
        for (int r = 0; r < rows; r++) {
            int o = r * cols;
            double sg = 0, sgx = 0;
            for (int j = 0; j < cols; j++) {
                xhat[j] = (x[o + j] - (double) mean[r]) * rstd[r];
                double g = dy[o + j] * (gamma != null ? (double) gamma[j] : 1);
                sg += g;
                sgx += g * xhat[j];
                dg[j] += dy[o + j] * xhat[j];
                db[j] += dy[o + j];
            }
            sg /= cols;
            sgx /= cols;
            for (int j = 0; j < cols; j++) {
                double g = dy[o + j] * (gamma != null ? (double) gamma[j] : 1);
                dx[o + j] = (float) (rstd[r] * (g - sg - xhat[j] * sgx));
            }
        }
        for (int j = 0; j < cols; j++) {
            if (dGamma != null) {
                dGamma[j] = (float) dg[j];
            }
            if (dBeta != null) {
                dBeta[j] = (float) db[j];
            }
        }
    }

    /**
     * Masked scaled softmax over the rows of scores [batch, heads, tq, tk]: row r is query i = r % tq of
     * batch b = r / (heads·tq); key j is allowed unless (causal and j > i) or keyMask[b·tk + j] == 0;
     * probs = softmax(scale·scores) over the allowed keys, 0 elsewhere, a row without allowed keys all 0.
     * probs may be scores.
     */
    static void attentionSoftmax(float[] scores, float[] keyMask, float[] probs, int batch, int heads, int tq,
                                 int tk, float scale, boolean causal) {
        int rows = batch * heads * tq;
        CpuParallel.forEach(rows, (long) rows * tk * 20, r -> {
            boolean[] allowed = new boolean[tk];
            int i = r % tq, b = r / (heads * tq), o = r * tk;
            double m = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < tk; j++) {
                allowed[j] = !(causal && j > i) && (keyMask == null || keyMask[b * tk + j] != 0f);
                if (allowed[j]) {
                    m = Math.max(m, (double) (scale * scores[o + j]));
                }
            }
            double z = 0;
            for (int j = 0; j < tk; j++) {
                if (allowed[j]) {
                    z += Math.exp(scale * scores[o + j] - m);
                }
            }
            for (int j = 0; j < tk; j++) {
                probs[o + j] = allowed[j] ? (float) (Math.exp(scale * scores[o + j] - m) / z) : 0f;
            }
        });
    }

    /** dScores = scale·p·(dp - rowsum(dp·p)) over rows of [rows, cols]; dScores may be dp. */
    static void attentionSoftmaxBackward(float[] p, float[] dp, float[] dScores, int rows, int cols, float scale) {
        CpuParallel.forEach(rows, (long) rows * cols * 4, r -> {
            int o = r * cols;
            double s = 0;
            for (int j = 0; j < cols; j++) {
                s += (double) dp[o + j] * p[o + j];
            }
            for (int j = 0; j < cols; j++) {
                dScores[o + j] = (float) (scale * p[o + j] * (dp[o + j] - s));
            }
        });
    }
}
