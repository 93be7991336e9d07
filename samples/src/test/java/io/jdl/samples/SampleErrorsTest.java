package io.jdl.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.jdl.io.NamedArray;
import io.jdl.io.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every mistake a user can make on the command line ends as one {@code error:} line on stderr naming the flag
 * and its value, exit code 2 (usage) or 1 (runtime), no stack trace, and nothing written.
 */
class SampleErrorsTest {
    @TempDir
    static Path tmp;
    static Path binary, empty, full, cnnCheckpoint, plainFile;

    @BeforeAll
    static void files() throws IOException {
        binary = Files.write(tmp.resolve("binary.bin"), new byte[] {0x7f, 'E', 'L', 'F', 0, 0, 1, 2});
        empty = Files.write(tmp.resolve("empty.txt"), new byte[0]);
        full = Files.createDirectories(tmp.resolve("full"));
        Files.writeString(full.resolve("loss.png"), "an earlier run's picture");
        plainFile = Files.writeString(tmp.resolve("a-file"), "x");
        cnnCheckpoint = tmp.resolve("cnn.safetensors");
        Safetensors.write(cnnCheckpoint, List.of(new NamedArray("0.weight", new int[] {1}, new float[] {1})),
                Map.of("sample", "cnn", "width", "4"));
    }

