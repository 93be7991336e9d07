package io.jdl.optim;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.nn.Linear;
import io.jdl.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** An optimizer whose parameters were replaced says so instead of silently skipping them. */
class OptimizerMisuseTest {
    @Test
    void closedParametersAreAClearError() {
        Linear layer = new Linear(3, 2, new Random(0));
        try (Adam adam = new Adam(layer.parameters(), 1e-3f); Sgd sgd = new Sgd(layer.parameters(), 0.1f)) {
            layer.close(); // what Module.to(device) does to the old parameters
            IllegalStateException e = assertThrows(IllegalStateException.class, adam::step);
            assertTrue(e.getMessage().contains("after moving the model"), e.getMessage());
            assertThrows(IllegalStateException.class, sgd::step);
        }
    }

    @Test
    void openParametersStillStep() {
        try (Linear layer = new Linear(3, 2, new Random(0)); Sgd sgd = new Sgd(layer.parameters(), 0.1f);
             Tensor x = Tensor.of(new float[] {1, 2, 3}, 1, 3); Tensor loss = layer.forward(x).sum()) {
            loss.backward();
            sgd.step();
        }
    }
}
