package io.jdl.samples;

import io.jdl.io.Checkpoint;
import io.jdl.io.Safetensors;
import io.jdl.nn.Module;
import io.jdl.samples.cli.UserError;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * A module's state dict as a safetensors file, with PyTorch's parameter names (e.g. {@code fc1.weight}),
 * so that {@code model.load_state_dict(safetensors.torch.load_file(path))} reads it. Saving is atomic.
 * The library's {@link Checkpoint} does the work; a file holding NaN or infinite weights is refused on load.
 *
 * <p>The metadata records {@value #SAMPLE} (the sample that wrote it) and the architecture settings
 * ({@link Architecture}), so that {@code --resume}, {@code --eval-only} and {@code scripts/torch_eval.py}
 * rebuild the same network without flags. Keys are written sorted: identical runs give identical files.
 */
public final class Checkpoints {
    /** Metadata key of the sample name ("mlp", "cnn", "vit", "charlm"). */
    static final String SAMPLE = "sample";

    private Checkpoints() {
    }

    public static void save(Module model, Path file, Map<String, String> metadata) throws IOException {
        Checkpoint.saveModel(file, model, new TreeMap<>(metadata));
    }

    /**
     * The metadata of the {@code --resume} checkpoint {@code file}, checked to be a checkpoint of {@code sample};
     * every problem is a {@link UserError} naming the flag and the file.
     */
    static Map<String, String> metadataOf(Path file, String sample) {
        if (!Files.isRegularFile(file)) {
            throw UserError.runtime("--resume", file, Files.isDirectory(file)
                    ? "is a folder; pass the model.safetensors file inside it" : "no such file", null);
        }
        Map<String, String> metadata;
        try {
            metadata = Safetensors.read(file).metadata();
        } catch (IOException | RuntimeException e) {
            throw UserError.runtime("--resume", file, "not a readable safetensors checkpoint: " + e.getMessage(), e);
        }
        String writer = metadata.get(SAMPLE);
        if (writer == null) {
            throw UserError.runtime("--resume", file, "has no '" + SAMPLE + "' metadata, so it was not written by a"
                    + " jdl sample", null);
        }
        if (!writer.equals(sample)) {
            throw UserError.runtime("--resume", file, "is a checkpoint of the '" + writer + "' sample, not of '"
                    + sample + "'; run 'scripts/sample " + writer + " --resume " + file + "'", null);
        }
        return metadata;
    }

    /** Loads every tensor of the {@code --resume} checkpoint {@code file} into {@code model}. */
    static void resumeInto(Module model, Path file) {
        try {
            load(model, file);
        } catch (IOException | RuntimeException e) {
            throw UserError.runtime("--resume", file, "does not fit the model: " + e.getMessage(), e);
        }
        System.out.println("Resumed from " + file);
    }

    /** Loads every tensor of {@code file} into {@code model} (names and shapes must match exactly). */
    public static Map<String, String> load(Module model, Path file) throws IOException {
        return Checkpoint.loadModel(file, model);
    }
}
