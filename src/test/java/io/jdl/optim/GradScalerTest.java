package io.jdl.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.device.Device;
import io.jdl.tensor.OptimizerSteps;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import io.jdl.tensor.TensorScope;
import java.util.List;
import org.junit.jupiter.api.Test;

/** GradScaler against PyTorch's rules (torch/amp/grad_scaler.py), on the CPU. */
class GradScalerTest {

    /** loss = sum(w * x): the gradient of w is x, times the scale once scaled. */
    static float[] backward(GradScaler scaler, Tensor w, float[] x) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor loss = w.mul(Tensor.of(x, x.length).to(w.device())).sum();
            scaler.scale(loss).backward();
            return w.grad().toArray();
        }
    }

    static Tensor weight(Device device) {
        return TensorScope.unscoped(Tensor.of(new float[] {1, 2, 3, 4}, 4).to(device).requiresGrad(true));
    }

    @Test
    void scaledGradientsAreUnscaledExactlyAndTheStepUsesThem() {
        float[] x = {0.5f, -3f, 1e-3f, 7f};
        try (Tensor w = weight(Device.CPU); Sgd sgd = new Sgd(List.of(w), 0.1f); GradScaler scaler = new GradScaler()) {
            float[] scaled = backward(scaler, w, x);
            for (int i = 0; i < x.length; i++) {
                assertEquals(x[i] * 65536f, scaled[i]);
            }
            scaler.unscale(sgd);
            assertArrayEquals(x, w.grad().toArray(), "grads / scale (a power of two: exact)");
            assertTrue(scaler.step(sgd));
            assertArrayEquals(new float[] {1 - 0.1f * x[0], 2 - 0.1f * x[1], 3 - 0.1f * x[2], 4 - 0.1f * x[3]},
                    w.toArray());
            scaler.update();
            assertEquals(65536f, scaler.scale());
            assertEquals(1, scaler.state().growthTracker());
        }
    }

    @Test
    void anInfOrNaNGradientSkipsTheStepAndHalvesTheScale() {
        for (float bad : new float[] {Float.POSITIVE_INFINITY, Float.NaN}) {
            try (Tensor w = weight(Device.CPU); Adam adam = new Adam(List.of(w), 0.1f);
                 GradScaler scaler = new GradScaler(1024f, 2.0, 0.5, 3, true)) {
                backward(scaler, w, new float[] {1, 1, 1, 1});
                assertTrue(scaler.step(adam));
                scaler.update();
                float[] before = w.toArray();
                long stepsBefore = adam.counters().get("0.step");
                float[] momentBefore = adam.state().get("0.exp_avg").toArray();
                adam.zeroGrad();
                backward(scaler, w, new float[] {1, bad, 1, 1});
                assertFalse(scaler.step(adam), "a " + bad + " gradient skips the step");
                assertArrayEquals(before, w.toArray());
                assertEquals(stepsBefore, adam.counters().get("0.step"));
                assertArrayEquals(momentBefore, adam.state().get("0.exp_avg").toArray());
                scaler.update();
                assertEquals(512f, scaler.scale());
                assertEquals(0, scaler.state().growthTracker());
            }
        }
    }

    /** A float32 overflow in the scaled backward itself (scale 2^127 times gradients of 4) is caught the same way. */
    @Test
    void aScaleThatOverflowsTheBackwardBacksOffUntilItFits() {
        try (Tensor w = weight(Device.CPU); Sgd sgd = new Sgd(List.of(w), 0.1f);
             GradScaler scaler = new GradScaler(0x1p127f, 2.0, 0.5, 2000, true)) {
            int skipped = 0;
            while (true) {
                sgd.zeroGrad();
                backward(scaler, w, new float[] {4, 4, 4, 4});
                boolean stepped = scaler.step(sgd);
                scaler.update();
                if (stepped) {
                    break;
                }
                skipped++;
            }
            assertEquals(2, skipped, "4 * 2^127 and 4 * 2^126 overflow, 4 * 2^125 fits");
            assertEquals(0x1p125f, scaler.scale());
        }
    }

    @Test
    void theScaleGrowsAfterGrowthIntervalGoodStepsInARow() {
        try (Tensor w = weight(Device.CPU); Sgd sgd = new Sgd(List.of(w), 0f);
             GradScaler scaler = new GradScaler(8f, 4.0, 0.25, 3, true)) {
            float[] scales = new float[8];
            boolean[] bad = {false, false, true, false, false, false, false, false};
            for (int i = 0; i < scales.length; i++) {
                sgd.zeroGrad();
                backward(scaler, w, new float[] {1, bad[i] ? Float.NEGATIVE_INFINITY : 1, 1, 1});
                scaler.step(sgd);
                scaler.update();
                scales[i] = scaler.scale();
            }
            // two good steps, a bad one (x 0.25, count reset), three good ones (x 4), then counting again
            assertArrayEquals(new float[] {8, 8, 2, 2, 2, 8, 8, 8}, scales);
            assertEquals(2, scaler.state().growthTracker());
        }
    }

    @Test
    void growthThatWouldOverflowKeepsTheScale() {
        try (Tensor w = weight(Device.CPU); Sgd sgd = new Sgd(List.of(w), 0f);
             GradScaler scaler = new GradScaler(0x1p127f, 2.0, 0.5, 1, true)) {
            backward(scaler, w, new float[] {0, 0, 0, 0});
            assertTrue(scaler.step(sgd));
            scaler.update();
            assertEquals(0x1p127f, scaler.scale());
            assertEquals(0, scaler.state().growthTracker());
        }
    }

    @Test
    void misuseIsAnErrorAsInPyTorch() {
        try (Tensor w = weight(Device.CPU); Sgd sgd = new Sgd(List.of(w), 0.1f); GradScaler scaler = new GradScaler()) {
            assertThrows(IllegalStateException.class, scaler::update, "update before any check");
            IllegalStateException unscaled = assertThrows(IllegalStateException.class, () -> scaler.step(sgd));
            assertTrue(unscaled.getMessage().contains("without scale(loss)"), unscaled.getMessage());
            try (TensorScope scope = TensorScope.open()) {
                scaler.scale(w.sum()); // scaled, but no backward: no parameter has a gradient
            }
            IllegalStateException noGrad = assertThrows(IllegalStateException.class, () -> scaler.step(sgd));
            assertTrue(noGrad.getMessage().contains("no inf checks"), noGrad.getMessage());
            scaler.update(1024f); // a fixed scale ends the iteration too
            try (TensorScope scope = TensorScope.open()) {
                w.sum().backward(); // a backward without the scaler
            }
            assertThrows(IllegalStateException.class, () -> scaler.unscale(sgd), "gradients that were never scaled");
            sgd.zeroGrad();
            backward(scaler, w, new float[] {1, 1, 1, 1});
            scaler.unscale(sgd);
            assertTrue(assertThrows(IllegalStateException.class, () -> scaler.unscale(sgd)).getMessage()
                    .contains("already been called"));
            scaler.step(sgd);
            assertTrue(assertThrows(IllegalStateException.class, () -> scaler.unscale(sgd)).getMessage()
                    .contains("after step()"));
            assertTrue(assertThrows(IllegalStateException.class, () -> scaler.step(sgd)).getMessage()
                    .contains("already been called"));
            scaler.update();
            assertThrows(IllegalArgumentException.class, () -> scaler.scale(null));
            assertThrows(IllegalArgumentException.class, () -> scaler.step(null));
            assertThrows(IllegalArgumentException.class, () -> scaler.update(Float.NaN));
        }
        assertThrows(IllegalArgumentException.class, () -> new GradScaler(0f, 2, 0.5, 10, true));
        assertThrows(IllegalArgumentException.class, () -> new GradScaler(1f, 1, 0.5, 10, true));
        assertThrows(IllegalArgumentException.class, () -> new GradScaler(1f, 2, 1, 10, true));
        assertThrows(IllegalArgumentException.class, () -> new GradScaler(1f, 2, 0.5, 0, true));
    }

    @Test
    void disabledItPassesThrough() {
        try (Tensor w = weight(Device.CPU); Sgd sgd = new Sgd(List.of(w), 1f);
             GradScaler scaler = new GradScaler(1024f, 2, 0.5, 10, false)) {
            try (TensorScope scope = TensorScope.open()) {
                Tensor loss = w.sum();
                assertSame(loss, scaler.scale(loss));
                loss.backward();
            }
            scaler.unscale(sgd);
            assertArrayEquals(new float[] {1, 1, 1, 1}, w.grad().toArray());
            assertTrue(scaler.step(sgd));
            scaler.update();
            assertArrayEquals(new float[] {0, 1, 2, 3}, w.toArray());
            assertEquals(1f, scaler.scale());
        }
    }

    /** The primitive: grads times invScale, the flag only ever set, never cleared. */
    @Test
    void ampUnscaleSetsTheFlagOnlyForNonFiniteValues() {
        try (TensorScope scope = TensorScope.open()) {
            Tensor flag = Tensor.zeros(Shape.of(), Device.CPU);
            Tensor g = Tensor.of(new float[] {2, -4, 8}, 3);
            OptimizerSteps.ampUnscale(g, 0.5f, flag);
            assertArrayEquals(new float[] {1, -2, 4}, g.toArray());
            assertEquals(0f, flag.item());
            Tensor h = Tensor.of(new float[] {1, Float.NaN}, 2);
            OptimizerSteps.ampUnscale(h, 0.5f, flag);
            assertEquals(1f, flag.item());
            OptimizerSteps.ampUnscale(g, 1f, flag);
            assertEquals(1f, flag.item(), "a later finite gradient does not clear it");
            assertArrayEquals(new float[] {1, -2, 4}, g.toArray());
            assertThrows(IllegalArgumentException.class, () -> OptimizerSteps.ampUnscale(g, 0.5f, g));
            assertThrows(IllegalArgumentException.class, () -> OptimizerSteps.ampUnscale(g, Float.POSITIVE_INFINITY, flag));
        }
    }
}
