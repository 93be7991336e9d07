package io.jdl.cuda;

import static io.jdl.bindings.cudart.cuda_runtime_api_h.*;

import io.jdl.bindings.cudart.cudaDeviceProp;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

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

    /** Decided on the first question, then kept: the driver's answer does not change while the process runs. */
    private static Probe probe;

    private static synchronized Probe probe() {
        if (probe == null) {
            try {
                probe = Cuda.loadFailure().map(reason -> new Probe(0, reason)).orElseGet(CudaDevice::countDevices);
            } catch (RuntimeException e) {
                // A probe answers; it never fails the caller that only asked whether a GPU exists.
                probe = new Probe(0, "probing for CUDA devices failed: " + e);
            }
        }
        return probe;
    }

    private static Probe countDevices() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            int status = cudaGetDeviceCount(out);
            if (status != cudaSuccess()) {
                String call = "cudaGetDeviceCount returned " + Cuda.errorName(status) + " (" + status + "): "
                        + Cuda.errorString(status);
                return new Probe(0, whyNoDevice(call, driverVersionOrZero(), Cuda.runtimeVersion(), hasDeviceNodes()));
            }
            int n = out.get(ValueLayout.JAVA_INT, 0);
            return new Probe(n, n == 0 ? "the CUDA driver reports no device" : null);
        }
    }

    /** The driver's CUDA version; 0 where no driver is installed (or it cannot say). */
    private static int driverVersionOrZero() {
        try {
            return Cuda.driverVersion();
        } catch (CudaException e) {
            return 0;
        }
    }

    private static boolean hasDeviceNodes() {
        return Files.exists(Path.of("/dev/nvidiactl")) || Files.exists(Path.of("/dev/nvidia0"));
    }

    /**
     * Why device counting failed, in the user's terms: a machine without an NVIDIA driver (or GPU) must not
     * be told to upgrade its driver, which is what the runtime's own "insufficient driver" status suggests.
     */
    static String whyNoDevice(String call, int driverVersion, int runtimeVersion, boolean deviceNodes) {
        if (driverVersion == 0) {
            return "no NVIDIA driver found (cudaDriverGetVersion reports none" + (deviceNodes ? "" : ", and there is no /dev/nvidia*")
                    + "): no NVIDIA GPU is usable on this machine; " + call;
        }
        if (driverVersion < runtimeVersion) {
            return "the NVIDIA driver supports CUDA up to " + Cuda.formatVersion(driverVersion) + " but jdl uses the CUDA "
                    + Cuda.formatVersion(runtimeVersion) + " runtime: install a driver for CUDA "
                    + runtimeVersion / 1000 + " or newer; " + call;
        }
        return call;
    }

    /** The number of usable CUDA devices; 0 where there is no runtime library, driver or GPU. */
    public static int count() {
        return probe().count();
    }

    public static boolean isAvailable() {
        return count() > 0;
    }

    /** Why {@link #count()} is 0, or {@code null} when devices exist. */
    public static String unavailableReason() {
        return probe().reason();
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

    /**
     * Free device memory in bytes, as the driver reports it now. cudaMemGetInfo answers for the calling
     * thread's current device, so this device is made current for the query and the caller's current device
     * is restored afterwards (the current device is per host thread; a query must not change it).
     */
    public long freeMemory() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment previous = arena.allocate(ValueLayout.JAVA_INT);
            Cuda.check(cudaGetDevice(previous), "cudaGetDevice");
            int callers = previous.get(ValueLayout.JAVA_INT, 0);
            makeCurrent();
            try {
                MemorySegment free = arena.allocate(ValueLayout.JAVA_LONG);
                MemorySegment total = arena.allocate(ValueLayout.JAVA_LONG);
                Cuda.check(cudaMemGetInfo(free, total), "cudaMemGetInfo");
                return free.get(ValueLayout.JAVA_LONG, 0);
            } finally {
                Cuda.check(cudaSetDevice(callers), "cudaSetDevice(" + callers + ")");
            }
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
