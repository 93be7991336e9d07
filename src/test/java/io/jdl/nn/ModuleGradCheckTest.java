package io.jdl.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.autograd.Autograd;
import io.jdl.autograd.GradCheck;
import io.jdl.autograd.NoGrad;
import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Finite-difference checks of every module's gradients, for its input and each parameter. */
class ModuleGradCheckTest {
    private static final double EPS = 1e-2;

    /** Checks d(Σ module(x)·R) with respect to x and every parameter (perturbed in place). */
    static void checkModule(String name, Module m, float[] input, Shape shape) {
        Random rng = new Random(name.hashCode());
        List<Tensor> targets = new ArrayList<>(m.parameters());
        double diff2 = 0, a2 = 0, n2 = 0;
        try (Tensor x = Tensor.of(input, shape, Device.CPU).requiresGrad(true)) {
            targets.add(0, x);
            float[] r;
            Tensor out = m.forward(x);
            r = GradCheck.randn(rng, Math.toIntExact(out.numel()));
            try (Tensor rt = Tensor.of(r, out.shape(), Device.CPU); Tensor prod = out.mul(rt); Tensor loss = prod.sum()) {
                loss.backward();
            }
            out.close();
            try (NoGrad ignored = Autograd.noGrad()) {
                for (Tensor t : targets) {
                    float[] analytic = t.grad().toArray();
                    float[] values = t.toArray();
                    for (int j = 0; j < values.length; j++) {
                        float x0 = values[j];
                        float up = (float) (x0 + EPS), down = (float) (x0 - EPS);
                        values[j] = up;
                        double lUp = eval(m, x, t, values, r);
                        values[j] = down;
                        double lDown = eval(m, x, t, values, r);
                        values[j] = x0;
                        set(t, values);
                        double numeric = (lUp - lDown) / ((double) up - down);
                        diff2 += (numeric - analytic[j]) * (numeric - analytic[j]);
                        a2 += (double) analytic[j] * analytic[j];
                        n2 += numeric * numeric;
                    }
                }
            }
        }
        m.zeroGrad();
        double err = Math.sqrt(diff2) / Math.max(1e-12, Math.max(Math.sqrt(a2), Math.sqrt(n2)));
        assertTrue(err < GradCheck.TOLERANCE, name + ": relative gradient error " + err);
    }

    private static void set(Tensor t, float[] values) {
        try (Tensor v = Tensor.of(values, t.shape(), t.device())) {
            t.copyFrom(v);
        }
    }

    private static double eval(Module m, Tensor x, Tensor target, float[] values, float[] r) {
        set(target, values);
        try (Tensor out = m.forward(x)) {
            float[] o = out.toArray();
            double l = 0;
            for (int j = 0; j < o.length; j++) {
                l += (double) o[j] * r[j];
            }
            return l;
        }
    }

    private final Random rng = new Random(7);

    @Test
    void linear() {
        try (Linear l = new Linear(4, 3, rng)) {
            checkModule("Linear", l, GradCheck.randn(rng, 5 * 4), Shape.of(5, 4));
        }
    }

    @Test
    void conv2dWithGroupsStrideDilation() {
        try (Conv2d c = new Conv2d(4, 4, 3, 2, 2, 2, 2, true, rng)) {
            checkModule("Conv2d", c, GradCheck.randn(rng, 2 * 4 * 7 * 7), Shape.of(2, 4, 7, 7));
        }
    }

    @Test
    void batchNormTrainAndEval() {
        try (BatchNorm2d bn = new BatchNorm2d(3)) {
            checkModule("BatchNorm2d", bn, GradCheck.randn(rng, 4 * 3 * 2 * 2), Shape.of(4, 3, 2, 2));
            bn.eval();
            checkModule("BatchNorm2d.eval", bn, GradCheck.randn(rng, 4 * 3 * 2 * 2), Shape.of(4, 3, 2, 2));
        }
    }

    @Test
    void mlpWithEveryActivation() {
        try (Sequential s = new Sequential(new Linear(3, 5, rng), Activations.tanh(), new Linear(5, 5, rng),
                Activations.gelu(), new Linear(5, 5, rng), Activations.sigmoid(), new Linear(5, 4, rng),
                Activations.logSoftmax())) {
            checkModule("MLP", s, GradCheck.randn(rng, 6 * 3), Shape.of(6, 3));
        }
        try (Sequential s = Mlp.of(rng, Activations::gelu, 3, 6, 2)) {
            checkModule("Mlp.of", s, GradCheck.randn(rng, 4 * 3), Shape.of(4, 3));
        }
    }

    @Test
    void smallCnnWithResidualPoolingFlatten() {
        // (Dropout draws a new mask per call, so it is checked at the op level, with a fixed seed.)
        // Tanh instead of relu keeps the finite differences away from kinks.
        try (Sequential s = new Sequential(new Conv2d(2, 4, 3, 1, rng), new BatchNorm2d(4), Activations.tanh(),
                new Residual(new Sequential(new Conv2d(4, 4, 3, 1, rng), Activations.tanh())), Pool2d.avg(2),
                Activations.flatten(), new Linear(4 * 3 * 3, 3, rng), Activations.softmax())) {
            checkModule("CNN", s, GradCheck.randn(rng, 2 * 2 * 6 * 6), Shape.of(2, 2, 6, 6));
        }
        try (Sequential s = new Sequential(new Conv2d(1, 2, 3, 1, rng), Pool2d.max(3, 2, 1), Activations.flatten())) {
            checkModule("MaxPoolNet", s, GradCheck.distinct(rng, 2 * 1 * 5 * 5, 0.37), Shape.of(2, 1, 5, 5));
        }
    }
}
