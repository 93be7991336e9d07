package io.jdl.autograd;

import static io.jdl.autograd.GradCheck.awayFromZero;
import static io.jdl.autograd.GradCheck.check;
import static io.jdl.autograd.GradCheck.distinct;
import static io.jdl.autograd.GradCheck.randn;

import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Finite-difference checks of every op's backward on the CPU, on random shapes and values. */
class OpsGradCheckTest {
    private static final double EPS = 1e-2;
    private final Random rng = new Random(42);

    private int size(int lo, int hi) {
        return lo + rng.nextInt(hi - lo + 1);
    }

    private static Shape s(int... d) {
        return Shape.of(d);
    }

    @ParameterizedTest
    @CsvSource({"false,false", "true,false", "false,true", "true,true"})
    void matmul(boolean ta, boolean tb) {
        int m = size(2, 4), k = size(2, 5), n = size(2, 4);
        Shape a = ta ? s(k, m) : s(m, k), b = tb ? s(n, k) : s(k, n);
        check("matmul" + ta + tb, x -> x[0].matmul(x[1], ta, tb), EPS,
                new float[][] {randn(rng, m * k), randn(rng, k * n)}, a, b);
    }

    @Test
    void batchedMatmul() {
        int bt = 2, m = size(2, 3), k = size(2, 4), n = size(2, 3);
        check("bmm", x -> x[0].matmul(x[1], false, true), EPS,
                new float[][] {randn(rng, bt * m * k), randn(rng, bt * n * k)}, s(bt, m, k), s(bt, n, k));
    }

    @Test
    void linearWithAndWithoutBias() {
        int rows = size(2, 5), in = size(2, 5), out = size(2, 4);
        check("linear", x -> x[0].linear(x[1], x[2]), EPS,
                new float[][] {randn(rng, rows * in), randn(rng, out * in), randn(rng, out)}, s(rows, in), s(out, in), s(out));
        check("linear3d", x -> x[0].linear(x[1], null), EPS,
                new float[][] {randn(rng, 2 * rows * in), randn(rng, out * in)}, s(2, rows, in), s(out, in));
    }

    @Test
    void elementwise() {
        int n = size(3, 6), c = size(2, 4);
        float[][] v = {randn(rng, n * c), randn(rng, n * c)};
        check("add", x -> x[0].add(x[1]), EPS, v, s(n, c), s(n, c));
        check("sub", x -> x[0].sub(x[1]), EPS, v, s(n, c), s(n, c));
        check("mul", x -> x[0].mul(x[1]), EPS, v, s(n, c), s(n, c));
        check("scale", x -> x[0].scale(-1.7f), EPS, new float[][] {v[0]}, s(n, c));
        check("addBias", x -> x[0].addBias(x[1]), EPS, new float[][] {v[0], randn(rng, c)}, s(n, c), s(c));
        check("mulSelf", x -> x[0].mul(x[0]), EPS, new float[][] {v[0]}, s(n, c));
    }

    @Test
    void reductions() {
        int a = size(2, 3), b = size(2, 4), c = size(2, 3);
        float[][] v = {randn(rng, a * b * c)};
        check("sum", x -> x[0].sum(), EPS, v, s(a, b, c));
        check("mean", x -> x[0].mean(), EPS, v, s(a, b, c));
        for (int axis = 0; axis < 3; axis++) {
            int ax = axis;
            check("sum" + ax, x -> x[0].sum(ax), EPS, v, s(a, b, c));
            check("mean" + ax, x -> x[0].mean(ax), EPS, v, s(a, b, c));
        }
    }

    @Test
    void shapes() {
        int a = size(2, 3), b = size(2, 3), c = size(2, 4);
        float[][] v = {randn(rng, a * b * c)};
        check("reshape", x -> x[0].reshape(b, -1), EPS, v, s(a, b, c));
        check("flatten", x -> x[0].flatten(1), EPS, v, s(a, b, c));
        check("transpose", x -> x[0].transpose(0, 2), EPS, v, s(a, b, c));
        check("permute", x -> x[0].permute(1, 2, 0), EPS, v, s(a, b, c));
        check("permute4", x -> x[0].permute(0, 2, 3, 1), EPS, new float[][] {randn(rng, 2 * a * b * c)}, s(2, a, b, c));
        check("concat1", x -> Tensor.concat(1, x[0], x[1], x[2]), EPS,
                new float[][] {randn(rng, a * 2), randn(rng, a * 3), randn(rng, a)}, s(a, 2), s(a, 3), s(a, 1));
        check("concat0", x -> Tensor.concat(0, x[0], x[1]), EPS,
                new float[][] {randn(rng, 2 * b * c), randn(rng, b * c)}, s(2, b, c), s(1, b, c));
    }

    @Test
    void activations() {
        int n = size(8, 20);
        float[][] kinked = {awayFromZero(rng, n, 0.05)};
        float[][] smooth = {randn(rng, n)};
        check("relu", x -> x[0].relu(), EPS / 10, kinked, s(n));
        check("leakyRelu", x -> x[0].leakyRelu(0.1f), EPS / 10, kinked, s(n));
        check("sigmoid", x -> x[0].sigmoid(), EPS, smooth, s(n));
        check("tanh", x -> x[0].tanh(), EPS, smooth, s(n));
        check("gelu", x -> x[0].gelu(), EPS, smooth, s(n));
    }

