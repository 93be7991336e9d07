package io.jdl.samples;

import io.jdl.device.Device;
import io.jdl.optim.Sgd;
import io.jdl.samples.cli.MetricsJson;
import io.jdl.samples.cli.UserError;
import io.jdl.samples.viz.Charts;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The course's perceptron: {@code y = step(x·w + b)} on two 2-D point clouds, its linear part trained with
 * the squared error {@code J = mean((x·w + b - t)²)} against targets t = ±1 (the step has no useful gradient,
 * so the squared error is taken before it, as Widrow and Hoff did). It is trained three ways: by hand-written
 * gradient descent {@code w <- w - eta dJ/dw}, by autograd with {@link Sgd} (the same numbers), and in the
 * learning-rate lesson with a too-small, a good and a too-large rate, and full batch against mini-batches.
 *
 * <p>J is a quadratic in (w, b) with Hessian {@code H = 2/N Σ x̃ x̃ᵀ}, x̃ = (x0, x1, 1): gradient descent
 * converges exactly when {@code eta < 2/λmax(H)}, so the rates are chosen from λmax and the optimum J* is known
 * in closed form; every run is judged against it.
 */
@Command(name = "perceptron", mixinStandardHelpOptions = true,
        description = "A perceptron by hand and by autograd, and the learning-rate lesson (about 2 s on a CPU)",
        footer = "%nTrains in float32 only, without --precision: the lesson compares hand-derived gradients with autograd's"
                + " to the last bits, which bfloat16 or float16 rounding would blur.")
final class PerceptronSample implements Callable<Integer> {
    static final int POINTS = 200, FEATURES = 2, BATCH = 16;

    @Option(names = "--epochs", defaultValue = "40", description = "passes over the data per run (default: ${DEFAULT-VALUE})")
    int epochs;

    @Option(names = "--seed", defaultValue = "0", description = "seed for the points and the mini-batch order (default: ${DEFAULT-VALUE})")
    long seed;

    @Mixin
    OutputOptions output;

    /** Points x [N, 2] and targets t [N] (±1). */
    record Points(float[] x, float[] t) {
        int size() {
            return t.length;
        }
    }

    /** One training run: the loss on all points before training and after each epoch, and the weights (w0, w1, b) it ended with. */
    record Run(String name, float eta, double[] loss, double[] weights) {
        double last() {
            return loss[loss.length - 1];
        }
    }

