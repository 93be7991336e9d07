package io.jdl.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Closed modules, partial state dicts and non-integer token ids fail clearly and change nothing. */
class ModuleMisuseTest {

    @Test
    void aClosedModuleThrowsNamingIt() {
        Random rng = new Random(1);
        List<Module> modules = List.of(new LayerNorm(4), new Linear(4, 4, rng), new Conv2d(1, 1, 3, 1, rng),
                new Embedding(5, 4, rng));
        try (Tensor x = Tensor.of(new float[16], Shape.of(1, 1, 4, 4), Device.CPU)) {
            for (Module m : modules) {
                m.close();
                var e = assertThrows(IllegalStateException.class, () -> m.forward(x));
                assertTrue(e.getMessage().contains(m.getClass().getSimpleName()) && e.getMessage().contains("closed"),
                        e.getMessage());
            }
        }
    }

    @Test
    void loadStateDictChangesNothingWhenAnEntryIsBad() {
        Random rng = new Random(2);
        try (Linear target = new Linear(3, 2, rng); Linear source = new Linear(3, 2, rng)) {
            float[] weightBefore = target.namedParameters().get("weight").toArray();
            Map<String, Tensor> state = new HashMap<>(source.stateDict());
            Tensor closedBias = Tensor.of(new float[2], 2);
            closedBias.close();
            state.put("bias", closedBias);
            var e = assertThrows(IllegalArgumentException.class, () -> target.loadStateDict(state));
            assertTrue(e.getMessage().contains("bias"), e.getMessage());
            assertArrayEquals(weightBefore, target.namedParameters().get("weight").toArray());
        }
    }

    @Test
    void transformerRejectsIdsThatAreNotWholeNumbers() {
        var cfg = new Transformer.Config(10, 8, 8, 2, 1, 0f, false);
        try (Transformer m = Transformer.causalLm(cfg, new Random(3));
             Tensor frac = Tensor.of(new float[] {1, 2.7f}, 1, 2); Tensor nan = Tensor.of(new float[] {Float.NaN, 1}, 1, 2)) {
            var e = assertThrows(IllegalArgumentException.class, () -> m.forward(frac));
            assertTrue(e.getMessage().contains("2.7"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> m.forward(nan));
            assertTrue(e.getMessage().contains("NaN"), e.getMessage());
        }
    }
}
