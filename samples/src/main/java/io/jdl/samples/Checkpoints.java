package io.jdl.samples;

import io.jdl.io.Checkpoint;
import io.jdl.io.Safetensors;
import io.jdl.nn.Module;
import io.jdl.optim.GradScaler;
import io.jdl.optim.Optimizer;
import io.jdl.samples.cli.UserError;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * The two checkpoints a training run leaves in its {@link RunFolder}:
 * <ul>
 * <li>{@value #MODEL}: the module's state dict alone, with PyTorch's parameter names (e.g. {@code fc1.weight}),
 * so that {@code model.load_state_dict(safetensors.torch.load_file(path))} and {@code scripts/torch_eval.py}
 * read it; written at the end of the run.
 * <li>{@value #TRAINING_STATE}: the library's {@link Checkpoint} (weights, optimizer moments and steps, dropout
 * seeds, the position in the data, the curves so far) that {@code --resume} continues exactly from; rewritten after every epoch
 * (charlm: at every validation) and where the run stops.
 * </ul>
 * Both record in their metadata {@value #SAMPLE} (the sample that wrote it) and the architecture settings
 * ({@link Architecture}), so that {@code --resume}, {@code --eval-only} and {@code torch_eval.py} rebuild the same
 * network without flags; the training state adds the training settings. Keys are written sorted and saving is
 * atomic: identical runs give identical files, and a run killed while saving leaves the previous file whole.
 */
final class Checkpoints {
    /** Metadata key of the sample name ("mlp", "cnn", "vit", "charlm"). */
    static final String SAMPLE = "sample";
    static final String MODEL = "model.safetensors", TRAINING_STATE = "training-state.safetensors";

    private Checkpoints() {
    }

    /** Writes {@value #MODEL} into {@code out}. */
    static void saveModel(RunFolder out, Module model, Map<String, String> metadata) throws IOException {
        Checkpoint.saveModel(out.file(MODEL), model, new TreeMap<>(metadata));
        out.wrote(MODEL);
    }

    /** Writes (or replaces) {@value #TRAINING_STATE} in {@code out}, with the fp16 loss scaler's state ({@code scaler} may be null). */
    static void saveTraining(RunFolder out, Module model, Optimizer optimizer, GradScaler scaler, Checkpoint.Progress progress,
                             Map<String, String> metadata) throws IOException {
        Checkpoint.save(out.file(TRAINING_STATE), model, optimizer, scaler, progress, new TreeMap<>(metadata));
        out.wrote(TRAINING_STATE);
    }

    /**
     * The file {@code --resume} names: {@code given} itself, or inside a run folder the training state (the
     * model file for {@code --eval-only}, which needs only the weights, when the folder has one).
     */
    static Path resolve(Path given, boolean evalOnly) {
        if (!Files.isDirectory(given)) {
            return given;
        }
        Path model = given.resolve(MODEL), state = given.resolve(TRAINING_STATE);
        Path file = evalOnly && Files.isRegularFile(model) ? model : state;
        if (!Files.isRegularFile(file)) {
            throw UserError.runtime("--resume", given, "is a folder without " + (evalOnly ? MODEL + " or " : "")
                    + TRAINING_STATE + "; pass a run folder or a checkpoint file", null);
        }
        return file;
    }

    /**
     * The metadata of the {@code --resume} checkpoint {@code file}, checked to be a checkpoint of {@code sample}
     * and, unless only evaluating, a training state; every problem is a {@link UserError} naming the flag and the file.
     */
    static Map<String, String> metadataOf(Path file, String sample, boolean evalOnly) {
        if (!Files.isRegularFile(file)) {
            throw UserError.runtime("--resume", file, "no such file", null);
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
        if (!evalOnly && !Checkpoint.isTraining(metadata)) {
            throw UserError.runtime("--resume", file, "holds only the weights, not the optimizer's state and the"
                    + " position in the data that continuing needs; pass the run's " + TRAINING_STATE
                    + " (or its folder), or add --eval-only", null);
        }
        return metadata;
    }

    /**
     * Restores {@code model}, {@code optimizer} and the fp16 loss {@code scaler} (null for other precisions) from the
     * training state {@code file}; returns where the run stood.
     */
    static Checkpoint.Progress resume(Module model, Optimizer optimizer, GradScaler scaler, Path file) {
        Checkpoint.Resumed r;
        try {
            r = Checkpoint.load(file, model, optimizer, scaler);
        } catch (IOException | RuntimeException e) {
            throw UserError.runtime("--resume", file, "does not fit the model: " + e.getMessage(), e);
        }
        System.out.printf("Resumed from %s after %,d steps%n", file, r.progress().step());
        return r.progress();
    }

    /** Loads the weights of {@code file} (either kind) into {@code model}, for {@code --eval-only}. */
    static void loadWeights(Module model, Path file) {
        try {
            Checkpoint.loadModel(file, model);
        } catch (IOException | RuntimeException e) {
            throw UserError.runtime("--resume", file, "does not fit the model: " + e.getMessage(), e);
        }
    }
}
