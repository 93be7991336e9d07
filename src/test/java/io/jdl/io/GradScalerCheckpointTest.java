package io.jdl.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.nn.Sequential;
import io.jdl.optim.Adam;
import io.jdl.optim.GradScaler;
import io.jdl.tensor.Tensor;
import io.jdl.tensor.TensorScope;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A GradScaler's state travels in the training checkpoint (PyTorch's state_dict keys) and comes back exactly. */
class GradScalerCheckpointTest {

    /** Steps with a scaler starting at 2^127: the first scaled backwards overflow float32 and back the scale off. */
    private static void train(Sequential model, Adam adam, GradScaler scaler, int steps) {
        for (int s = 0; s < steps; s++) {
            adam.zeroGrad();
            try (TensorScope scope = TensorScope.open()) {
                float[] x = new float[2 * 16];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (i % 7 - 3) * 0.5f;
                }
                Tensor loss = model.forward(Tensor.of(x, 2, 16)).crossEntropy(new int[] {0, 2});
                scaler.scale(loss).backward();
            }
            scaler.step(adam);
            scaler.update();
        }
    }

    @Test
    void theScalerStateRoundTripsThroughTheCheckpoint(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("state.safetensors");
        GradScaler.State saved;
        try (Sequential model = CheckpointTest.model(1); Adam adam = new Adam(model.parameters(), 0.01f);
             GradScaler scaler = new GradScaler(0x1p127f, 3.0, 0.25, 50, true)) {
            train(model, adam, scaler, 6);
            saved = scaler.state();
            assertTrue(saved.scale() <= 0x1p125f, "backed off at least once: " + saved.scale());
            assertTrue(saved.growthTracker() > 0, "good steps since: " + saved.growthTracker());
            Checkpoint.save(file, model, adam, scaler, new Checkpoint.Progress(0, 4, 4), Map.of());
        }
        Map<String, String> meta = Safetensors.read(file).metadata();
        assertEquals("3.0", meta.get("jdl.scaler.growth_factor"));
        assertEquals(Integer.toString(saved.growthTracker()), meta.get("jdl.scaler._growth_tracker"));
        try (Sequential model = CheckpointTest.model(2); Adam adam = new Adam(model.parameters(), 0.01f);
             GradScaler scaler = new GradScaler()) {
            SafetensorsException noScaler = assertThrows(SafetensorsException.class,
                    () -> Checkpoint.load(file, model, adam));
            assertTrue(noScaler.getMessage().contains("GradScaler"), noScaler.getMessage());
            Checkpoint.load(file, model, adam, scaler);
            assertEquals(saved, scaler.state());
        }
        // A checkpoint without a scaler cannot resume a run that expects one.
        Path plain = dir.resolve("plain.safetensors");
        try (Sequential model = CheckpointTest.model(1); Adam adam = new Adam(model.parameters(), 0.01f);
             GradScaler scaler = new GradScaler(); GradScaler off = new GradScaler(2f, 2, 0.5, 5, false)) {
            Checkpoint.save(plain, model, adam, off, new Checkpoint.Progress(0, 0, 0), Map.of());
            assertThrows(SafetensorsException.class, () -> Checkpoint.load(plain, model, adam, scaler));
            Checkpoint.load(plain, model, adam, off);
            assertEquals(65536f, scaler.state().scale(), "a failed load changes nothing");
        }
    }
}
