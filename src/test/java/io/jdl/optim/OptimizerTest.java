package io.jdl.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** Update rules against PyTorch's formulas, and convergence on a convex problem. */
class OptimizerTest {

    private static void setGrad(Tensor p, float... g) {
        p.zeroGrad();
        try (Tensor gt = Tensor.of(g, g.length); Tensor loss = p.mul(gt).sum()) {
            loss.backward();
        }
    }

    @Test
    void sgdMomentumNesterovWeightDecay() {
        try (Tensor p = Tensor.of(new float[] {1, -2}, 2).requiresGrad(true);
             Sgd sgd = new Sgd(List.of(p), 0.1f, 0.9f, 0f, 0.01f, true)) {
            setGrad(p, 0.5f, 1f);
            sgd.step();
            // g = grad + wd·p; buf = g; update = g + 0.9·buf = 1.9·g
            float g0 = 0.5f + 0.01f, g1 = 1f - 0.02f;
            float p0 = 1 - 0.1f * 1.9f * g0, p1 = -2 - 0.1f * 1.9f * g1;
            assertArrayEquals(new float[] {p0, p1}, p.toArray(), 1e-6f);
            setGrad(p, 0.5f, 1f);
            sgd.step();
            float h0 = 0.5f + 0.01f * p0, buf0 = 0.9f * g0 + h0;
            assertEquals(p0 - 0.1f * (h0 + 0.9f * buf0), p.toArray()[0], 1e-6f);
        }
    }

    @Test
    void plainSgdAndDampenedMomentum() {
        try (Tensor p = Tensor.of(new float[] {1}, 1).requiresGrad(true);
             Sgd sgd = new Sgd(List.of(p), 0.5f, 0.5f, 0.5f, 0f, false)) {
            setGrad(p, 2f);
            sgd.step(); // buf = 2, p = 1 - 0.5·2 = 0
            setGrad(p, 2f);
            sgd.step(); // buf = 0.5·2 + 0.5·2 = 2, p = 0 - 1 = -1
            assertEquals(-1f, p.item(), 1e-6f);
        }
    }

    @Test
    void adamFirstStepMovesByLrTimesSign() {
        try (Tensor p = Tensor.of(new float[] {1, 1}, 2).requiresGrad(true);
             Adam adam = new Adam(List.of(p), 0.1f)) {
            setGrad(p, 3f, -0.01f);
            adam.step();
            assertArrayEquals(new float[] {0.9f, 1.1f}, p.toArray(), 1e-5f);
        }
        try (Tensor p = Tensor.of(new float[] {2}, 1).requiresGrad(true);
             Adam adamW = Adam.adamW(List.of(p), 0.1f, 0.5f)) {
            setGrad(p, 1f);
            adamW.step(); // p·(1 - 0.05) - 0.1
            assertEquals(2 * 0.95f - 0.1f, p.item(), 1e-5f);
        }
    }

    /**
     * PyTorch keeps Adam's step per parameter: b, without a gradient in step 1, gets the bias correction of a
     * first step in step 2 and moves by exactly lr (torch gives b = 0.9; one shared counter gave 0.9256).
     */
    @Test
    void adamStepCountsPerParameter() {
        try (Tensor a = Tensor.of(new float[] {1}, 1).requiresGrad(true);
             Tensor b = Tensor.of(new float[] {1}, 1).requiresGrad(true);
             Adam adam = new Adam(List.of(a, b), 0.1f)) {
            setGrad(a, 1f);
            b.zeroGrad();
            adam.step();
            assertEquals(0.9f, a.item(), 1e-6f);
            assertEquals(1f, b.item());
            setGrad(a, 1f);
            setGrad(b, 1f);
            adam.step();
            assertEquals(0.9f, b.item(), 1e-6f);
            assertEquals(0.8f, a.item(), 1e-6f);
            assertEquals(java.util.Map.of("0.step", 2L, "1.step", 1L), adam.counters());
        }
    }

    @Test
    void hyperParametersAreChecked() {
        try (Tensor p = Tensor.of(new float[] {1}, 1).requiresGrad(true)) {
            List<Tensor> ps = List.of(p);
            assertThrowsNaming("lr", () -> new Adam(ps, Float.NaN));
            assertThrowsNaming("lr", () -> new Sgd(ps, Float.POSITIVE_INFINITY));
            assertThrowsNaming("eps", () -> new Adam(ps, 0.1f, 0.9f, 0.999f, -1e-8f, 0f, false));
            assertThrowsNaming("beta2", () -> new Adam(ps, 0.1f, 0.9f, 1f, 1e-8f, 0f, false));
            assertThrowsNaming("weightDecay", () -> new Adam(ps, 0.1f, 0.9f, 0.999f, 1e-8f, Float.NaN, true));
            assertThrowsNaming("momentum", () -> new Sgd(ps, 0.1f, -0.5f));
            assertThrowsNaming("weightDecay", () -> new Sgd(ps, 0.1f, 0.9f, 0f, -1f, false));
            assertThrowsNaming("dampening", () -> new Sgd(ps, 0.1f, 0.9f, Float.NaN, 0f, false));
            try (Sgd sgd = new Sgd(ps, 0.1f)) {
                assertThrowsNaming("lr", () -> sgd.setLr(Float.NaN));
            }
            assertThrowsNaming("lr", () -> Sgd.builder().momentum(0.9f).build(ps));
            assertThrowsNaming("beta1", () -> Adam.builder().betas(1.5f, 0.9f).build(ps));
        }
    }