    static Stream<Arguments> mistakes() {
        return Stream.of(
                // usage: wrong on any machine (exit 2)
                Arguments.of(2, "--batch-size 0", List.of("cnn", "--batch-size", "0")),
                Arguments.of(2, "--lr -1", List.of("cnn", "--lr", "-1")),
                Arguments.of(2, "--lr 0", List.of("mlp", "--lr", "0")),
                Arguments.of(2, "--steps 0", List.of("cnn", "--steps", "0")),
                Arguments.of(2, "--steps -5", List.of("charlm", "--steps", "-5")),
                Arguments.of(2, "--epochs 0", List.of("mlp", "--epochs", "0")),
                Arguments.of(2, "--patch 5", List.of("vit", "--device", "cpu", "--patch", "5")),
                Arguments.of(2, "--dim 63", List.of("vit", "--device", "cpu", "--dim", "63")),
                Arguments.of(2, "--dim 100", List.of("charlm", "--device", "cpu", "--dim", "100", "--heads", "3")),
                Arguments.of(2, "--eval-only needs --resume", List.of("cnn", "--eval-only")),
                Arguments.of(2, "--cuda-graph needs a CUDA device; this run is on cpu",
                        List.of("mlp", "--device", "cpu", "--cuda-graph", "--out", full.toString())),
                Arguments.of(2, "--cuda-graph applies to mlp and cnn: charlm uploads new token ids every step",
                        List.of("charlm", "--cuda-graph")),
                Arguments.of(2, "--cuda-graph applies to mlp and cnn: vit uploads its position ids",
                        List.of("vit", "--cuda-graph")),
                Arguments.of(2, "--eval-only trains nothing, so --cuda-graph does not apply",
                        List.of("cnn", "--eval-only", "--resume", cnnCheckpoint.toString(), "--cuda-graph")),
                Arguments.of(2, "--device tpu", List.of("cnn", "--device", "tpu")),
                Arguments.of(2, "'--frobnicate'", List.of("cnn", "--frobnicate")),
                Arguments.of(2, "--batch-size", List.of("cnn", "--batch-size", "many")),
                Arguments.of(2, "--width 8: contradicts the --resume checkpoint",
                        List.of("cnn", "--device", "cpu", "--resume", cnnCheckpoint.toString(), "--eval-only", "--width", "8")),
                // runtime: this machine or file system refuses (exit 1)
                Arguments.of(1, "--data /nonexistent", List.of("cnn", "--device", "cpu", "--data", "/nonexistent")),
                Arguments.of(1, "--text " + binary, List.of("charlm", "--device", "cpu", "--text", binary.toString())),
                Arguments.of(1, "--text " + empty, List.of("charlm", "--device", "cpu", "--text", empty.toString())),
                Arguments.of(1, "--text " + tmp, List.of("charlm", "--device", "cpu", "--text", tmp.toString())),
                Arguments.of(1, "--out " + plainFile, List.of("cnn", "--device", "cpu", "--out", plainFile.toString())),
                Arguments.of(1, "--out /proc/jdl-samples-test: cannot be created",
                        List.of("cnn", "--device", "cpu", "--out", "/proc/jdl-samples-test")),
                Arguments.of(1, "--device cuda:7: no", List.of("mlp", "--device", "cuda:7")),
                Arguments.of(1, "--out " + full + ": already holds files (loss.png)",
                        List.of("mlp", "--device", "cpu", "--out", full.toString())),
                Arguments.of(1, "--resume /nonexistent.safetensors",
                        List.of("mlp", "--resume", "/nonexistent.safetensors", "--eval-only")),
                Arguments.of(1, "is a checkpoint of the 'cnn' sample",
                        List.of("mlp", "--resume", cnnCheckpoint.toString(), "--eval-only")),
                Arguments.of(1, "--resume " + cnnCheckpoint + ": holds only the weights, not the optimizer's state",
                        List.of("cnn", "--device", "cpu", "--resume", cnnCheckpoint.toString())),
                Arguments.of(1, "--resume " + full + ": is a folder without training-state.safetensors",
                        List.of("cnn", "--device", "cpu", "--resume", full.toString())),
                Arguments.of(1, "--resume " + binary + ": not a readable safetensors checkpoint",
                        List.of("charlm", "--resume", binary.toString())));
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("mistakes")
    void oneLineNamingTheFlagNoStackTrace(int code, String expected, List<String> args) throws IOException {
        var r = SamplesEndToEndTest.launch(args.toArray(String[]::new));
        assertEquals(code, r.code(), r.err());
        List<String> lines = r.err().lines().toList();
        assertEquals(1, lines.size(), "one line on stderr: " + r.err());
        assertTrue(lines.getFirst().startsWith("error: "), r.err());
        assertTrue(lines.getFirst().contains(expected), "'" + expected + "' in " + r.err());
        assertFalse(r.out().contains("\tat ") || r.err().contains("\tat "), "no stack trace");
        assertEquals("an earlier run's picture", Files.readString(full.resolve("loss.png")), "nothing overwritten");
    }

    @Test
    void cudaWithoutAGpuIsOneLineNamingTheReason() {
        assumeFalse(GpuReport.usable(), "this machine has a usable GPU");
        var r = SamplesEndToEndTest.launch("cnn", "--device", "cuda");
        assertEquals(1, r.code(), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().startsWith("error: --device cuda: no usable CUDA device: "), r.err());
        assertFalse(r.err().contains("insufficient") && !Files.exists(GpuReport.DRIVER_FILE),
                "no driver upgrade advice where no driver is installed: " + r.err());
    }

    @Test
    void defaultTextShipsWithTheSamples() {
        TextCorpus.Loaded shakespeare = TextCorpus.load(null);
        assertEquals(1_115_394, shakespeare.data().length(), "tinyshakespeare.txt is ASCII: one character a byte");
        assertEquals(65, shakespeare.data().vocabSize());
    }

    @Test
    void debugAddsTheStackTrace() {
        var r = SamplesEndToEndTest.launch("cnn", "--batch-size", "0", "--debug");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("\tat io.jdl.samples."), r.err());
        assertTrue(r.err().lines().toList().getLast().startsWith("error: --batch-size 0"), r.err());
    }

    @Test
    void helpHasNoWarningAndShowsEachSamplesDefaults() {
        for (String sample : List.of("mlp", "cnn", "vit", "charlm", "demo")) {
            var r = SamplesEndToEndTest.launch(sample, "--help");
            assertEquals(0, r.code());
            assertFalse(r.out().contains("WARN") || r.err().contains("WARN"), r.out() + r.err());
        }
        String mlp = SamplesEndToEndTest.launch("mlp", "--help").out().replaceAll("\\s+", " ");
        assertTrue(mlp.contains("(default: 15 on the CPU, 30 on a GPU)"), mlp);
        assertTrue(mlp.contains("peak learning rate (default: 0.001)"), mlp);
        assertTrue(mlp.contains("target >= 89% test accuracy"), mlp);
        String charlm = SamplesEndToEndTest.launch("charlm", "--help").out().replaceAll("\\s+", " ");
        assertTrue(charlm.contains("(default: 400 on the CPU, 5000 on a GPU)"), charlm);
        assertFalse(charlm.contains("--epochs"), "charlm counts steps, not epochs");
    }
}
