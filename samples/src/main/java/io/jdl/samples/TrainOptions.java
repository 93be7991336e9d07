package io.jdl.samples;

import io.jdl.backend.Device;
import io.jdl.cuda.CudaDevice;
import io.jdl.nn.Module;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The flags every training sample takes. Unset numbers mean "the sample's default for this device". */
public final class TrainOptions {
    @Option(names = "--device", description = "cuda, cuda:N or cpu (default: cuda when a usable GPU exists, else cpu)")
    String device;

    @Option(names = "--epochs", description = "passes over the training data")
    Integer epochs;

    @Option(names = "--steps", description = "stop after this many optimizer steps in all (for quick runs)")
    Integer steps;

    @Option(names = "--batch-size", description = "samples per optimizer step")
    Integer batchSize;

    @Option(names = "--lr", description = "peak learning rate")
    Float lr;

    @Option(names = "--seed", defaultValue = "0", description = "seed for initialisation, shuffling, augmentation, dropout (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--out", description = "folder for plots, metrics and the checkpoint (default: out/<sample>)")
    Path out;

    @Option(names = "--resume", description = "start from this safetensors checkpoint")
    Path resume;

    @Option(names = "--eval-only", description = "only evaluate (with --resume: the checkpoint)")
    boolean evalOnly;

    /** The device asked for, or the best present; prints the choice with the device's name. */
    Device device() {
        Device d = device == null ? Device.best() : Device.parse(device);
        if (d.isCuda()) {
            System.out.println("Device: " + CudaDevice.get(d.index()));
        } else {
            System.out.println("Device: cpu" + (CudaDevice.isAvailable() ? ""
                    : " (no usable CUDA device: " + CudaDevice.unavailableReason() + ")"));
        }
        return d;
    }

    /** Whether the run will compute on a GPU (the device asked for, or the best present), without printing. */
    boolean onGpu() {
        return device == null ? CudaDevice.isAvailable() : Device.parse(device).isCuda();
    }

    /** Loads the {@code --resume} checkpoint into {@code model}, if one was given. */
    void resumeInto(Module model) throws IOException {
        if (resume != null) {
            Checkpoints.load(model, resume);
            System.out.println("Resumed from " + resume);
        }
    }

    Path out(String sample) {
        return out != null ? out : Path.of("out", sample);
    }

    int epochs(int cpuDefault, int gpuDefault, Device d) {
        return epochs != null ? epochs : d.isCuda() ? gpuDefault : cpuDefault;
    }

    int batchSize(int fallback) {
        return batchSize != null ? batchSize : fallback;
    }

    float lr(float fallback) {
        return lr != null ? lr : fallback;
    }
}
