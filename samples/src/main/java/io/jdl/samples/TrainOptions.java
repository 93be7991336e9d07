package io.jdl.samples;

import io.jdl.device.Device;
import io.jdl.device.Precision;
import io.jdl.samples.cli.UserError;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The flags every training sample takes. Unset numbers mean "the sample's default for this device"; the help
 * shows each sample's defaults ({@link SampleHelp}). {@link #validate()} refuses values that cannot work
 * before anything is loaded.
 */
public final class TrainOptions {
    @Option(names = "--device", description = "cuda, cuda:N or cpu (default: cuda when a usable GPU exists, else cpu)")
    String device;

    @Option(names = "--precision", paramLabel = "fp32|tf32|bf16|fp16", description = "fp32: float32 with PyTorch's defaults (TF32 for cuDNN convolutions only);"
            + " tf32: float32 tensors with TF32 tensor cores for matrix products and convolutions (faster on Ampere and"
            + " later GPUs, about 3 decimal digits; as fp32 on the CPU); bf16: autocast to bfloat16 around forward and"
            + " loss, float32 weights and optimizer; fp16: autocast to float16 with dynamic loss scaling (GradScaler)."
            + " Evaluation runs in float32 (default: fp32; a resumed run keeps its own)")
    String precision;

    @Option(names = "--tf32", paramLabel = "on|off", description = "overrides the TF32 policy of --precision: on, TF32"
            + " tensor cores for float32 matrix products and cuDNN convolutions (as --precision tf32); off, neither"
            + " (bit-comparable float32 on a GPU). Default: --precision's")
    String tf32;

    @Option(names = "--steps", description = "stop after this many optimizer steps in all")
    Integer steps;

    @Option(names = "--batch-size", description = "samples per optimizer step")
    Integer batchSize;

    @Option(names = "--lr", description = "peak learning rate")
    Float lr;

    @Option(names = "--seed", description = "seed for initialisation, shuffling, augmentation, dropout (default: 0)")
    Long seed;

    @Mixin
    OutputOptions output;

    @Option(names = "--resume", description = "continue the run that wrote this training-state.safetensors (or run"
            + " folder) exactly where it stopped: weights, optimizer state, schedule, dropout seeds and data position;"
            + " its architecture and training settings are used, so no flags are needed. The run's length (in epochs, or"
            + " charlm's steps) counts from the start of that run: pass a larger one to train further. With --eval-only,"
            + " model.safetensors works too")
    Path resume;

    @Option(names = "--eval-only", description = "only evaluate the --resume checkpoint; writes just the evaluation files")
    boolean evalOnly;

