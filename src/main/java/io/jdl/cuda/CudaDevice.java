package io.jdl.cuda;

import static io.jdl.bindings.cudart.cuda_runtime_api_h.*;

import io.jdl.bindings.cudart.cudaDeviceProp;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A CUDA GPU and what it is: name, compute capability, multiprocessors, memory.
 *
 * <p>{@link #count()} never throws: without the runtime library, a driver or a GPU it is 0 and
 * {@link #unavailableReason()} says why. {@link #get(int)} throws {@link CudaUnavailableException}
 * with that reason.
 */
public record CudaDevice(int index, String name, int major, int minor, int multiprocessors, long totalMemory) {

    private record Probe(int count, String reason) {
    }

    private static final class Availability {
        static final Probe PROBE = probe();

        private static Probe probe() {
            try {
                Cuda.ensureLoaded();
            } catch (NativeLibraryException e) {
                return new Probe(0, e.getMessage());
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
                int status = cudaGetDeviceCount(out);
                if (status != cudaSuccess()) {
                    return new Probe(0, "cudaGetDeviceCount returned " + Cuda.errorName(status) + " (" + status + "): "
                            + Cuda.errorString(status));
                }
                int n = out.get(ValueLayout.JAVA_INT, 0);
                return new Probe(n, n == 0 ? "the CUDA driver reports no device" : null);
            }
        }
    }

    /** The number of usable CUDA devices; 0 where there is no runtime library, driver or GPU. */
    public static int count() {
        return Availability.PROBE.count();
    }

    public static boolean isAvailable() {
        return count() > 0;
    }

    /** Why {@link #count()} is 0, or {@code null} when devices exist. */
    public static String unavailableReason() {
        return Availability.PROBE.reason();
    }

    /** Throws {@link CudaUnavailableException} naming the reason when no device is usable. */
    public static void requireAvailable() {
        if (!isAvailable()) {
            throw new CudaUnavailableException("no usable CUDA device/driver was found: " + unavailableReason());
        }
    }

    /** The device at {@code index}, with its properties. */
    public static CudaDevice get(int index) {
        requireAvailable();
        if (index < 0 || index >= count()) {
            throw new IllegalArgumentException("CUDA device " + index + " does not exist; " + count() + " present");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment props = cudaDeviceProp.allocate(arena);
            Cuda.check(cudaGetDeviceProperties(props, index), "cudaGetDeviceProperties");
            return new CudaDevice(index, cudaDeviceProp.name(props).getString(0), cudaDeviceProp.major(props),
                    cudaDeviceProp.minor(props), cudaDeviceProp.multiProcessorCount(props),
                    cudaDeviceProp.totalGlobalMem(props));
        }
    }

    /** Makes this the calling thread's current device. */
    public void makeCurrent() {
        Cuda.check(cudaSetDevice(index), "cudaSetDevice(" + index + ")");
    }

    /** Free device memory in bytes, as the driver reports it now. */
    public long freeMemory() {
        makeCurrent();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment free = arena.allocate(ValueLayout.JAVA_LONG);
            MemorySegment total = arena.allocate(ValueLayout.JAVA_LONG);
            Cuda.check(cudaMemGetInfo(free, total), "cudaMemGetInfo");
            return free.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    /** e.g. "sm_90". */
    public String computeCapability() {
        return "sm_" + major + minor;
    }

    @Override
    public String toString() {
        return "cuda:" + index + " " + name + " (" + computeCapability() + ", " + multiprocessors + " SMs, "
                + totalMemory / (1L << 20) + " MiB)";
    }
}
