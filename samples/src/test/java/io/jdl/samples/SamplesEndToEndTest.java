package io.jdl.samples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.data.FashionMnist;
import io.jdl.data.Idx;
import io.jdl.io.Safetensors;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each sample end to end on a tiny generated Fashion-MNIST look-alike, on the CPU: its files and its last line. */
class SamplesEndToEndTest {
    @TempDir
    static Path tmp;
    static Path data;

    /** 96 training and 32 test images whose class is a bright horizontal band at row 2·label. */
    @BeforeAll
    static void writeData() throws IOException {
        data = writeData(tmp);
    }

    /** Writes the tiny data set into {@code root}/data and returns that folder. */
    static Path writeData(Path root) throws IOException {
        Path dir = root.resolve("data");
        Files.createDirectories(dir);
        write(dir, FashionMnist.TRAIN_IMAGES, FashionMnist.TRAIN_LABELS, 96, 1);
        write(dir, FashionMnist.TEST_IMAGES, FashionMnist.TEST_LABELS, 32, 2);
        return dir;
    }

    private static void write(Path data, String images, String labels, int n, long seed) throws IOException {
        Random r = new Random(seed);
        byte[] pixels = new byte[n * 784];
        byte[] y = new byte[n];
        for (int i = 0; i < n; i++) {
            y[i] = (byte) (i % 10);
            for (int p = 0; p < 784; p++) {
                pixels[i * 784 + p] = (byte) r.nextInt(40);
            }
            for (int col = 0; col < 28; col++) {
                pixels[i * 784 + (2 * y[i] + 4) * 28 + col] = (byte) 250;
            }
        }
        Idx.write(data.resolve(images + ".gz"), new int[] {n, 28, 28}, pixels, true);
        Idx.write(data.resolve(labels + ".gz"), new int[] {n}, y, true);
    }

    /** What one launcher call printed and returned. */
    record Result(int code, String out, String err) {
    }

    /** Runs the launcher as {@code main} does, capturing stdout and stderr. */
    static Result launch(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        StringWriter err = new StringWriter();
        int code;
        try (PrintStream capture = new PrintStream(buffer, true, StandardCharsets.UTF_8)) {
            System.setOut(capture);
            code = Main.execute(args, new PrintWriter(err, true));
        } finally {
            System.setOut(old);
        }
        String out = buffer.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        System.out.print(err);
        return new Result(code, out, err.toString());
    }

    /** Runs the launcher; returns its standard output (asserting exit code 0 and a silent stderr). */
    private static String run(String... args) {
        Result r = launch(args);
        assertEquals(0, r.code(), r.out() + r.err());
        assertEquals("", r.err(), "nothing on stderr after a successful run");
        return r.out();
    }

    private static String lastLine(String out) {
        List<String> lines = out.lines().filter(l -> !l.isBlank()).toList();
        return lines.getLast();
    }