    @Override
    public Integer call() throws Exception {
        UserError.atLeast("--epochs", epochs, 1);
        RunFolder run = output.open("perceptron", false);
        Points data = points(new Random(seed));
        double[] optimum = leastSquares(data);
        double best = loss(data, optimum), lambda = largestCurvature(data);
        float good = (float) (1 / lambda);
        System.out.printf("%d points, 2 classes; J* = %.4f at the optimum; λmax(H) = %.3f, so gradient descent"
                + " converges for eta < 2/λmax = %.3f%n", data.size(), best, lambda, 2 / lambda);

        Run byHand = train(data, "by hand", good, data.size(), epochs, seed);
        Run byAutograd = autograd(data, good, epochs);
        double gap = maxDifference(byHand.weights(), byAutograd.weights());
        System.out.printf("by hand:     w = (%.4f, %.4f), b = %.4f, J = %.4f%n", byHand.weights()[0], byHand.weights()[1],
                byHand.weights()[2], byHand.last());
        System.out.printf("by autograd: w = (%.4f, %.4f), b = %.4f, J = %.4f (max difference from by hand %.1e)%n",
                byAutograd.weights()[0], byAutograd.weights()[1], byAutograd.weights()[2], byAutograd.last(), gap);
        decisionBoundary(run, data, byHand.weights());

        List<Run> rates = List.of(train(data, "too small", good / 50, data.size(), epochs, seed),
                train(data, "good", good, data.size(), epochs, seed),
                train(data, "too large", (float) (2.2 / lambda), data.size(), epochs, seed));
        List<Run> batches = List.of(rates.get(1), train(data, "mini-batch " + BATCH, good, BATCH, epochs, seed));
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("optimum_loss", best);
        metrics.put("critical_eta", 2 / lambda);
        metrics.put("hand_vs_autograd_max_difference", gap);
        metrics.put("accuracy", accuracy(data, byHand.weights()));
        for (Run r : concat(rates, batches.subList(1, 2))) {
            String verdict = verdict(r, best);
            System.out.printf("%-14s eta = %-8.4g J %.4f -> %.4g after %d epochs: %s%n", r.name(), r.eta(), r.loss()[0], r.last(),
                    epochs, verdict);
            Map<String, Object> one = new LinkedHashMap<>();
            one.put("eta", r.eta());
            one.put("final_loss", r.last());
            one.put("epochs_to_optimum", epochsToOptimum(r, best));
            one.put("verdict", verdict);
            metrics.put(r.name().replace(' ', '_'), one);
        }
        System.out.printf("full batch: J* + 1%% after %d epochs (%d steps), ends at %.4f; mini-batches of %d: after %d epochs"
                        + " (%d steps), ends at %.4f: more, noisier steps per pass over the data%n", epochsToOptimum(rates.get(1), best),
                epochsToOptimum(rates.get(1), best), rates.get(1).last(), BATCH, epochsToOptimum(batches.get(1), best),
                epochsToOptimum(batches.get(1), best) * ((data.size() + BATCH - 1) / BATCH), batches.get(1).last());
        curves(run, "learning-rates.png", "Learning rate: too small, good, too large", rates);
        curves(run, "batch-sizes.png", "Full batch against mini-batches (same eta)", batches);
        MetricsJson.write(run.file("metrics.json"), metrics);
        run.wrote("metrics.json");
        System.out.println(run.summary());
        return 0;
    }

    /** Two Gaussian clouds of 2-D points, t = +1 around (1, 1) and t = -1 around (-1, -1), alternating. */
    static Points points(Random random) {
        float[] x = new float[POINTS * FEATURES], t = new float[POINTS];
        for (int i = 0; i < POINTS; i++) {
            t[i] = i % 2 == 0 ? 1 : -1;
            x[2 * i] = (float) (t[i] + 0.7 * random.nextGaussian());
            x[2 * i + 1] = (float) (t[i] + 0.7 * random.nextGaussian());
        }
        return new Points(x, t);
    }

    /**
     * Gradient descent written out: for each batch, {@code e = x·w + b - t}, {@code dJ/dw = 2/B Σ e·x},
     * {@code dJ/db = 2/B Σ e}, then {@code w <- w - eta dJ/dw}. Batches follow a seeded shuffle (none for the full batch).
     */
    static Run train(Points data, String name, float eta, int batch, int epochs, long seed) {
        int n = data.size();
        double[] w = new double[3]; // w0, w1, b: all start at zero
        double[] loss = new double[epochs + 1];
        loss[0] = loss(data, w);
        Random order = new Random(seed);
        int[] idx = java.util.stream.IntStream.range(0, n).toArray();
        for (int epoch = 1; epoch <= epochs; epoch++) {
            if (batch < n) {
                shuffle(idx, order);
            }
            for (int start = 0; start < n; start += batch) {
                int end = Math.min(n, start + batch);
                double[] grad = new double[3];
                for (int k = start; k < end; k++) {
                    int i = idx[k];
                    double e = w[0] * data.x()[2 * i] + w[1] * data.x()[2 * i + 1] + w[2] - data.t()[i];
                    grad[0] += 2 * e * data.x()[2 * i] / (end - start);
                    grad[1] += 2 * e * data.x()[2 * i + 1] / (end - start);
                    grad[2] += 2 * e / (end - start);
                }
                for (int j = 0; j < 3; j++) {
                    w[j] -= eta * grad[j];
                }
            }
            loss[epoch] = loss(data, w);
        }
        return new Run(name, eta, loss, w);
    }

