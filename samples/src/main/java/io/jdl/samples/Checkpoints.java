package io.jdl.samples;

import io.jdl.io.NamedArray;
import io.jdl.io.Safetensors;
import io.jdl.nn.Module;
import io.jdl.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A module's state dict as a safetensors file, with PyTorch's parameter names (e.g. {@code fc1.weight}),
 * so that {@code model.load_state_dict(safetensors.torch.load_file(path))} reads it. Saving is atomic.
 */
public final class Checkpoints {
    private Checkpoints() {
    }

    public static void save(Module model, Path file, Map<String, String> metadata) throws IOException {
        List<NamedArray> arrays = new ArrayList<>();
        model.stateDict().forEach((name, t) -> arrays.add(new NamedArray(name, t.shape().dims(), t.toArray())));
        Safetensors.write(file, arrays, metadata);
    }

    /** Loads every tensor of {@code file} into {@code model} (names and shapes must match exactly). */
    public static Map<String, String> load(Module model, Path file) throws IOException {
        Safetensors.Contents contents = Safetensors.read(file);
        Map<String, Tensor> state = new LinkedHashMap<>();
        try {
            contents.tensors().forEach((name, a) -> state.put(name, Tensor.of(a.data(), a.shape())));
            model.loadStateDict(state);
        } finally {
            state.values().forEach(Tensor::close);
        }
        return contents.metadata();
    }
}
