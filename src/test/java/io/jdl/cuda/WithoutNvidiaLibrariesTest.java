package io.jdl.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CPU path needs no NVIDIA library (issue #11, items 4 and 14): a JVM restricted to an empty library
 * directory ({@code jdl.library.search=explicit-only}) trains on the CPU, answers every GPU question with
 * the reason, and throws only when the GPU is asked for. A fresh JVM, because a library once loaded in
 * this one cannot be unloaded.
 */
class WithoutNvidiaLibrariesTest {

    @Test
    void cpuTrainingAndGpuProbingWorkWithNoNvidiaLibraryFindable(@TempDir Path tmp)
            throws IOException, InterruptedException {
        Path emptyLibraryDir = Files.createDirectory(tmp.resolve("lib"));
        Path log = tmp.resolve("child.log");
        ProcessBuilder pb = new ProcessBuilder(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"),
                "-Djdl.library.path=" + emptyLibraryDir,
                "-Djdl.library.search=explicit-only",
                WithoutNvidiaLibraries.class.getName()));
        // scripts/test points JDL_LIBRARY_PATH at the fetched cuBLAS/cuDNN: the child must not see it.
        pb.environment().remove("JDL_LIBRARY_PATH");
        pb.environment().remove("JDL_LIBRARY_SEARCH");
        // Output to a file, so that a child that hangs cannot block this test past its time limit.
        pb.redirectErrorStream(true).redirectOutput(log.toFile());
        Process child = pb.start();
        boolean exited = child.waitFor(120, TimeUnit.SECONDS);
        if (!exited) {
            child.destroyForcibly().waitFor();
        }
        String text = Files.readString(log, StandardCharsets.UTF_8);
        assertTrue(exited, "the child JVM did not finish:\n" + text);
        assertEquals(0, child.exitValue(), text);
        assertTrue(text.contains("reason=CUDA runtime (libcudart.so.13) was not found"), text);
        assertTrue(text.contains("loss=") && text.strip().endsWith("ok"), text);
    }
}