    private static void assertThrowsNaming(String name, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().startsWith(name + " "), e.getMessage());
    }

    /** State saved mid-run and loaded into a fresh optimizer continues bit-identically. */
    @Test
    void stateRoundTripContinuesExactly() {
        List<Function<List<Tensor>, Optimizer>> makers = List.of(p -> new Sgd(p, 0.1f, 0.9f, 0f, 0.01f, true),
                p -> Adam.adamW(p, 0.05f, 0.1f));
        for (Function<List<Tensor>, Optimizer> make : makers) {
            try (Tensor a = Tensor.of(new float[] {1, 2}, 2).requiresGrad(true);
                 Tensor b = Tensor.of(new float[] {-1}, 1).requiresGrad(true);
                 Tensor a2 = Tensor.of(new float[] {1, 2}, 2).requiresGrad(true);
                 Tensor b2 = Tensor.of(new float[] {-1}, 1).requiresGrad(true);
                 Optimizer one = make.apply(List.of(a, b));
                 Optimizer first = make.apply(List.of(a2, b2))) {
                for (int s = 0; s < 3; s++) {
                    setGrad(a, 0.3f * s + 0.1f, -0.2f);
                    setGrad(a2, 0.3f * s + 0.1f, -0.2f);
                    if (s != 1) {
                        setGrad(b, 0.7f);
                        setGrad(b2, 0.7f);
                    } else {
                        b.zeroGrad();
                        b2.zeroGrad();
                    }
                    one.step();
                    first.step();
                }
                try (Optimizer second = make.apply(List.of(a2, b2))) {
                    second.loadState(first.state(), first.counters());
                    first.close();
                    for (int s = 0; s < 2; s++) {
                        setGrad(a, 0.5f, 0.25f * s);
                        setGrad(a2, 0.5f, 0.25f * s);
                        setGrad(b, -0.4f);
                        setGrad(b2, -0.4f);
                        one.step();
                        second.step();
                    }
                    assertArrayEquals(a.toArray(), a2.toArray(), 0f);
                    assertArrayEquals(b.toArray(), b2.toArray(), 0f);
                    assertEquals(one.counters(), second.counters());
                }
            }
        }
    }

    @Test
    void loadStateRejectsWrongEntries() {
        try (Tensor p = Tensor.of(new float[] {1, 2}, 2).requiresGrad(true);
             Tensor wrong = Tensor.zeros(Shape.of(3), Device.CPU);
             Tensor right = Tensor.zeros(Shape.of(2), Device.CPU);
             Adam adam = new Adam(List.of(p), 0.1f)) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> adam.loadState(java.util.Map.of("0.exp_avg", wrong, "0.exp_avg_sq", right),
                            java.util.Map.of("0.step", 1L)));
            assertTrue(e.getMessage().contains("0.exp_avg") && e.getMessage().contains("shape"), e.getMessage());
            e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> adam.loadState(java.util.Map.of("1.exp_avg", right), java.util.Map.of()));
            assertTrue(e.getMessage().contains("'1.exp_avg'"), e.getMessage());
            e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> adam.loadState(java.util.Map.of("0.exp_avg", right, "0.exp_avg_sq", right), java.util.Map.of()));
            assertTrue(e.getMessage().contains("step counts"), e.getMessage());
            assertTrue(adam.state().isEmpty());
        }
    }

    @Test
    void schedules() {
        LrSchedule step = LrSchedule.step(1f, 10, 0.1f);
        assertEquals(1f, step.lr(9), 1e-7f);
        assertEquals(0.1f, step.lr(10), 1e-7f);
        assertEquals(0.01f, step.lr(25), 1e-7f);
        LrSchedule cos = LrSchedule.cosine(1f, 100, 0f);
        assertEquals(1f, cos.lr(0), 1e-7f);
        assertEquals(0.5f, cos.lr(50), 1e-6f);
        assertEquals(0f, cos.lr(100), 1e-7f);
        assertEquals(0f, cos.lr(150), 1e-7f);
    }

    /** Least squares y = X·w* : every optimizer must cut the loss by orders of magnitude. */
    @Test
    void everyOptimizerSolvesAConvexProblem() {
        Random rng = new Random(9);
        int n = 64, d = 5;
        float[] xs = new float[n * d], ys = new float[n], w = {1, -2, 0.5f, 3, -1};
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                xs[i * d + j] = (float) rng.nextGaussian();
                ys[i] += xs[i * d + j] * w[j];
            }
        }
        List<Function<List<Tensor>, Optimizer>> makers = List.of(
                p -> new Sgd(p, 0.05f),
                p -> new Sgd(p, 0.02f, 0.9f),
                p -> new Sgd(p, 0.02f, 0.9f, 0f, 0f, true),
                p -> new Adam(p, 0.05f),
                p -> Adam.adamW(p, 0.05f, 1e-4f),
                p -> Adam.builder().lr(0.05f).betas(0.8f, 0.99f).weightDecay(1e-4f).decoupled(true).build(p),
                p -> Sgd.builder().lr(0.02f).momentum(0.9f).dampening(0.1f).build(p));
        try (Tensor x = Tensor.of(xs, Shape.of(n, d), Device.CPU); Tensor y = Tensor.of(ys, Shape.of(n, 1), Device.CPU)) {
            for (Function<List<Tensor>, Optimizer> make : makers) {
                try (Tensor weight = Tensor.zeros(Shape.of(1, d), Device.CPU).requiresGrad(true);
                     Optimizer opt = make.apply(List.of(weight))) {
                    float first = 0, last = 0;
                    for (int i = 0; i < 300; i++) {
                        opt.zeroGrad();
                        try (Tensor loss = x.linear(weight, null).mse(y)) {
                            loss.backward();
                            last = loss.item();
                            if (i == 0) {
                                first = last;
                            }
                        }
                        opt.step();
                    }
                    assertTrue(last < 1e-3f * first, opt.getClass().getSimpleName() + ": loss " + first + " -> " + last);
                }
            }
        }
    }
}
