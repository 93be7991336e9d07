package io.jdl.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.autograd.Autograd;
import io.jdl.autograd.NoGrad;
import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Names, modes, state dicts and initialisation. */
class ModuleTest {

    /** A model with named children, like a PyTorch class with fc1/fc2 attributes. */
    static final class Net extends Module {
        final Linear fc1, fc2;
        final BatchNorm2d bn;

        Net(Random rng) {
            fc1 = registerModule("fc1", new Linear(4, 3, rng));
            bn = registerModule("bn", new BatchNorm2d(3));
            fc2 = registerModule("fc2", new Linear(3, 2, rng));
        }

        @Override
        protected Tensor compute(Tensor x) {
            return fc2.forward(bn.forward(fc1.forward(x)).relu());
        }
    }

    @Test
    void stateDictUsesPytorchNames() {
        try (Net net = new Net(new Random(1)); Sequential seq = Mlp.of(new Random(1), Activations::relu, 4, 8, 2)) {
            assertEquals(List.of("fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                    "bn.num_batches_tracked",
                    "fc2.weight", "fc2.bias"), List.copyOf(net.stateDict().keySet()));
            assertEquals(List.of("0.weight", "0.bias", "2.weight", "2.bias"), List.copyOf(seq.namedParameters().keySet()));
            assertEquals(Shape.of(8, 4), seq.namedParameters().get("0.weight").shape());
        }
    }

    @Test
    void loadStateDictCopiesValuesAndRejectsMismatches() {
        try (Net a = new Net(new Random(1)); Net b = new Net(new Random(2))) {
            b.loadStateDict(a.stateDict());
            for (Map.Entry<String, Tensor> e : a.stateDict().entrySet()) {
                assertArrayEquals(e.getValue().toArray(), b.stateDict().get(e.getKey()).toArray(), 0f, e.getKey());
            }
            try (Tensor wrong = Tensor.zeros(Shape.of(2, 2), Device.CPU)) {
                Map<String, Tensor> bad = new java.util.LinkedHashMap<>(a.stateDict());
                bad.put("fc1.weight", wrong);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.loadStateDict(bad));
                assertTrue(e.getMessage().contains("fc1.weight") && e.getMessage().contains("[2, 2]"), e.getMessage());
            }
        }
    }

    @Test
    void trainEvalPropagatesAndChangesBehaviour() {
        try (Sequential s = new Sequential(new Dropout(0.5f, 1), new Linear(3, 3, new Random(1)));
             Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3)) {
            s.eval();
            assertFalse(s.get(0).isTraining());
            try (NoGrad ignored = Autograd.noGrad(); Tensor a = s.forward(x); Tensor b = s.forward(x)) {
                assertArrayEquals(a.toArray(), b.toArray(), 0f);
            }
            s.train(true);
            assertTrue(s.get(1).isTraining());
        }
    }

    @Test
    void initialisationIsSeededAndScaled() {
        try (Linear a = new Linear(100, 50, new Random(3)); Linear b = new Linear(100, 50, new Random(3))) {
            float[] wa = a.namedParameters().get("weight").toArray();
            assertArrayEquals(wa, b.namedParameters().get("weight").toArray(), 0f);
            double bound = Math.sqrt(6.0 / 100), max = 0, sq = 0;
            for (float v : wa) {
                max = Math.max(max, Math.abs(v));
                sq += v * v;
            }
            assertTrue(max <= bound, "Kaiming-uniform bound");
            assertEquals(bound * bound / 3, sq / wa.length, 0.1 * bound * bound / 3);
        }
        try (Tensor t = Init.xavierNormal(new Random(4), Shape.of(200, 100), 100, 200)) {
            double sq = 0;
            for (float v : t.toArray()) {
                sq += v * v;
            }
            assertEquals(2.0 / 300, sq / t.numel(), 0.1 * 2.0 / 300);
        }
    }

    @Test
    void noGradForwardLeavesNothingBehind() {
        try (Sequential s = Mlp.of(new Random(1), Activations::relu, 3, 4, 4, 2);
             Tensor x = Tensor.of(new float[] {1, 2, 3}, 1, 3)) {
            try (NoGrad ignored = Autograd.noGrad(); Tensor y = s.forward(x)) {
                assertFalse(y.needsGrad());
                assertEquals(Shape.of(1, 2), y.shape());
            }
        }
    }

    @Test
    void residualNeedsMatchingShapes() {
        try (Residual r = new Residual(new Linear(3, 2, new Random(1))); Tensor x = Tensor.of(new float[3], 1, 3)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> r.forward(x));
            assertTrue(e.getMessage().contains("[1, 3]") && e.getMessage().contains("[1, 2]"), e.getMessage());
        }
    }
}
