package io.jdl.samples;

import io.jdl.backend.Device;
import io.jdl.samples.cli.UserError;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * The flags every training sample takes. Unset numbers mean "the sample's default for this device"; the help
 * shows each sample's defaults ({@link SampleHelp}). {@link #validate()} refuses values that cannot work
 * before anything is loaded.
 */
public final class TrainOptions {
    @Option(names = "--device", description = "cuda, cuda:N or cpu (default: cuda when a usable GPU exists, else cpu)")
    String device;

    @Option(names = "--steps", description = "stop after this many optimizer steps in all")
    Integer steps;

    @Option(names = "--batch-size", description = "samples per optimizer step")
    Integer batchSize;

    @Option(names = "--lr", description = "peak learning rate")
    Float lr;

    @Option(names = "--seed", defaultValue = "0", description = "seed for initialisation, shuffling, augmentation, dropout (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--out", description = "folder for plots, metrics and the checkpoint; must be new or empty unless"
            + " --overwrite (default: a new folder out/<sample>/<date-time> under the current directory)")
    Path out;

    @Option(names = "--overwrite", description = "allow --out to be a folder that already holds files, replacing them")
    boolean overwrite;

    @Option(names = "--resume", description = "start from this checkpoint (model.safetensors of an earlier run of the"
            + " same sample); its architecture is used, so no architecture flags are needed")
    Path resume;

    @Option(names = "--eval-only", description = "only evaluate the --resume checkpoint; writes just the evaluation files")
    boolean evalOnly;

    private Device chosen;

    /** Refuses values that cannot work on any machine (exit code 2), before anything is loaded. */
    void validate() {
        if (steps != null) {
            UserError.atLeast("--steps", steps, 1);
        }
        if (batchSize != null) {
            UserError.atLeast("--batch-size", batchSize, 1);
        }
        if (lr != null) {
            UserError.positive("--lr", lr);
        }
        if (evalOnly && resume == null) {
            throw UserError.usage("--eval-only needs --resume CHECKPOINT: evaluating untrained weights says nothing");
        }
        if (evalOnly && (steps != null || lr != null)) {
            throw UserError.usage("--eval-only trains nothing, so --steps and --lr do not apply");
        }
        if (overwrite && out == null) {
            throw UserError.usage("--overwrite needs --out DIR: without --out every run gets a new folder");
        }
    }

    /** The device asked for, or the best present; checked to exist. Prints the choice once, with the device's name. */
    Device device() {
        if (chosen == null) {
            chosen = GpuReport.choose("--device", device);
        }
        return chosen;
    }

    /** Whether the run will compute on a GPU (the device asked for, or the best present), without printing. */
    boolean onGpu() {
        return device == null ? GpuReport.usable() : GpuReport.parse("--device", device).isCuda();
    }

    /** The {@code --resume} checkpoint's metadata (empty without {@code --resume}), checked to belong to {@code sample}. */
    Map<String, String> resumeMetadata(String sample) {
        return resume == null ? Map.of() : Checkpoints.metadataOf(resume, sample);
    }

    /** Creates and checks the output folder; call before loading data so that nothing trains into the void. */
    RunFolder outputFolder(String sample) {
        return RunFolder.open(out, overwrite, sample, evalOnly);
    }

    int batchSize(int fallback) {
        return batchSize != null ? batchSize : fallback;
    }

    float lr(float fallback) {
        return lr != null ? lr : fallback;
    }
}
