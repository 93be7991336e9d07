package io.jdl.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.device.Device;
import io.jdl.nn.Activations;
import io.jdl.nn.Linear;
import io.jdl.nn.Sequential;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Closing an input that a recorded op still reads defers the free to the graph, so backward stays correct. */
class DeferredCloseTest {

    @Test
    void closingAnInputTheGraphSavedDefersItsFree() {
        try (Tensor w = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3).requiresGrad(true);
             Tensor raw = Tensor.of(new float[] {1, 0, 2, 0, 1, 1}, 1, 6)) {
            Tensor x = raw.reshape(2, 3);           // no gradient needed, but linear keeps it for dW
            Tensor y = x.linear(w, null);
            x.close();                              // the caller is done with it
            assertTrue(x.isClosed());
            assertThrows(IllegalStateException.class, x::toArray, "closed for the caller at once");
            assertThrows(IllegalStateException.class, x::close, "and only once");
            try (Tensor loss = y.sum()) {
                loss.backward();                    // dW = dYᵀ·X still reads x's values
            }
            // dY is all ones: dW[o][i] = Σ_rows x[r][i] = [1+0, 0+1, 2+1] for both outputs
            assertArrayEquals(new float[] {1, 1, 3, 1, 1, 3}, w.grad().toArray());
        }
    }

    @Test
    void sequentialWithFlattenFirstTrains() {
        Random rng = new Random(0);
        try (Sequential net = new Sequential(Activations.flatten(), new Linear(4, 2, rng));
             Tensor images = Tensor.randn(rng, Shape.of(3, 1, 2, 2), Device.CPU);
             Tensor loss = net.forward(images).crossEntropy(new int[] {0, 1, 0})) {
            loss.backward();
            for (Tensor p : net.parameters()) {
                assertTrue(p.grad() != null && Float.isFinite(p.grad().sum().item()));
            }
        }
    }
}