    /** The same full-batch descent with jdl computing dJ/dw (autograd) and {@link Sgd} taking the step. */
    static Run autograd(Points data, float eta, int epochs) {
        Device device = Device.CPU;
        double[] loss = new double[epochs + 1];
        try (Tensor x = Tensor.of(data.x(), Shape.of(data.size(), FEATURES), device);      // [N, 2]
             Tensor t = Tensor.of(data.t(), Shape.of(data.size(), 1), device);             // [N, 1]
             Tensor w = Tensor.zeros(Shape.of(FEATURES, 1), device).requiresGrad(true);    // [2, 1]
             Tensor b = Tensor.zeros(Shape.of(1), device).requiresGrad(true);              // [1]
             Sgd sgd = Sgd.builder().lr(eta).build(List.of(w, b))) {
            for (int epoch = 0; epoch <= epochs; epoch++) {
                try (Tensor xw = x.matmul(w); Tensor y = xw.addBias(b); Tensor j = y.mse(t)) { // [N, 1], J scalar
                    loss[epoch] = j.item();
                    if (epoch < epochs) {
                        sgd.zeroGrad();
                        j.backward();
                        sgd.step();
                    }
                }
            }
            float[] wv = w.toArray();
            return new Run("autograd", eta, loss, new double[] {wv[0], wv[1], b.item()});
        }
    }

    /** J = mean((x·w + b - t)²) over all points. */
    static double loss(Points data, double[] w) {
        double sum = 0;
        for (int i = 0; i < data.size(); i++) {
            double e = w[0] * data.x()[2 * i] + w[1] * data.x()[2 * i + 1] + w[2] - data.t()[i];
            sum += e * e;
        }
        return sum / data.size();
    }

    static double accuracy(Points data, double[] w) {
        int right = 0;
        for (int i = 0; i < data.size(); i++) {
            double y = w[0] * data.x()[2 * i] + w[1] * data.x()[2 * i + 1] + w[2];
            right += (y >= 0) == (data.t()[i] > 0) ? 1 : 0;
        }
        return (double) right / data.size();
    }

    /** H = 2/N Σ x̃ x̃ᵀ with x̃ = (x0, x1, 1): J's second derivative, the same at every (w, b). */
    static double[][] hessian(Points data) {
        double[][] h = new double[3][3];
        for (int i = 0; i < data.size(); i++) {
            double[] v = {data.x()[2 * i], data.x()[2 * i + 1], 1};
            for (int r = 0; r < 3; r++) {
                for (int c = 0; c < 3; c++) {
                    h[r][c] += 2 * v[r] * v[c] / data.size();
                }
            }
        }
        return h;
    }

    /** λmax(H) by power iteration (H is symmetric positive definite). */
    static double largestCurvature(Points data) {
        double[][] h = hessian(data);
        double[] v = {1, 1, 1};
        double lambda = 0;
        for (int it = 0; it < 200; it++) {
            double[] hv = new double[3];
            for (int r = 0; r < 3; r++) {
                for (int c = 0; c < 3; c++) {
                    hv[r] += h[r][c] * v[c];
                }
            }
            lambda = Math.sqrt(hv[0] * hv[0] + hv[1] * hv[1] + hv[2] * hv[2]);
            for (int r = 0; r < 3; r++) {
                v[r] = hv[r] / lambda;
            }
        }
        return lambda;
    }

