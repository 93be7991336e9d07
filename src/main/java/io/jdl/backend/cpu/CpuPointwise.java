package io.jdl.backend.cpu;

import io.jdl.backend.Activation;
import io.jdl.backend.DropoutMask;
import io.jdl.backend.HalfPrecision;
import io.jdl.backend.Storage;
import java.util.Arrays;

/**
 * The pointwise primitives of the CPU backend (the list in {@code Backend}'s class comment), each on operands of
 * any float dtype, each its own: the half ones are widened, the float32 kernel runs, a half output is rounded once
 * ({@link CpuHalfOperands}), so the numbers are the float32 kernel's followed by one cast, bit for bit. Float32
 * operands are used in place. Integer and bool storages throw {@link IllegalStateException} naming the primitive.
 */
final class CpuPointwise {
    private CpuPointwise() {
    }

    /** out[i] = value, rounded once to a half out's dtype. */
    static void fill(Storage outs, float value) {
        switch (outs.dtype()) {
            case FLOAT32 -> Arrays.fill(CpuHalfOperands.cpu(outs).data(), value);
            case BFLOAT16 -> Arrays.fill((short[]) CpuHalfOperands.cpu(outs).array(), HalfPrecision.BF16.fromFloat(value));
            case FLOAT16 -> Arrays.fill((short[]) CpuHalfOperands.cpu(outs).array(), HalfPrecision.F16.fromFloat(value));
            default -> throw new IllegalStateException("fill takes float storages (FLOAT32, BFLOAT16, FLOAT16), got one"
                    + " of " + outs.dtype() + " (the tensor layer converts the value for the others)");
        }
    }

    static void axpby(float alpha, Storage as, float beta, Storage bs, Storage outs, long n) {
        try (CpuHalfOperands f = new CpuHalfOperands("axpby")) {
            float[] a = f.read(as), b = f.read(bs), out = f.output(outs);
            CpuParallel.forEachRange(n, 3, (from, to) -> {
                for (int i = from; i < to; i++) {
                    out[i] = alpha * a[i] + beta * b[i];
                }
            });
            f.write(out, outs, n);
        }
    }

    static void mul(Storage as, Storage bs, Storage outs, long n) {
        try (CpuHalfOperands f = new CpuHalfOperands("mul")) {
            float[] a = f.read(as), b = f.read(bs), out = f.output(outs);
            CpuParallel.forEachRange(n, 2, (from, to) -> {
                for (int i = from; i < to; i++) {
                    out[i] = a[i] * b[i];
                }
            });
            f.write(out, outs, n);
        }
    }

    /** out = x·s[0]; s stays float32. */
    static void mulScalar(Storage xs, Storage ss, Storage outs, long n) {
        float s = CpuHalfOperands.float32("mulScalar", "s", ss)[0];
        try (CpuHalfOperands f = new CpuHalfOperands("mulScalar")) {
            float[] x = f.read(xs), out = f.output(outs);
            CpuParallel.forEachRange(n, 1, (from, to) -> {
                for (int i = from; i < to; i++) {
                    out[i] = x[i] * s;
                }
            });
            f.write(out, outs, n);
        }
    }

    static void broadcastBinary(boolean multiply, float alpha, float beta, Storage as, int[] aStrides, Storage bs,
                                int[] bStrides, Storage outs, int[] dims) {
        try (CpuHalfOperands f = new CpuHalfOperands("broadcastBinary")) {
            float[] a = f.read(as), b = f.read(bs), out = f.output(outs);
            CpuElementwise.broadcastBinary(multiply, alpha, beta, a, aStrides, b, bStrides, out, dims);
            f.write(out, outs, (long) dims[0] * dims[1] * dims[2] * dims[3]);
        }
    }

    static void broadcast(Storage xs, Storage outs, int outer, int dim, int inner) {
        try (CpuHalfOperands f = new CpuHalfOperands("broadcast")) {
            float[] x = f.read(xs), out = f.output(outs);
            CpuBroadcastSums.broadcast(x, out, outer, dim, inner);
            f.write(out, outs, (long) outer * dim * inner);
        }
    }