    @Test
    void softmaxes() {
        int rows = size(2, 4), cols = size(3, 6);
        float[][] v = {randn(rng, rows * cols)};
        check("softmax", x -> x[0].softmax(), EPS, v, s(rows, cols));
        check("logSoftmax", x -> x[0].logSoftmax(), EPS, v, s(rows, cols));
    }

    @Test
    void losses() {
        int rows = size(3, 6), classes = size(3, 5);
        int[] targets = new int[rows];
        for (int i = 0; i < rows; i++) {
            targets[i] = rng.nextInt(classes);
        }
        targets[1] = -1;
        float[][] v = {randn(rng, rows * classes)};
        check("crossEntropy", x -> x[0].crossEntropy(targets, -1), EPS, v, s(rows, classes));
        check("crossEntropyScaled", x -> x[0].crossEntropy(targets, -1).scale(3f), EPS, v, s(rows, classes));
        check("mse", x -> x[0].mse(x[1]), EPS, new float[][] {v[0], randn(rng, rows * classes)}, s(rows, classes),
                s(rows, classes));
    }

    @ParameterizedTest
    @CsvSource({
        // n, c, h, w, k, kernel, stride, padding, dilation, groups, bias
        "2, 3, 5, 5, 4, 3, 1, 0, 1, 1, true",
        "1, 2, 6, 5, 3, 3, 2, 1, 1, 1, true",
        "2, 2, 7, 7, 2, 3, 1, 2, 2, 1, false",
        "1, 4, 5, 6, 6, 3, 2, 1, 1, 2, true",
        "2, 4, 4, 4, 4, 1, 1, 0, 1, 4, false",
        "1, 2, 6, 6, 2, 2, 3, 1, 2, 1, true",
    })
    void conv2d(int n, int c, int h, int w, int k, int kernel, int stride, int pad, int dil, int groups, boolean bias) {
        float[][] v = bias
                ? new float[][] {randn(rng, n * c * h * w), randn(rng, k * c / groups * kernel * kernel), randn(rng, k)}
                : new float[][] {randn(rng, n * c * h * w), randn(rng, k * c / groups * kernel * kernel)};
        Shape[] shapes = bias ? new Shape[] {s(n, c, h, w), s(k, c / groups, kernel, kernel), s(k)}
                : new Shape[] {s(n, c, h, w), s(k, c / groups, kernel, kernel)};
        check("conv2d", x -> x[0].conv2d(x[1], bias ? x[2] : null, stride, pad, dil, groups), EPS, v, shapes);
    }

    @ParameterizedTest
    @CsvSource({"2, 2, 0", "3, 2, 1", "3, 1, 1", "2, 1, 0"})
    void pooling(int kernel, int stride, int pad) {
        int n = 2, c = 2, h = size(4, 6), w = size(4, 6);
        float[][] v = {distinct(rng, n * c * h * w, 0.1)};
        check("maxPool", x -> x[0].maxPool2d(kernel, stride, pad), 1e-2, v, s(n, c, h, w));
        check("avgPool", x -> x[0].avgPool2d(kernel, stride, pad), EPS, new float[][] {randn(rng, n * c * h * w)},
                s(n, c, h, w));
    }

    @Test
    void batchNormTrainingAndEval() {
        int n = 3, c = 2, h = 3, w = 2;
        try (Tensor rm = Tensor.zeros(s(c), Device.CPU); Tensor rv = Tensor.full(s(c), 1f, Device.CPU);
             Tensor rm2 = Tensor.of(new float[] {0.3f, -0.2f}, s(c), Device.CPU);
             Tensor rv2 = Tensor.of(new float[] {0.5f, 2f}, s(c), Device.CPU)) {
            float[][] v = {randn(rng, n * c * h * w), randn(rng, c), randn(rng, c)};
            check("batchNorm4d", x -> x[0].batchNorm2d(x[1], x[2], rm, rv, true, 0.1f, 1e-5f), EPS, v,
                    s(n, c, h, w), s(c), s(c));
            check("batchNorm2d", x -> x[0].batchNorm2d(x[1], x[2], rm, rv, true, 0.1f, 1e-5f), EPS,
                    new float[][] {randn(rng, 5 * c), randn(rng, c), randn(rng, c)}, s(5, c), s(c), s(c));
            check("batchNormEval", x -> x[0].batchNorm2d(x[1], x[2], rm2, rv2, false, 0.1f, 1e-5f), EPS,
                    new float[][] {v[0], v[1], v[2]}, s(n, c, h, w), s(c), s(c));
        }
    }

    @Test
    void dropout() {
        int n = 40;
        check("dropout", x -> x[0].dropout(0.3f, 7, true), EPS, new float[][] {randn(rng, n)}, s(n));
        check("dropoutEval", x -> x[0].dropout(0.3f, 7, false), EPS, new float[][] {randn(rng, n)}, s(n));
    }

    @Test
    void composedGraphWithSharedInputs() {
        // x feeds two branches that meet again: gradients from both paths must add.
        int n = 3, d = 4;
        check("diamond", x -> {
            Tensor h = x[0].linear(x[1], null);
            return Tensor.concat(1, h.tanh(), h.sigmoid().mul(x[0])).logSoftmax();
        }, EPS, new float[][] {randn(rng, n * d), randn(rng, d * d)}, s(n, d), s(d, d));
    }
}
