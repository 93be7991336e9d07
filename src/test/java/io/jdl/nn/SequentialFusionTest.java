package io.jdl.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.jdl.autograd.GradCheck;
import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Sequential runs a Linear or Conv2d directly followed by an activation module as one fused layer: the output and
 * every parameter gradient equal, bit for bit, running the modules one after another.
 */
class SequentialFusionTest {

    private static Sequential cnn(long seed) {
        Random rng = new Random(seed);
        return new Sequential(new Conv2d(2, 4, 3, 1, rng), Activations.relu(), Pool2d.max(2),
                new Conv2d(4, 4, 3, 1, 1, 1, 1, false, rng), Activations.leakyRelu(0.1f), Activations.flatten(),
                new Linear(4 * 4 * 4, 16, rng), Activations.gelu(), new Linear(16, 8, rng), Activations.tanh(),
                new Linear(8, 8, rng), Activations.sigmoid(), new Linear(8, 3, rng));
    }

    /** The output, then each parameter's gradient, after backward of sum(out²). */
    private static List<float[]> step(Sequential net, Tensor x, boolean fused) {
        Tensor out;
        if (fused) {
            out = net.forward(x);
        } else {
            out = x;
            for (int i = 0; i < net.size(); i++) {
                out = net.get(i).forward(out);
            }
        }
        List<float[]> r = new ArrayList<>();
        try (Tensor loss = out.mul(out).sum()) {
            r.add(out.toArray());
            loss.backward();
        } finally {
            out.close();
        }
        for (Tensor p : net.parameters()) {
            r.add(p.grad().toArray());
            p.zeroGrad();
        }
        return r;
    }

    @Test
    void fusedLayersEqualTheModulesOneByOne() {
        try (Sequential net = cnn(5);
             Tensor x = Tensor.of(GradCheck.randn(new Random(6), 3 * 2 * 8 * 8), Shape.of(3, 2, 8, 8), Device.CPU)) {
            List<float[]> fused = step(net, x, true), unfused = step(net, x, false);
            assertEquals(unfused.size(), fused.size());
            for (int i = 0; i < fused.size(); i++) {
                assertArrayEquals(unfused.get(i), fused.get(i), "output / gradient " + i);
            }
        }
    }

    @Test
    void aClosedActivationModuleIsStillReported() {
        Random rng = new Random(7);
        Module relu = Activations.relu();
        try (Sequential net = new Sequential(new Linear(3, 2, rng), relu);
             Tensor x = Tensor.of(new float[6], Shape.of(2, 3), Device.CPU)) {
            relu.close();
            assertThrows(IllegalStateException.class, () -> net.forward(x));
        }
    }
}
