package io.jdl.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.bindings.cublas.cublas_v2_h;
import io.jdl.bindings.cudart.cuda_runtime_api_h;
import io.jdl.bindings.cudnn.cudnn_h;
import io.jdl.cublas.Cublas;
import io.jdl.cudnn.Cudnn;
import java.io.IOException;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The real libcudart, libcublas and libcudnn, loaded on any machine (no GPU needed): they are found,
 * report the versions the bindings came from, and export every function we bind.
 */
class NativeLibrariesTest {

    @BeforeEach
    void librariesArePresent() {
        // scripts/test fetches cuBLAS/cuDNN from NVIDIA's pip packages; without them each test reports itself
        // skipped with the reason (an assumption in @BeforeAll would hide the tests from the report instead).
        for (NativeLibraries.Library lib : NativeLibraries.Library.values()) {
            Assumptions.assumeTrue(NativeLibraries.isAvailable(lib),
                    () -> lib + " not found: " + assertThrows(NativeLibraryException.class, () -> NativeLibraries.load(lib))
                            .getMessage());
        }
        Cuda.ensureLoaded();
        Cublas.ensureLoaded();
        Cudnn.ensureLoaded();
    }

    @Test
    void versionsMatchTheBindings() {
        assertEquals(cuda_runtime_api_h.CUDART_VERSION(), Cuda.runtimeVersion());
        assertEquals(13000, Cuda.runtimeVersion());
        assertEquals(cublas_v2_h.CUBLAS_VER_MAJOR() * 10000 + cublas_v2_h.CUBLAS_VER_MINOR() * 100
                + cublas_v2_h.CUBLAS_VER_PATCH(), Cublas.version());
        assertEquals(13, Cublas.version() / 10000);
        assertEquals(cudnn_h.CUDNN_MAJOR() * 10000L + cudnn_h.CUDNN_MINOR() * 100L + cudnn_h.CUDNN_PATCHLEVEL(),
                Cudnn.version());
        assertEquals(9, Cudnn.version() / 10000);
        assertEquals(13, Cudnn.cudartVersion() / 1000, "cuDNN built for CUDA 13");
    }

    @Test
    void everyFunctionTheSafeLayerCallsResolves() throws IOException {
        Set<String> bound = new TreeSet<>();
        bound.addAll(functions(cuda_runtime_api_h.class));
        bound.addAll(functions(cublas_v2_h.class));
        bound.addAll(functions(cudnn_h.class));
        Path sources = Path.of("src/main/java");
        Assumptions.assumeTrue(Files.isDirectory(sources), "no sources here (e.g. in the GPU bundle) to scan for calls");
        Set<String> used = new TreeSet<>();
        Pattern call = Pattern.compile("\\b((?:cuda|cublas|cudnn)[A-Z]\\w*)\\s*\\(");
        try (Stream<Path> files = Files.walk(sources)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                Matcher m = call.matcher(Files.readString(f));
                while (m.find()) {
                    if (bound.contains(m.group(1))) {
                        used.add(m.group(1));
                    }
                }
            }
        }
        assertTrue(used.size() >= 40, "expected the safe layer to call many functions, found " + used);
        List<String> missing = new ArrayList<>();
        for (String name : used) {
            if (SymbolLookup.loaderLookup().find(name).isEmpty()) {
                missing.add(name);
            }
        }
        assertEquals(List.of(), missing, "functions the safe layer calls but the loaded libraries lack");
    }

    @Test
    void everyGeneratedFunctionResolves() {
        List<String> missing = new ArrayList<>();
        int count = 0;
        for (Class<?> header : List.of(cuda_runtime_api_h.class, cublas_v2_h.class, cudnn_h.class)) {
            for (String name : functions(header)) {
                count++;
                if (SymbolLookup.loaderLookup().find(name).isEmpty()) {
                    missing.add(name);
                }
            }
        }
        assertTrue(count > 1000, "only " + count + " functions bound");
        assertEquals(List.of(), missing);
    }

    /** jextract emits one private nested holder class per function, named after it, along the header's class chain. */
    private static Set<String> functions(Class<?> header) {
        Set<String> names = new TreeSet<>();
        for (Class<?> c = header; c != null && c != Object.class; c = c.getSuperclass()) {
            for (Class<?> nested : c.getDeclaredClasses()) {
                names.add(nested.getSimpleName());
            }
        }
        names.removeIf(n -> !n.matches("(cuda|cublas|cudnn)\\w+"));
        return names;
    }

    @Test
    void errorsCarryTheRuntimesNames() {
        CudaException e = assertThrows(CudaException.class, () -> Cuda.check(2, "cudaMalloc(64 bytes)"));
        assertEquals("cudaErrorMemoryAllocation", e.statusName());
        assertTrue(e.getMessage().startsWith("cudaMalloc(64 bytes) failed: cudaErrorMemoryAllocation (2): "), e.getMessage());
        Cuda.check(0, "cudaSuccess is no error");
    }

    @Test
    void missingLibraryListsEveryPlaceSearched() {
        NativeLibraryException e = assertThrows(NativeLibraryException.class,
                () -> NativeLibraries.locate("Nothing", "libjdl-does-not-exist.so.1", "nvidia-nothing"));
        for (Path dir : NativeLibraries.searchDirectories()) {
            assertTrue(e.getMessage().contains(dir.toString()), "message lacks " + dir + ":\n" + e.getMessage());
        }
        assertTrue(e.getMessage().contains("ldconfig"));
        assertTrue(e.getMessage().contains("JDL_LIBRARY_PATH"));
    }

    @Test
    void searchOrderFollowsTheDesign() {
        List<Path> dirs = NativeLibraries.searchDirectories();
        String env = System.getenv("JDL_LIBRARY_PATH");
        if (env != null && !env.isBlank()) {
            assertEquals(Path.of(env.split(":")[0]), dirs.getFirst(), "explicit path comes first");
        }
        int cuda = dirs.indexOf(Path.of("/usr/local/cuda/lib64"));
        assertTrue(cuda >= 0, "/usr/local/cuda is always searched: " + dirs);
        int pip = -1;
        for (int i = 0; i < dirs.size() && pip < 0; i++) {
            if (dirs.get(i).toString().contains("-packages/nvidia/")) {
                pip = i;
            }
        }
        assertTrue(pip < 0 || pip > cuda, "CUDA_HOME before pip wheels: " + dirs);
    }

    @Test
    void withoutAGpuTheDeviceCountIsZeroAndCudaTensorsFailClearly() {
        if (CudaDevice.isAvailable()) {
            assertTrue(CudaDevice.count() > 0);
            return; // on a GPU machine the gpu-tagged tests take over
        }
        assertEquals(0, CudaDevice.count());
        // This machine has the runtime but no driver: cudaErrorInsufficientDriver (35).
        assertTrue(CudaDevice.unavailableReason().contains("cudaGetDeviceCount"), CudaDevice.unavailableReason());
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class, () -> CudaDevice.get(0));
        assertTrue(e.getMessage().startsWith("no usable CUDA device/driver was found"), e.getMessage());
        assertFalse(io.jdl.device.Device.best().isCuda());
        CudaUnavailableException t = assertThrows(CudaUnavailableException.class, () -> io.jdl.tensor.Tensor.zeros(
                io.jdl.tensor.Shape.of(2, 2), io.jdl.device.Device.cuda(0)));
        assertTrue(t.getMessage().contains("no usable CUDA device/driver"), t.getMessage());
    }
}
