package io.jdl.autograd;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import java.util.function.Function;

/**
 * Finite-difference gradient checks on the CPU. The scalar checked is L = Σ f(x)·R for a fixed random
 * R (so every output element matters), evaluated in float64 on the host from the float32 forward;
 * central differences use the perturbation actually representable in float32. The error is the
 * norm-wise relative error ‖analytic - numeric‖ / max(‖analytic‖, ‖numeric‖).
 */
public final class GradCheck {
    public static final double TOLERANCE = 1e-3;

    private GradCheck() {
    }

    /** Random N(0,1) values. */
    public static float[] randn(Random rng, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return v;
    }

    /** Random values at least {@code gap} away from 0 (for kinks at 0, e.g. relu). */
    public static float[] awayFromZero(Random rng, int n, double gap) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            double x = rng.nextGaussian();
            v[i] = (float) (Math.signum(x) * (Math.abs(x) + gap));
        }
        return v;
    }

    /** Distinct values spaced {@code gap} apart in random order (max pooling without near-ties). */
    public static float[] distinct(Random rng, int n, double gap) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) ((i - n / 2.0) * gap);
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            float t = v[i];
            v[i] = v[j];
            v[j] = t;
        }
        return v;
    }

    /** Checks d(Σ f(inputs)·R)/d(inputs) with step {@code eps}; inputs are given as values and shapes. */
    public static double check(String name, Function<Tensor[], Tensor> f, double eps, float[][] values, Shape... shapes) {
        int k = values.length;
        Tensor[] in = new Tensor[k];
        for (int i = 0; i < k; i++) {
            in[i] = Tensor.of(values[i], shapes[i], Device.CPU).requiresGrad(true);
        }
        float[] r;
        double[][] analytic = new double[k][];
        try {
            Tensor out = f.apply(in);
            r = randn(new Random(name.hashCode()), Math.toIntExact(out.numel()));
            try (Tensor rt = Tensor.of(r, out.shape(), Device.CPU); Tensor prod = out.mul(rt); Tensor loss = prod.sum()) {
                loss.backward();
            }
            out.close();
            for (int i = 0; i < k; i++) {
                float[] g = in[i].grad() == null ? new float[values[i].length] : in[i].grad().toArray();
                analytic[i] = new double[g.length];
                for (int j = 0; j < g.length; j++) {
                    analytic[i][j] = g[j];
                }
            }
        } finally {
            for (Tensor t : in) {
                t.close();
            }
        }
        double diff2 = 0, a2 = 0, n2 = 0;
        try (NoGrad ignored = Autograd.noGrad()) {
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < values[i].length; j++) {
                    float x0 = values[i][j];
                    float up = (float) (x0 + eps), down = (float) (x0 - eps);
                    values[i][j] = up;
                    double lUp = evaluate(f, values, shapes, r);
                    values[i][j] = down;
                    double lDown = evaluate(f, values, shapes, r);
                    values[i][j] = x0;
                    double numeric = (lUp - lDown) / ((double) up - down);
                    diff2 += (numeric - analytic[i][j]) * (numeric - analytic[i][j]);
                    a2 += analytic[i][j] * analytic[i][j];
                    n2 += numeric * numeric;
                }
            }
        }
        double err = Math.sqrt(diff2) / Math.max(1e-12, Math.max(Math.sqrt(a2), Math.sqrt(n2)));
        assertTrue(err < TOLERANCE, name + ": relative gradient error " + err);
        assertTrue(a2 > 0, name + ": gradient is identically zero");
        return err;
    }

    private static double evaluate(Function<Tensor[], Tensor> f, float[][] values, Shape[] shapes, float[] r) {
        Tensor[] in = new Tensor[values.length];
        for (int i = 0; i < values.length; i++) {
            in[i] = Tensor.of(values[i], shapes[i], Device.CPU);
        }
        try (Tensor out = f.apply(in)) {
            float[] o = out.toArray();
            double l = 0;
            for (int j = 0; j < o.length; j++) {
                l += (double) o[j] * r[j];
            }
            return l;
        } finally {
            for (Tensor t : in) {
                t.close();
            }
        }
    }
}