    static void sum(Storage xs, Storage outs, int outer, int dim, int inner) {
        try (CpuHalfOperands f = new CpuHalfOperands("sum")) {
            float[] x = f.read(xs), out = f.output(outs);
            CpuBroadcastSums.sum(x, out, outer, dim, inner);
            f.write(out, outs, (long) outer * inner);
        }
    }

    static void addBias(Storage xs, Storage biases, Storage outs, int rows, int cols) {
        try (CpuHalfOperands f = new CpuHalfOperands("addBias")) {
            float[] x = f.read(xs), bias = f.read(biases), out = f.output(outs);
            addBias(x, bias, out, rows, cols);
            f.write(out, outs, (long) rows * cols);
        }
    }

    private static void addBias(float[] x, float[] bias, float[] out, int rows, int cols) {
        CpuParallel.forEach(rows, (long) rows * cols, r -> {
            for (int c = 0; c < cols; c++) {
                out[r * cols + c] = x[r * cols + c] + bias[c];
            }
        });
    }

    static void addChannelBias(Storage xs, Storage bs, Storage outs, int n, int c, int hw) {
        try (CpuHalfOperands f = new CpuHalfOperands("addChannelBias")) {
            float[] x = f.read(xs), bias = f.read(bs), out = f.output(outs);
            CpuBroadcastSums.addChannelBias(x, bias, out, n, c, hw);
            f.write(out, outs, (long) n * c * hw);
        }
    }

    static void channelBiasBackward(Storage dys, Storage dbs, int n, int c, int hw) {
        try (CpuHalfOperands f = new CpuHalfOperands("channelBiasBackward")) {
            float[] dy = f.read(dys), db = f.output(dbs);
            CpuBroadcastSums.channelBiasBackward(dy, db, n, c, hw);
            f.write(db, dbs, c);
        }
    }

    /**
     * y = act(x + bias) over [n, c, hw], pre (unless null) = x + bias: the sum stays float32 between the bias and
     * the activation (a half pre or y is rounded once, from its float32 value), as the fused CUDA kernel computes.
     */
    static void biasActivation(Activation act, float param, Storage xs, Storage biases, Storage pres, Storage ys,
                               int n, int c, int hw) {
        long total = (long) n * c * hw;
        try (CpuHalfOperands f = new CpuHalfOperands("biasActivation")) {
            float[] x = f.read(xs), bias = f.read(biases), y = f.output(ys);
            float[] sum = pres != null ? f.output(pres) : y; // y's array when y is float32 (x + bias, then in place)
            if (hw == 1) {
                addBias(x, bias, sum, n, c);
            } else {
                CpuBroadcastSums.addChannelBias(x, bias, sum, n, c, hw);
            }
            activation(act, param, sum, y, total);
            if (pres != null) {
                f.write(sum, pres, total);
            }
            f.write(y, ys, total);
        }
    }

    static void activation(Activation act, float param, Storage xs, Storage ys, long n) {
        try (CpuHalfOperands f = new CpuHalfOperands("activation")) {
            float[] x = f.read(xs), y = f.output(ys);
            activation(act, param, x, y, n);
            f.write(y, ys, n);
        }
    }

    private static void activation(Activation act, float param, float[] x, float[] y, long n) {
        if (act == Activation.RELU) {
            CpuElementwise.relu(x, y, (int) n);
            return;
        }
        if (act == Activation.GELU) {
            CpuGelu.forward(x, y, n);
            return;
        }
        for (int i = 0; i < n; i++) {
            float v = x[i];
            y[i] = switch (act) {
                case RELU, GELU -> throw new AssertionError(act + " has its own kernel, above");
                case LEAKY_RELU -> v > 0 ? v : param * v;
                case SIGMOID -> (float) (1 / (1 + Math.exp(-v)));
                case TANH -> (float) Math.tanh(v);
            };
        }
    }

