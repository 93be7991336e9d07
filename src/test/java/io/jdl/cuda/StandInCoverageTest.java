package io.jdl.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Every CUDA runtime, cuBLAS and cuDNN function that jdl's Java code calls is exported by the host stand-in.
 *
 * <p>The list lives in one place, the Java sources: every {@code cuda*}, {@code cublas*} or {@code cudnn*}
 * name followed by {@code (} in {@code src/main/java} that is a function of the generated bindings (it has a
 * {@code name$descriptor()} there; constants such as {@code cudaSuccess()} do not). Each must be a defined
 * dynamic symbol ({@code nm -D}) of the stand-in library for its binding package. Runs in the normal test JVM,
 * without loading the stand-in.
 */
class StandInCoverageTest {

    private static final Pattern CALL = Pattern.compile("\\b((?:cuda|cublas|cudnn)[A-Z][A-Za-z0-9_]*)\\(");

    /** Binding class -> the stand-in library that must export its functions. */
    private static final Map<String, String> LIBRARIES = Map.of(
            "io.jdl.bindings.cudart.cuda_runtime_api_h", "libcudart.so.13",
            "io.jdl.bindings.cublas.cublas_v2_h", "libcublas.so.13",
            "io.jdl.bindings.cudnn.cudnn_h", "libcudnn.so.9");

    /** The functions src/main/java calls, by stand-in library. */
    static Map<String, Set<String>> calledFunctions() throws IOException, ClassNotFoundException {
        Set<String> names = new TreeSet<>();
        try (Stream<Path> files = Files.walk(Path.of("src/main/java"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                Matcher m = CALL.matcher(Files.readString(f, StandardCharsets.UTF_8));
                while (m.find()) {
                    names.add(m.group(1));
                }
            }
        }
        Map<String, Set<String>> byLibrary = new TreeMap<>();
        for (Map.Entry<String, String> e : LIBRARIES.entrySet()) {
            Class<?> binding = Class.forName(e.getKey());
            Set<String> functions = names.stream().filter(n -> isFunction(binding, n))
                    .collect(Collectors.toCollection(TreeSet::new));
            byLibrary.put(e.getValue(), functions);
        }
        return byLibrary;
    }

    private static boolean isFunction(Class<?> binding, String name) {
        try {
            binding.getMethod(name + "$descriptor");
            return true;
        } catch (NoSuchMethodException e) {
            return false;
        }
    }

    private static Set<String> exported(Path library) throws IOException, InterruptedException {
        Process nm = new ProcessBuilder("nm", "-D", "--defined-only", library.toString()).redirectErrorStream(true).start();
        String out = new String(nm.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, nm.waitFor(), "nm -D " + library + ": " + out);
        return out.lines().map(l -> l.trim().split("\\s+")).filter(f -> f.length == 3).map(f -> f[2])
                .collect(Collectors.toSet());
    }

    @Test
    void theStandInExportsEveryFunctionJdlCalls() throws Exception {
        Path dir = Path.of(System.getProperty("jdl.standin", "target/standin"));
        Assumptions.assumeTrue(Files.isRegularFile(dir.resolve("libcudart.so.13")),
                () -> "the host stand-in is not built in " + dir + " (native/standin/build; scripts/test builds it)");
        Map<String, Set<String>> called = calledFunctions();
        // Sanity of the scan itself: the runtime calls are the 27 of the issue at least.
        assertTrue(called.get("libcudart.so.13").size() >= 27, () -> "runtime functions found: " + called);
        StringBuilder missing = new StringBuilder();
        for (Map.Entry<String, Set<String>> e : called.entrySet()) {
            Path library = dir.resolve(e.getKey());
            assertTrue(Files.isRegularFile(library), () -> library + " is not built, yet jdl calls " + e.getValue());
            Set<String> have = exported(library);
            List<String> lacking = e.getValue().stream().filter(f -> !have.contains(f)).toList();
            if (!lacking.isEmpty()) {
                missing.append("\n  ").append(e.getKey()).append(" lacks ").append(lacking);
            }
        }
        assertTrue(missing.isEmpty(), () -> "jdl calls functions the host stand-in does not export:" + missing);
    }
}
