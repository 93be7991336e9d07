package io.jdl.samples;

import io.jdl.device.Device;
import io.jdl.cublas.Cublas;
import io.jdl.cuda.Cuda;
import io.jdl.cuda.CudaDevice;
import io.jdl.cudnn.Cudnn;
import io.jdl.samples.cli.UserError;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Supplier;

/**
 * What the samples say about the GPU stack: which device a run uses, why none is usable, and (for {@code demo})
 * which NVIDIA libraries were found. Never throws for a missing library: the CPU path must work without any.
 */
final class GpuReport {
    /** The NVIDIA kernel driver writes this file; without it no CUDA call can succeed whatever the libraries. */
    static final Path DRIVER_FILE = Path.of("/proc/driver/nvidia/version");

    private GpuReport() {
    }

    /**
     * The device named by {@code flag value} (null: the best present), checked to exist; prints the
     * "Device:" line, with the reason when a GPU was not asked for and none is usable.
     */
    static Device choose(String flag, String value) {
        Device d = value == null ? (usable() ? Device.cuda(0) : Device.CPU) : parse(flag, value);
        if (d.isCuda()) {
            System.out.println("Device: " + cudaDevice(flag, value, d.index()));
        } else {
            System.out.println("Device: cpu" + (value == null ? " (no usable CUDA device: " + reason() + ")" : ""));
        }
        return d;
    }

    /** Whether a CUDA device can be used; false (never an exception) where any part of the stack is missing. */
    static boolean usable() {
        return probe(CudaDevice::isAvailable, false);
    }

    static Device parse(String flag, String value) {
        try {
            return Device.parse(value);
        } catch (IllegalArgumentException e) {
            throw UserError.usage(flag, value, "expected cpu, cuda or cuda:N");
        }
    }

    /** The CUDA device {@code index} described for the "Device:" line, or a runtime error naming the flag. */
    static String cudaDevice(String flag, String value, int index) {
        String shown = value == null ? "cuda" : value;
        int count = probe(CudaDevice::count, 0);
        if (count == 0) {
            throw UserError.runtime(flag, shown, "no usable CUDA device: " + reason(), null);
        }
        if (index >= count) {
            throw UserError.runtime(flag, shown, "no such CUDA device: this machine has " + count
                    + (count == 1 ? " (cuda:0)" : " (cuda:0 to cuda:" + (count - 1) + ")"), null);
        }
        return CudaDevice.get(index).toString();
    }

    /**
     * Why no device is usable, in the words a user acts on. The CUDA runtime answers "driver version is
     * insufficient" also where no driver is installed at all, which would send the user to upgrade a driver
     * on a machine without an NVIDIA GPU.
     */
    static String reason() {
        if (!Files.exists(DRIVER_FILE)) {
            return "no NVIDIA driver is loaded (" + DRIVER_FILE + " does not exist)";
        }
        String why = probe(CudaDevice::unavailableReason, "the CUDA runtime could not be probed");
        return why == null ? "none" : why;
    }

    /** One line per part of the GPU stack: found (with its version) or not (with the reason). */
    static String environment() {
        StringBuilder sb = new StringBuilder();
        line(sb, "NVIDIA driver", () -> Files.exists(DRIVER_FILE) ? firstLine(DRIVER_FILE)
                : missing(DRIVER_FILE + " does not exist"));
        line(sb, "CUDA runtime", () -> Cuda.formatVersion(Cuda.runtimeVersion()));
        line(sb, "CUDA devices", () -> CudaDevice.isAvailable() ? describeDevices() : missing(reason()));
        line(sb, "cuBLAS", () -> version(Cublas.version()));
        line(sb, "cuDNN", () -> version(Cudnn.version()));
        return sb.toString();
    }

    private static String describeDevices() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < CudaDevice.count(); i++) {
            sb.append(i == 0 ? "" : "; ").append(CudaDevice.get(i));
        }
        return sb.toString();
    }

    private static void line(StringBuilder sb, String what, Supplier<String> found) {
        String text;
        try {
            text = found.get();
        } catch (RuntimeException | LinkageError e) {
            text = "not found: " + cause(e);
        }
        sb.append(String.format("  %-13s %s%n", what + ":", text));
    }

    /** Thrown inside {@link #line} to print "not found" without a second code path. */
    private static String missing(String why) {
        throw new IllegalStateException(why);
    }

    /** The message that explains a failure: a failed static initializer's cause, else the exception's own. */
    private static String cause(Throwable e) {
        Throwable t = e;
        while ((t instanceof LinkageError || t.getMessage() == null) && t.getCause() != null) {
            t = t.getCause();
        }
        String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage().strip();
        // The loader's message lists every folder it searched, one a line: keep what failed and what to do.
        List<String> lines = m.lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
        return lines.size() <= 2 ? String.join(" ", lines) : lines.getFirst().replaceFirst("\\s*Searched.*$", "") + " "
                + lines.getLast();
    }

    private static <T> T probe(Supplier<T> what, T fallback) {
        try {
            return what.get();
        } catch (RuntimeException | LinkageError e) {
            return fallback;
        }
    }

    private static String firstLine(Path file) {
        try {
            return Files.readAllLines(file).getFirst().strip();
        } catch (Exception e) {
            return "present (" + file + " unreadable: " + e.getMessage() + ")";
        }
    }

    private static String version(long v) {
        return v / 10000 + "." + v % 10000 / 100 + "." + v % 100;
    }
}