    static void activationBackward(Activation act, float param, Storage xs, Storage ys, Storage dys, Storage dxs,
                                   long n) {
        try (CpuHalfOperands f = new CpuHalfOperands("activationBackward")) {
            // ReLU, leaky ReLU and GELU read x only, sigmoid and tanh y only: the other is not widened
            boolean fromOutput = act == Activation.SIGMOID || act == Activation.TANH;
            float[] x = fromOutput ? null : f.read(xs), y = fromOutput ? f.read(ys) : null, dy = f.read(dys);
            float[] dx = f.output(dxs);
            activationBackward(act, param, x, y, dy, dx, n);
            f.write(dx, dxs, n);
        }
    }

    private static void activationBackward(Activation act, float param, float[] x, float[] y, float[] dy, float[] dx,
                                           long n) {
        if (act == Activation.RELU) {
            CpuElementwise.reluBackward(x, dy, dx, (int) n);
            return;
        }
        if (act == Activation.GELU) {
            CpuGelu.backward(x, dy, dx, n);
            return;
        }
        for (int i = 0; i < n; i++) {
            float g = dy[i];
            dx[i] = switch (act) {
                case RELU, GELU -> throw new AssertionError(act + " has its own kernel, above");
                case LEAKY_RELU -> x[i] > 0 ? g : param * g;
                case SIGMOID -> g * y[i] * (1 - y[i]);
                case TANH -> g * (1 - y[i] * y[i]);
            };
        }
    }

    /** y = x·mask, mask[i] = keep ? 1/(1-p) : 0; the mask stays float32 (1/(1-p) would not survive rounding). */
    static void dropout(Storage xs, Storage ys, Storage masks, long n, float p, long seed) {
        float[] mask = CpuHalfOperands.float32("dropout", "mask", masks);
        try (CpuHalfOperands f = new CpuHalfOperands("dropout")) {
            float[] x = f.read(xs), y = f.output(ys);
            float keepScale = 1 / (1 - p);
            for (int i = 0; i < n; i++) {
                mask[i] = DropoutMask.keep(seed, i, p) ? keepScale : 0f;
                y[i] = x[i] * mask[i];
            }
            f.write(y, ys, n);
        }
    }

    static void softmax(boolean log, Storage xs, Storage ys, int rows, int cols) {
        try (CpuHalfOperands f = new CpuHalfOperands("softmax")) {
            float[] x = f.read(xs), y = f.output(ys);
            CpuParallel.forEach(rows, (long) rows * cols * 8, r -> {
                int off = r * cols;
                double max = rowMax(x, off, cols), sum = sumExp(x, off, cols, max), logSum = Math.log(sum);
                for (int j = 0; j < cols; j++) {
                    double z = x[off + j] - max;
                    y[off + j] = (float) (log ? z - logSum : Math.exp(z) / sum);
                }
            });
            f.write(y, ys, (long) rows * cols);
        }
    }

    /** The largest of x[off, off + n), in double (NaN propagates; -inf for none). */
    static double rowMax(float[] x, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            max = Math.max(max, x[off + j]);
        }
        return max;
    }

    /** Σ exp(x[j] - max) over x[off, off + n), in double. */
    static double sumExp(float[] x, int off, int n, double max) {
        double sum = 0;
        for (int j = 0; j < n; j++) {
            sum += Math.exp(x[off + j] - max);
        }
        return sum;
    }

    static void softmaxBackward(boolean log, Storage ys, Storage dys, Storage dxs, int rows, int cols) {
        try (CpuHalfOperands f = new CpuHalfOperands("softmaxBackward")) {
            float[] y = f.read(ys), dy = f.read(dys), dx = f.output(dxs);
            CpuParallel.forEach(rows, (long) rows * cols * 8, r -> {
                int off = r * cols;
                double dot = 0;
                for (int j = 0; j < cols; j++) {
                    dot += log ? dy[off + j] : (double) dy[off + j] * y[off + j];
                }
                for (int j = 0; j < cols; j++) {
                    // softmax: y·(dy - Σ dy·y); log-softmax: dy - exp(y)·Σ dy
                    dx[off + j] = (float) (log ? dy[off + j] - Math.exp(y[off + j]) * dot
                            : y[off + j] * (dy[off + j] - dot));
                }
            });
            f.write(dx, dxs, (long) rows * cols);
        }
    }
}
