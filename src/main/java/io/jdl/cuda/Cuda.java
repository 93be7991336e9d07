package io.jdl.cuda;

import static io.jdl.bindings.cudart.cuda_runtime_api_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Optional;

/**
 * Entry point to the CUDA runtime: loads it, turns its status codes into {@link CudaException}s, and
 * answers the questions that need no device (versions, device count).
 */
public final class Cuda {

    private Cuda() {
    }

    /** libcudart, loaded on first use and checked against the version the bindings came from. */
    private static final LibraryLoad RUNTIME = new LibraryLoad("CUDA runtime", Cuda::loadAndCheck);

    private static long loadAndCheck() {
        NativeLibraries.load(NativeLibraries.Library.CUDART);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            check(cudaRuntimeGetVersion(out), "cudaRuntimeGetVersion");
            int found = out.get(ValueLayout.JAVA_INT, 0);
            VersionCheck.verify("CUDA runtime", found / 1000, (found % 1000) / 10, 0,
                    CUDART_VERSION() / 1000, (CUDART_VERSION() % 1000) / 10, 0);
            return found;
        }
    }

    /**
     * Loads libcudart and checks its version; cheap after the first call.
     *
     * @throws NativeLibraryException with the places searched, when the runtime is missing or unusable
     */
    public static void ensureLoaded() {
        RUNTIME.version();
    }

    /** Why the CUDA runtime cannot be used, or empty when it is loaded; never throws. */
    public static Optional<String> loadFailure() {
        return RUNTIME.failure();
    }

    /** Throws a {@link CudaException} naming {@code call} unless {@code status} is {@code cudaSuccess}. */
    public static void check(int status, String call) {
        NativeCounters.countCall();
        if (status != cudaSuccess()) {
            throw new CudaException(call, status, errorName(status), errorString(status));
        }
    }

    /**
     * {@link #check} for {@code cudaMemcpyAsync} of {@code bytes} in {@code direction} ("host to device"); the
     * call's description is built only when it failed (copies run on every training step).
     */
    static void checkCopy(int status, String direction, long bytes) {
        NativeCounters.countCall();
        if (status != cudaSuccess()) {
            throw new CudaException("cudaMemcpyAsync(" + direction + ", " + bytes + " bytes)", status, errorName(status),
                    errorString(status));
        }
    }

    static String errorName(int status) {
        return cString(cudaGetErrorName(status));
    }

    static String errorString(int status) {
        return cString(cudaGetErrorString(status));
    }

    /** The runtime's version as CUDA encodes it: 1000 * major + 10 * minor (13000 is 13.0). */
    public static int runtimeVersion() {
        return (int) RUNTIME.version();
    }

    /** The driver's CUDA version, or 0 where no driver is installed. */
    public static int driverVersion() {
        ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            check(cudaDriverGetVersion(out), "cudaDriverGetVersion");
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /** Reads a NUL-terminated string that a library returned (static storage owned by the library). */
    public static String cString(MemorySegment pointer) {
        if (pointer.equals(MemorySegment.NULL)) {
            return "(null)";
        }
        return pointer.reinterpret(4096).getString(0);
    }

    /** Formats a CUDA-style version number (13000 becomes "13.0"). */
    public static String formatVersion(int version) {
        return version / 1000 + "." + (version % 1000) / 10;
    }
}
