package io.jdl.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code scripts/torch_eval.py} without PyTorch: its unit tests, and (from {@link SamplesEndToEndTest}) the
 * architecture it reads from checkpoints the samples really wrote. Skipped, saying so, where python3 is absent.
 */
class TorchEvalScriptTest {
    static final Path SCRIPTS = Path.of("..", "scripts").toAbsolutePath().normalize();

    /** Runs python3 with {@code args} in the scripts folder; returns (exit code, output). */
    static Result python(String... args) throws IOException, InterruptedException {
        assumeTrue(onPath("python3"), "python3 is not on the PATH");
        List<String> command = new ArrayList<>(List.of("python3"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).directory(SCRIPTS.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("python3 " + args[0] + " did not finish in 60 s: " + out);
        }
        return new Result(p.exitValue(), out);
    }

    record Result(int code, String out) {
    }

    private static boolean onPath(String program) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, program))) {
                return true;
            }
        }
        return false;
    }

    /** What {@code torch_eval.py CHECKPOINT --describe} prints: "architecture: NAME k=v ... (N tensors)". */
    static String describe(Path checkpoint) throws IOException, InterruptedException {
        Result r = python("torch_eval.py", checkpoint.toAbsolutePath().toString(), "--describe");
        assertEquals(0, r.code(), r.out());
        return r.out().strip();
    }

    @Test
    void unitTestsPass() throws IOException, InterruptedException {
        Result r = python("-m", "unittest", "test_torch_eval.py");
        assertEquals(0, r.code(), r.out());
    }
}