    private static void assertFiles(Path out, String... names) {
        for (String name : names) {
            Path f = out.resolve(name);
            assertTrue(Files.isRegularFile(f), "missing " + f);
            try {
                assertTrue(Files.size(f) > 100, "empty " + f);
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }
    }

    @Test
    void mlpTrainsWritesItsFilesAndIsReproducible() throws Exception {
        Path a = tmp.resolve("mlp-a"), b = tmp.resolve("mlp-b");
        String[] common = {"mlp", "--device", "cpu", "--data", data.toString(), "--epochs", "6", "--batch-size", "16",
                "--lr", "0.003", "--hidden", "32", "--seed", "3"};
        String outA = run(concat(common, "--out", a.toString()));
        assertTrue(lastLine(outA).matches("test_accuracy=\\d\\.\\d{4}"), lastLine(outA));
        assertTrue(TorchEvalScriptTest.describe(a.resolve("model.safetensors")).startsWith("architecture: mlp hidden=32 ("));
        double accuracy = Double.parseDouble(lastLine(outA).substring("test_accuracy=".length()));
        assertTrue(accuracy >= 0.5, "the bands are easy to learn: accuracy " + accuracy);
        assertFiles(a, "loss.png", "accuracy.png", "confusion.png", "metrics.json", "model.safetensors");

        String outB = run(concat(common, "--out", b.toString()));
        assertEquals(lastLine(outA), lastLine(outB), "same seed, same result on the CPU");
        var ta = Safetensors.read(a.resolve("model.safetensors")).tensors();
        var tb = Safetensors.read(b.resolve("model.safetensors")).tensors();
        assertEquals(ta.keySet(), tb.keySet());
        assertTrue(ta.containsKey("0.weight") && ta.containsKey("6.bias"), "PyTorch-style names: " + ta.keySet());
        ta.forEach((name, t) -> assertArrayEquals(t.data(), tb.get(name).data(), name));

        assertArrayEquals(Files.readAllBytes(a.resolve("model.safetensors")), Files.readAllBytes(b.resolve("model.safetensors")),
                "identical runs write identical checkpoints, metadata included");
        assertEquals(Files.getPosixFilePermissions(a.resolve("loss.png")),
                Files.getPosixFilePermissions(a.resolve("model.safetensors")), "checkpoint readable like the pictures");
        assertEquals(Files.getPosixFilePermissions(a.resolve("loss.png")),
                Files.getPosixFilePermissions(a.resolve("metrics.json")), "metrics readable like the pictures");
        String metrics = Files.readString(a.resolve("metrics.json"));
        for (String key : List.of("\"architecture\": {\"hidden\": 32}", "\"steps_run\": 36", "\"epochs_run\": 6",
                "\"wall_seconds\"", "\"eval_steps\": [6, 12, 18, 24, 30, 36]")) {
            assertTrue(metrics.contains(key), key + " in " + metrics);
        }
        assertTrue(outA.contains("6 epochs of 6 steps (36 steps), batch 16, lr 0.003"), outA);

        // No architecture flag: the checkpoint says --hidden 32. Only the evaluation's files are written.
        Path eval = tmp.resolve("mlp-eval");
        byte[] checkpoint = Files.readAllBytes(a.resolve("model.safetensors"));
        String resumed = run("mlp", "--device", "cpu", "--data", data.toString(), "--eval-only",
                "--resume", a.resolve("model.safetensors").toString(), "--out", eval.toString());
        assertEquals(lastLine(outA), lastLine(resumed), "the checkpoint reproduces the accuracy");
        assertEquals(List.of("confusion.png", "evaluation.json"), names(eval));
        assertArrayEquals(checkpoint, Files.readAllBytes(a.resolve("model.safetensors")), "the checkpoint is left alone");
        assertTrue(Files.readString(eval.resolve("evaluation.json")).contains("\"test_accuracy\""));
    }

    /**
     * A run stopped by {@code --steps} in the middle of an epoch and continued with {@code --resume} (no other flag)
     * ends with the same weights, bit for bit, and the same accuracy as the uninterrupted run: the optimizer's
     * moments, the schedule, the dropout seeds and the data order all carry over.
     */
    @Test
    void mlpResumedHalfWayEndsBitIdentical() throws Exception {
        String[] common = {"mlp", "--device", "cpu", "--data", data.toString(), "--epochs", "3", "--batch-size", "16",
                "--lr", "0.003", "--hidden", "16", "--seed", "5"};
        Path whole = tmp.resolve("mlp-whole"), half = tmp.resolve("mlp-half"), rest = tmp.resolve("mlp-rest");
        String expected = lastLine(run(concat(common, "--out", whole.toString())));
        run(concat(common, "--steps", "8", "--out", half.toString()));
        var state = Safetensors.read(half.resolve("training-state.safetensors")).metadata();
        assertEquals(List.of("1", "2", "8"), List.of(state.get("jdl.epoch"), state.get("jdl.batch_in_epoch"), state.get("jdl.step")),
                "stopped at batch 2 of epoch 1 (6 batches per epoch)");
        String resumed = run("mlp", "--device", "cpu", "--data", data.toString(), "--resume", half.toString(), "--out", rest.toString());
        assertTrue(resumed.contains("Resumed from " + half.resolve("training-state.safetensors") + " after 8 steps"), resumed);
        assertEquals(expected, lastLine(resumed));
        assertArrayEquals(Files.readAllBytes(whole.resolve("model.safetensors")), Files.readAllBytes(rest.resolve("model.safetensors")),
                "the same weights and metadata, bit for bit");
        // The same optimizer state and dropout seeds (the metadata differs: the stopped run's evaluation is in its curves).
        var stateWhole = Safetensors.read(whole.resolve("training-state.safetensors")).tensors();
        var stateRest = Safetensors.read(rest.resolve("training-state.safetensors")).tensors();
        assertEquals(stateWhole.keySet(), stateRest.keySet());
        assertTrue(stateWhole.containsKey("optimizer.0.exp_avg") && stateWhole.containsKey("rng.2"), stateWhole.keySet().toString());
        stateWhole.forEach((name, t) -> assertArrayEquals(t.data(), stateRest.get(name).data(), name));
        String metrics = Files.readString(rest.resolve("metrics.json"));
        assertTrue(metrics.contains("\"steps_run\": 18"), "steps count from the start: " + metrics);
        assertTrue(metrics.contains("\"eval_steps\": [6, 8, 12, 18]"), "the curves cover the whole run, with the stop's"
                + " evaluation: " + metrics);

        // Finished: the same plan has nothing left to train; a longer one continues.
        Result done = launch("mlp", "--device", "cpu", "--data", data.toString(), "--resume", whole.toString(),
                "--out", tmp.resolve("mlp-done").toString());
        assertEquals(2, done.code(), done.err());
        assertTrue(done.err().startsWith("error: --epochs 3: is already reached: the --resume checkpoint has trained 18 steps"),
                done.err());
        String longer = run("mlp", "--device", "cpu", "--data", data.toString(), "--resume", whole.toString(), "--epochs", "4",
                "--out", tmp.resolve("mlp-longer").toString());
        assertTrue(longer.contains("4 epochs of 6 steps (24 steps)"), longer);
        assertTrue(longer.contains("epoch 4: train accuracy"), longer);

        // Settings the run started with cannot change under it; evaluation takes either checkpoint.
        Result seed = launch("mlp", "--device", "cpu", "--data", data.toString(), "--resume", half.toString(), "--seed", "6",
                "--out", tmp.resolve("mlp-seed").toString());
        assertEquals(2, seed.code(), seed.err());
        assertTrue(seed.err().startsWith("error: --seed 6: contradicts the --resume checkpoint, whose run had --seed 5"), seed.err());
        Result limit = launch("mlp", "--device", "cpu", "--data", data.toString(), "--resume", half.toString(),
                "--train-limit", "50", "--out", tmp.resolve("mlp-limit").toString());
        assertEquals(2, limit.code(), limit.err());
        assertTrue(limit.err().startsWith("error: --train-limit 50: contradicts the --resume checkpoint, whose run had"
                + " no --train-limit"), limit.err());
        String evaluated = run("mlp", "--device", "cpu", "--data", data.toString(), "--eval-only", "--resume",
                whole.resolve("training-state.safetensors").toString(), "--out", tmp.resolve("mlp-eval-state").toString());
        assertEquals(expected, lastLine(evaluated));
    }

    private static List<String> names(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void cnnTrainsAndDrawsItsKernels() {
        Path out = tmp.resolve("cnn");
        String text = run("cnn", "--device", "cpu", "--data", data.toString(), "--epochs", "1", "--batch-size", "16",
                "--width", "4", "--out", out.toString());
        assertTrue(lastLine(text).matches("test_accuracy=\\d\\.\\d{4}"), lastLine(text));
        assertFiles(out, "loss.png", "accuracy.png", "confusion.png", "conv1_kernels.png", "metrics.json", "model.safetensors");
        assertTrue(text.contains("Wrote " + out.toAbsolutePath() + ": training-state.safetensors, model.safetensors, metrics.json,"
                + " loss.png, accuracy.png, confusion.png, conv1_kernels.png"), text);
    }

    @Test
    void resnetVariantRuns() throws Exception {
        Path out = tmp.resolve("resnet");
        String text = run("cnn", "--resnet", "--device", "cpu", "--data", data.toString(), "--steps", "2",
                "--batch-size", "8", "--width", "4", "--out", out.toString());
        assertTrue(lastLine(text).startsWith("test_accuracy="), lastLine(text));
        assertTrue(text.contains("2 steps (0.17 epochs of 12 steps)"), text);
        assertTrue(Files.readString(out.resolve("metrics.json")).contains("\"eval_steps\": [2]"), "evaluated at the last step");
        Path checkpoint = out.resolve("model.safetensors");
        assertTrue(TorchEvalScriptTest.describe(checkpoint).startsWith("architecture: resnet width=4 ("));
        // Resuming needs no architecture flag: --resnet and --width 4 come from the checkpoint.
        String resumed = run("cnn", "--device", "cpu", "--data", data.toString(), "--eval-only", "--resume", checkpoint.toString(),
                "--out", tmp.resolve("resnet-eval").toString());
        assertEquals(lastLine(text), lastLine(resumed));

        // Batch norm's running statistics and counters carry over too: 1 step, then resumed to 2, is the 2-step run.
        Path first = tmp.resolve("resnet-1"), second = tmp.resolve("resnet-2");
        run("cnn", "--resnet", "--device", "cpu", "--data", data.toString(), "--steps", "1", "--batch-size", "8",
                "--width", "4", "--out", first.toString());
        String continued = run("cnn", "--device", "cpu", "--data", data.toString(), "--steps", "2", "--resume",
                first.resolve("training-state.safetensors").toString(), "--out", second.toString());
        assertEquals(lastLine(text), lastLine(continued));
        assertArrayEquals(Files.readAllBytes(checkpoint), Files.readAllBytes(second.resolve("model.safetensors")));
    }

    @Test
    void vitTrainsAndDrawsItsAttention() throws Exception {
        Path out = tmp.resolve("vit");
        String text = run("vit", "--device", "cpu", "--data", data.toString(), "--epochs", "1", "--batch-size", "16",
                "--patch", "7", "--dim", "16", "--layers", "1", "--heads", "2", "--out", out.toString());
        assertTrue(lastLine(text).matches("test_accuracy=\\d\\.\\d{4}"), lastLine(text));
        assertFiles(out, "loss.png", "accuracy.png", "confusion.png", "attention.png", "metrics.json", "model.safetensors");
        String described = "architecture: vit patch=7 dim=16 heads=2 layers=1 (19 tensors)";
        assertEquals(described, TorchEvalScriptTest.describe(out.resolve("model.safetensors")));
        assertEquals(described, TorchEvalScriptTest.describe(out.resolve("training-state.safetensors")),
                "the training state's model entries are the same state dict");
        assertEquals(described, TorchEvalScriptTest.describe(out), "a run folder is read through its model.safetensors");
    }

    /** A small repetitive text, so that a tiny model learns it in a few dozen steps. */
    private static Path text() throws IOException {
        Path f = tmp.resolve("text.txt");
        if (!Files.exists(f)) {
            Files.writeString(f, "the cat sat on the mat. the dog sat on the log.\n".repeat(60));
        }
        return f;
    }

    private static String[] charlm(Path out, String... extra) throws IOException {
        String[] common = {"charlm", "--device", "cpu", "--text", text().toString(), "--steps", "40", "--batch-size", "8",
                "--context", "16", "--dim", "32", "--layers", "1", "--heads", "2", "--lr", "0.01", "--generate", "40",
                "--out", out.toString()};
        return concat(common, extra);
    }

    /** Evaluates a charlm checkpoint: no architecture or training flags, only what evaluation needs. */
    private static String[] charlmEval(Path checkpoint, Path out) throws IOException {
        return new String[] {"charlm", "--device", "cpu", "--text", text().toString(), "--batch-size", "8", "--generate", "40",
                "--eval-only", "--resume", checkpoint.toString(), "--out", out.toString()};
    }

    @Test
    void charlmLearnsGeneratesAndIsReproducible() throws IOException {
        Path out = tmp.resolve("charlm");
        String first = run(charlm(out));
        String last = lastLine(first);
        assertTrue(last.matches("val_loss=\\d+\\.\\d{4}"), last);
        double loss = Double.parseDouble(last.substring("val_loss=".length()));
        assertTrue(loss < 1.5, "a repetitive text is easy to predict: " + loss + " nats/char (uniform is ln 16 = 2.8)");
        assertTrue(first.contains("--- generated from"), first);
        assertFiles(out, "loss.png", "attention.png", "metrics.json", "model.safetensors");
        assertEquals(last, lastLine(run(charlm(tmp.resolve("charlm-2")))), "same seed, same result");
        Path evalDir = tmp.resolve("charlm-eval");
        String evaluated = run(charlmEval(out.resolve("model.safetensors"), evalDir));
        assertEquals(last, lastLine(evaluated), "the checkpoint reproduces the validation loss");
        assertEquals(List.of("attention.png", "evaluation.json"), names(evalDir));
        String metrics = Files.readString(out.resolve("metrics.json"));
        assertTrue(metrics.contains("\"validation_steps\": [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]"), metrics);
        assertTrue(metrics.contains("\"architecture\": {\"mlm\": false, \"context\": 16, \"heads\": 2, \"dim\": 32, \"layers\": 1}"),
                metrics);
    }

    /**
     * charlm (causal and masked) stopped half-way with {@code --stop-after} and resumed from its folder with only
     * the text named ends bit-identical to the uninterrupted run: the windows and masks continue where they were.
     */
    @Test
    void charlmResumedHalfWayEndsBitIdentical() throws IOException {
        for (String mode : List.of("causal", "mlm")) {
            String[] extra = mode.equals("mlm") ? new String[] {"--mlm"} : new String[0];
            Path whole = tmp.resolve("charlm-whole-" + mode), half = tmp.resolve("charlm-half-" + mode),
                    rest = tmp.resolve("charlm-rest-" + mode);
            String expected = lastLine(run(charlm(whole, extra)));
            String stopped = run(charlm(half, concat(extra, "--stop-after", "20")));
            assertTrue(stopped.contains("40 steps (stopping after 20)"), stopped);
            String resumed = run("charlm", "--device", "cpu", "--text", text().toString(), "--generate", "40",
                    "--resume", half.toString(), "--out", rest.toString());
            assertTrue(resumed.contains("after 20 steps"), resumed);
            assertEquals(expected, lastLine(resumed), mode);
            assertArrayEquals(Files.readAllBytes(whole.resolve("model.safetensors")),
                    Files.readAllBytes(rest.resolve("model.safetensors")), mode + ": the same weights, bit for bit");
            assertEquals(validationCurve(whole), validationCurve(rest), mode + ": the curves cover the whole run");
        }
        Path longer = Files.writeString(tmp.resolve("longer.txt"), Files.readString(text()).repeat(2));
        Result otherText = launch("charlm", "--device", "cpu", "--text", longer.toString(), "--resume",
                tmp.resolve("charlm-half-causal").toString(), "--out", tmp.resolve("charlm-other").toString());
        assertEquals(1, otherText.code(), otherText.err());
        assertTrue(otherText.err().startsWith("error: --text " + longer + ": has 5760 characters, the text of the --resume"
                + " checkpoint's run had 2880"), otherText.err());
        Result beyond = launch(charlm(tmp.resolve("charlm-beyond"), "--stop-after", "41"));
        assertEquals(2, beyond.code(), beyond.err());
        assertTrue(beyond.err().startsWith("error: --stop-after 41: is beyond the run's end at --steps 40"), beyond.err());
    }

    /** The validation steps and losses of a charlm run's metrics.json. */
    private static String validationCurve(Path run) throws IOException {
        var m = java.util.regex.Pattern.compile("\"validation_steps\": \\[[^]]*], \"validation_loss\": \\[[^]]*]")
                .matcher(Files.readString(run.resolve("metrics.json")).replaceAll("\\s+", " "));
        assertTrue(m.find(), "validation curve in " + run);
        return m.group();
    }

    @Test
    void charlmMaskedModelShowsItsPredictions() throws IOException {
        Path out = tmp.resolve("mlm");
        String text = run(charlm(out, "--mlm"));
        assertTrue(lastLine(text).startsWith("val_loss="), lastLine(text));
        assertTrue(text.contains("masked characters recovered"), text);
        assertFiles(out, "loss.png", "attention.png", "metrics.json", "model.safetensors");
    }

    @Test
    void demoConvergesAndSaysWhatItFound() {
        String out = run("demo", "--steps", "60");
        assertTrue(out.contains("demo=ok"), out);
        for (String part : List.of("NVIDIA driver:", "CUDA runtime:", "CUDA devices:", "cuBLAS:", "cuDNN:", "Device: ")) {
            assertTrue(out.contains(part), part + " in " + out);
        }
    }

    /** Paths on the command line mean what they mean where the launcher was started, as in any command-line tool. */
    @Test
    void relativePathsResolveAgainstTheWorkingDirectory() throws Exception {
        Path home = Files.createDirectories(tmp.resolve("caller"));
        Files.writeString(home.resolve("notes.txt"), "a rose by any other name would smell as sweet.\n".repeat(40));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Djava.awt.headless=true",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "charlm", "--device", "cpu", "--text", "notes.txt", "--steps", "2", "--batch-size", "4", "--context", "8",
                "--dim", "8", "--heads", "2", "--layers", "1", "--generate", "5", "--out", "run")
                .directory(home.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        assertTrue(Files.isRegularFile(home.resolve("run").resolve("model.safetensors")), out);
        assertTrue(out.contains("charlm on notes.txt:"), out);
    }

    static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
