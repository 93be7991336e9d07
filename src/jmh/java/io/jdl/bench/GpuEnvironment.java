package io.jdl.bench;

import io.jdl.cublas.Cublas;
import io.jdl.cuda.Cuda;
import io.jdl.cuda.CudaDevice;
import io.jdl.cuda.NativeLibraries;
import io.jdl.cuda.NativeLibraries.Library;
import io.jdl.cudnn.Cudnn;
import java.util.concurrent.Callable;

/**
 * Prints, as {@code key: value} lines, what jdl itself loaded on this machine: the JVM, the library search
 * path, the file of each NVIDIA library, the CUDA runtime, driver, cuBLAS and cuDNN versions, and each
 * device. Every probe catches its own failure and prints it in place of the value, so the report is
 * complete on a machine without a GPU or without some library. The last line is
 * {@code cuda.available: true|false}; the GPU bundle reads it to decide whether the GPU stages can run.
 *
 * <p>Run: {@code java --enable-native-access=ALL-UNNAMED -cp ... io.jdl.bench.GpuEnvironment}
 */
public final class GpuEnvironment {
    private GpuEnvironment() {
    }

    public static void main(String[] args) {
        print("java", () -> System.getProperty("java.vm.name") + " " + Runtime.version());
        print("os", () -> System.getProperty("os.name") + " " + System.getProperty("os.version") + " "
                + System.getProperty("os.arch") + ", " + Runtime.getRuntime().availableProcessors() + " cpus");
        print("library.search", () -> NativeLibraries.searchDirectories().toString());
        for (Library library : Library.values()) {
            print("library." + library.name().toLowerCase(), () -> NativeLibraries.load(library).toString());
        }
        print("cuda.runtime", () -> Cuda.formatVersion(Cuda.runtimeVersion()));
        print("cuda.driver", () -> Cuda.formatVersion(Cuda.driverVersion()));
        print("cublas", () -> version(Cublas.version(), 10000, 100));
        print("cudnn", () -> version(Cudnn.version(), 10000, 100));
        print("cudnn.built.for.cudart", () -> Cuda.formatVersion((int) Cudnn.cudartVersion()));
        print("cuda.devices", () -> String.valueOf(CudaDevice.count()));
        boolean available = isAvailable();
        if (available) {
            for (int i = 0; i < CudaDevice.count(); i++) {
                int index = i;
                print("cuda.device." + i, () -> {
                    CudaDevice d = CudaDevice.get(index);
                    return d.name() + ", compute capability " + d.computeCapability() + ", " + d.multiprocessors()
                            + " SMs, " + d.totalMemory() / (1L << 20) + " MiB";
                });
            }
        } else {
            print("cuda.unavailable.reason", CudaDevice::unavailableReason);
        }
        System.out.println("cuda.available: " + available);
    }

    private static boolean isAvailable() {
        try {
            return CudaDevice.isAvailable();
        } catch (Throwable t) {
            print("cuda.probe", () -> {
                throw t;
            });
            return false;
        }
    }

    /** major.minor.patch of a version packed as major·a + minor·b + patch. */
    private static String version(long v, long a, long b) {
        return v / a + "." + (v % a) / b + "." + v % b + " (" + v + ")";
    }

    private static void print(String key, Callable<String> probe) {
        String value;
        try {
            value = probe.call();
        } catch (Throwable t) {
            // Every failure becomes the value: the report must finish on any machine.
            value = "ERROR " + t.getClass().getSimpleName() + ": " + String.valueOf(t.getMessage()).replace('\n', ' ');
        }
        System.out.println(key + ": " + value);
    }
}