    /** The minimiser of J: solves H·w = 2/N Σ t x̃ (the normal equations) by Gaussian elimination. */
    static double[] leastSquares(Points data) {
        double[][] a = hessian(data);
        double[] rhs = new double[3];
        for (int i = 0; i < data.size(); i++) {
            double[] v = {data.x()[2 * i], data.x()[2 * i + 1], 1};
            for (int r = 0; r < 3; r++) {
                rhs[r] += 2 * data.t()[i] * v[r] / data.size();
            }
        }
        for (int p = 0; p < 3; p++) {
            for (int r = p + 1; r < 3; r++) {
                double f = a[r][p] / a[p][p];
                for (int c = p; c < 3; c++) {
                    a[r][c] -= f * a[p][c];
                }
                rhs[r] -= f * rhs[p];
            }
        }
        double[] w = new double[3];
        for (int r = 2; r >= 0; r--) {
            double s = rhs[r];
            for (int c = r + 1; c < 3; c++) {
                s -= a[r][c] * w[c];
            }
            w[r] = s / a[r][r];
        }
        return w;
    }

    /** "converged", "diverged" (the loss grew or overflowed), "noisy" (reached J* + 1% but ended above it) or "too slow". */
    static String verdict(Run r, double best) {
        if (!Double.isFinite(r.last()) || r.last() > r.loss()[0]) {
            return "diverged: each step overshoots the minimum further (eta > 2/λmax)";
        }
        if (r.last() <= best * 1.01) {
            return "converged to J* within 1%";
        }
        return epochsToOptimum(r, best) >= 0 ? "noisy: reached J* within 1% but each batch's gradient pulls it off again"
                : "too slow: still descending, far from J*";
    }

    /** The first epoch whose loss is within 1% of J*, or -1. */
    static int epochsToOptimum(Run r, double best) {
        for (int e = 0; e < r.loss().length; e++) {
            if (r.loss()[e] <= best * 1.01) {
                return e;
            }
        }
        return -1;
    }

    /** log10 of each run's loss per epoch on one chart: a diverging loss would dwarf the others on a linear axis. */
    private static void curves(RunFolder run, String file, String title, List<Run> runs) throws java.io.IOException {
        List<Charts.Series> series = new ArrayList<>();
        for (Run r : runs) {
            double[] epochs = new double[r.loss().length], y = new double[r.loss().length];
            for (int e = 0; e < y.length; e++) {
                epochs[e] = e;
                y[e] = Math.log10(Math.min(r.loss()[e], 1e30));
            }
            series.add(new Charts.Series(String.format("%s (eta %.3g)", r.name(), r.eta()), epochs, y));
        }
        Charts.lines(run.file(file), title, "epoch", "log10 J (squared error)", series);
        run.wrote(file);
    }

    /** The points of each class and the line x·w + b = 0 where the perceptron's output changes sign. */
    private static void decisionBoundary(RunFolder run, Points data, double[] w) throws java.io.IOException {
        List<Charts.Series> points = new ArrayList<>();
        for (float cls : new float[] {1, -1}) {
            List<double[]> xy = new ArrayList<>();
            for (int i = 0; i < data.size(); i++) {
                if (data.t()[i] == cls) {
                    xy.add(new double[] {data.x()[2 * i], data.x()[2 * i + 1]});
                }
            }
            points.add(new Charts.Series("t = " + (int) cls, xy.stream().mapToDouble(p -> p[0]).toArray(),
                    xy.stream().mapToDouble(p -> p[1]).toArray()));
        }
        // x1 = -(w0 x0 + b) / w1 across the points' x0 range
        double lo = -3.5, hi = 3.5;
        Charts.Series line = new Charts.Series("x·w + b = 0", new double[] {lo, hi},
                new double[] {-(w[0] * lo + w[2]) / w[1], -(w[0] * hi + w[2]) / w[1]});
        Charts.scatter(run.file("decision-boundary.png"), "Perceptron decision boundary", "x0", "x1", points, List.of(line));
        run.wrote("decision-boundary.png");
    }

    private static double maxDifference(double[] a, double[] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }

    private static void shuffle(int[] idx, Random random) {
        for (int i = idx.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1), tmp = idx[i];
            idx[i] = idx[j];
            idx[j] = tmp;
        }
    }

    private static <T> List<T> concat(List<T> a, List<T> b) {
        List<T> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }
}