    @Option(names = "--cuda-graph", description = "capture the training step as a CUDA graph and replay it (mlp, cnn;"
            + " CUDA only; recaptured each epoch, as the learning rate changes)")
    boolean cudaGraph;

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
        if (precision != null) {
            refuseCudaGraphWith(TrainPrecision.parse(precision));
        }
        if (evalOnly && resume == null) {
            throw UserError.usage("--eval-only needs --resume CHECKPOINT: evaluating untrained weights says nothing");
        }
        if (evalOnly && (steps != null || lr != null)) {
            throw UserError.usage("--eval-only trains nothing, so --steps and --lr do not apply");
        }
        if (evalOnly && precision != null) {
            throw UserError.usage("--eval-only trains nothing and evaluates in float32, so --precision does not apply");
        }
        if (evalOnly && cudaGraph) {
            throw UserError.usage("--eval-only trains nothing, so --cuda-graph does not apply");
        }
        output.validate();
    }

    /** The device asked for, or the best present; checked to exist. Prints the choice once, with the device's name. */
    Device device() {
        if (chosen == null) {
            chosen = GpuReport.choose("--device", device);
        }
        return chosen;
    }

    /**
     * The precision decided with the checkpoint's (a resumed run trains as it started), its TF32 policy applied.
     * fp16 with {@code --cuda-graph} is refused: the loss scaler reads its inf/NaN flag on the host to decide
     * whether to step, which a captured graph cannot do.
     */
    TrainPrecision precision(Architecture arch) {
        TrainPrecision p = arch.training("--precision", precision == null ? null : TrainPrecision.parse(precision),
                TrainPrecision.FP32, TrainPrecision::parse);
        refuseCudaGraphWith(p);
        p.applyMathMode();
        if (tf32 != null) {
            if (!tf32.equals("on") && !tf32.equals("off")) {
                throw UserError.usage("--tf32 takes on or off, got '" + tf32 + "'");
            }
            if (tf32.equals("off") && p == TrainPrecision.TF32) {
                throw UserError.usage("--tf32 off contradicts --precision tf32: use --precision fp32 --tf32 off");
            }
            Precision.tf32(tf32.equals("on"));
        }
        return p;
    }

    private void refuseCudaGraphWith(TrainPrecision p) {
        if (cudaGraph && p == TrainPrecision.FP16) {
            throw UserError.usage("--cuda-graph cannot run --precision fp16: the loss scaler decides on the host whether"
                    + " each step is skipped (an inf or NaN gradient), which a CUDA graph cannot capture; use bf16"
                    + " (no loss scaling) or leave out --cuda-graph");
        }
    }

    /** Refuses {@code --cuda-graph} for a sample whose step uploads host data every step ({@code why}). */
    void refuseCudaGraph(String sample, String why) {
        if (cudaGraph) {
            throw UserError.usage("--cuda-graph applies to mlp and cnn: " + sample + " " + why
                    + ", which a CUDA graph cannot capture");
        }
    }

    /** Refuses {@code --cuda-graph} on a device without CUDA graphs, before anything is loaded or written. */
    void checkCudaGraph(Device chosen) {
        if (cudaGraph && !chosen.isCuda()) {
            String problem = "--cuda-graph needs a CUDA device; this run is on " + chosen;
            throw device != null ? UserError.usage(problem) : UserError.runtime(problem + " (no usable GPU was found)", null);
        }
    }

    /** Whether the run will compute on a GPU (the device asked for, or the best present), without printing. */
    boolean onGpu() {
        return device == null ? GpuReport.usable() : GpuReport.parse("--device", device).isCuda();
    }

    /**
     * The {@code --resume} checkpoint's metadata (empty without {@code --resume}), checked to belong to {@code sample}
     * and, to train on, to be a training state. A run folder given to {@code --resume} is replaced by the file in it.
     * {@code --eval-only} gets the architecture alone: evaluating may batch or seed its sampling differently.
     */
    Map<String, String> resumeMetadata(String sample) {
        if (resume == null) {
            return Map.of();
        }
        resume = Checkpoints.resolve(resume, evalOnly);
        Map<String, String> metadata = new HashMap<>(Checkpoints.metadataOf(resume, sample, evalOnly));
        if (evalOnly) {
            metadata.keySet().removeIf(k -> k.startsWith(Architecture.TRAINING));
        }
        return metadata;
    }

    /** The seed decided with the checkpoint's (see {@link Architecture#training}). */
    long seed(Architecture arch) {
        return arch.training("--seed", seed, 0L, Long::valueOf);
    }

    /** Creates and checks the output folder; call before loading data so that nothing trains into the void. */
    RunFolder outputFolder(String sample) {
        return output.open(sample, evalOnly);
    }

    /** The batch size decided with the checkpoint's; {@code fallback} is the sample's default. */
    int batchSize(Architecture arch, int fallback) {
        return arch.training("--batch-size", batchSize, fallback, Integer::valueOf);
    }

    /** The peak learning rate decided with the checkpoint's; {@code fallback} is the sample's default. */
    float lr(Architecture arch, float fallback) {
        return arch.training("--lr", lr, fallback, Float::valueOf);
    }
}
