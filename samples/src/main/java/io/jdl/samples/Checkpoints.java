package io.jdl.samples;

import io.jdl.io.Checkpoint;
import io.jdl.nn.Module;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * A module's state dict as a safetensors file, with PyTorch's parameter names (e.g. {@code fc1.weight}),
 * so that {@code model.load_state_dict(safetensors.torch.load_file(path))} reads it. Saving is atomic.
 * The library's {@link Checkpoint} does the work; a file holding NaN or infinite weights is refused on load.
 */
public final class Checkpoints {
    private Checkpoints() {
    }

    public static void save(Module model, Path file, Map<String, String> metadata) throws IOException {
        Checkpoint.saveModel(file, model, metadata);
    }

    /** Loads every tensor of {@code file} into {@code model} (names and shapes must match exactly). */
    public static Map<String, String> load(Module model, Path file) throws IOException {
        return Checkpoint.loadModel(file, model);
    }
}
