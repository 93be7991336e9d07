package io.jdl.samples;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.device.Precision;
import io.jdl.io.Safetensors;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code --precision} end to end on the CPU, on the tiny generated data of {@link SamplesEndToEndTest}: every
 * training sample trains with bf16 autocast (and its weights are not those of the float32 run, so autocast did
 * round), fp16 trains with its loss scaler and resumes it, tf32 is float32 on the CPU, and bad combinations are
 * usage errors. The accuracy target at a real size is {@link Bf16AccuracyTargetTest}.
 */
class PrecisionSamplesTest {
    /** Checkpoint's metadata keys of the loss scaler's state (PyTorch's state_dict names). */
    private static final String SCALE = "jdl.scaler.scale", GROWTH_TRACKER = "jdl.scaler._growth_tracker";
    @TempDir
    static Path tmp;
    static Path data, text;

    @BeforeAll
    static void writeData() throws IOException {
        data = SamplesEndToEndTest.writeData(tmp);
        text = tmp.resolve("text.txt");
        Files.writeString(text, "the cat sat on the mat. the dog sat on the log.\n".repeat(60));
    }

    @AfterAll
    static void defaultMath() {
        Precision.defaults(); // the samples set the process-wide TF32 policy; leave it as other tests expect
    }

    /** Each sample's short run, its output folder last. */
    private static String[] args(String sample, Path out, String... extra) {
        String[] common = switch (sample) {
            case "mlp" -> new String[] {"mlp", "--device", "cpu", "--data", data.toString(), "--epochs", "4",
                    "--batch-size", "16", "--lr", "0.003", "--hidden", "32", "--seed", "3"};
            case "cnn" -> new String[] {"cnn", "--device", "cpu", "--data", data.toString(), "--epochs", "1",
                    "--batch-size", "16", "--width", "4", "--seed", "3"};
            case "vit" -> new String[] {"vit", "--device", "cpu", "--data", data.toString(), "--epochs", "1",
                    "--batch-size", "16", "--dim", "16", "--heads", "2", "--layers", "1", "--seed", "3"};
            case "charlm" -> new String[] {"charlm", "--device", "cpu", "--text", text.toString(), "--steps", "30",
                    "--batch-size", "8", "--context", "16", "--dim", "32", "--layers", "1", "--heads", "2", "--lr", "0.01",
                    "--generate", "20", "--seed", "3"};
            default -> throw new IllegalArgumentException(sample);
        };
        return SamplesEndToEndTest.concat(SamplesEndToEndTest.concat(common, extra), "--out", out.toString());
    }

    private static String run(String... args) {
        SamplesEndToEndTest.Result r = SamplesEndToEndTest.launch(args);
        assertEquals(0, r.code(), r.out() + r.err());
        assertEquals("", r.err(), "nothing on stderr after a successful run");
        return r.out();
    }

    private static double lastValue(String out) {
        String last = out.lines().filter(l -> !l.isBlank()).reduce((a, b) -> b).orElseThrow();
        assertTrue(last.matches("(test_accuracy|val_loss)=\\d+\\.\\d{4}"), last);
        return Double.parseDouble(last.substring(last.indexOf('=') + 1));
    }

    @ParameterizedTest
    @ValueSource(strings = {"mlp", "cnn", "vit", "charlm"})
    void everyTrainingSampleTrainsWithBf16Autocast(String sample) throws IOException {
        Path fp32 = tmp.resolve(sample + "-fp32"), bf16 = tmp.resolve(sample + "-bf16");
        double reference = lastValue(run(args(sample, fp32)));
        String out = run(args(sample, bf16, "--precision", "bf16"));
        double value = lastValue(out);
        assertTrue(out.contains(", bf16"), "the plan line names the precision: " + out);
        assertTrue(Files.readString(bf16.resolve("metrics.json")).contains("\"precision\": \"bf16\""));
        assertTrue(Files.readString(fp32.resolve("metrics.json")).contains("\"precision\": \"fp32\""));
        assertEquals("bf16", Safetensors.read(bf16.resolve("training-state.safetensors")).metadata().get("train.precision"));

        // The master weights stay float32 but differ from the float32 run's: the products really ran in bfloat16.
        var a = Safetensors.read(fp32.resolve("model.safetensors")).tensors();
        var b = Safetensors.read(bf16.resolve("model.safetensors")).tensors();
        assertEquals(a.keySet(), b.keySet());
        assertFalse(a.keySet().stream().allMatch(k -> Arrays.equals(a.get(k).data(), b.get(k).data())),
                "bf16 autocast trained exactly as float32: the casts did not happen");
        if (sample.equals("charlm")) {
            assertTrue(Math.abs(value - reference) < 0.1, "bf16 " + value + " against float32 " + reference + " nats/char");
        } else if (sample.equals("mlp")) {
            // 32 test images after 24 steps say only that it learns; the closeness to float32 is measured at size.
            assertTrue(value >= 0.5 && reference >= 0.5, "bf16 accuracy " + value + ", float32 " + reference);
        }
    }

    /**
     * fp16 trains with PyTorch's GradScaler recipe, and a run stopped half-way and resumed ends bit for bit as the
     * uninterrupted one: the loss scale and its good-step count travel in the training state.
     */
    @Test
    void fp16ScalesTheLossAndResumesItsScaler() throws IOException {
        Path whole = tmp.resolve("fp16-whole"), half = tmp.resolve("fp16-half"), rest = tmp.resolve("fp16-rest");
        String expected = run(args("mlp", whole, "--precision", "fp16"));
        assertTrue(lastValue(expected) >= 0.5, expected);
        assertTrue(Files.readString(whole.resolve("metrics.json")).contains("\"precision\": \"fp16\""));
        run(args("mlp", half, "--precision", "fp16", "--steps", "9"));
        Map<String, String> stopped = Safetensors.read(half.resolve("training-state.safetensors")).metadata();
        assertNotNull(stopped.get(SCALE), stopped.toString());
        assertNotNull(stopped.get(GROWTH_TRACKER), stopped.toString());

        String resumed = run("mlp", "--device", "cpu", "--data", data.toString(), "--resume", half.toString(),
                "--out", rest.toString());
        assertTrue(resumed.contains(", fp16"), "the resumed run keeps the checkpoint's precision: " + resumed);
        assertArrayEquals(Files.readAllBytes(whole.resolve("model.safetensors")),
                Files.readAllBytes(rest.resolve("model.safetensors")), "the same weights, bit for bit");
        Map<String, String> a = Safetensors.read(whole.resolve("training-state.safetensors")).metadata();
        Map<String, String> b = Safetensors.read(rest.resolve("training-state.safetensors")).metadata();
        assertEquals(a.get(SCALE), b.get(SCALE));
        assertEquals(a.get(GROWTH_TRACKER), b.get(GROWTH_TRACKER));
        // The scaler's good-step count moved: the state is live, not a constant written back.
        assertTrue(Integer.parseInt(a.get(GROWTH_TRACKER)) > Integer.parseInt(stopped.get(GROWTH_TRACKER))
                || !a.get(SCALE).equals(stopped.get(SCALE)), a + " after " + stopped);
    }

    /** On the CPU TF32 does not exist: tf32 trains bit for bit as fp32, and each run sets the process-wide policy. */
    @Test
    void tf32IsFloat32OnTheCpuAndSetsThePolicy() throws IOException {
        Path fp32 = tmp.resolve("policy-fp32"), tf32 = tmp.resolve("policy-tf32");
        run(args("mlp", tf32, "--precision", "tf32"));
        assertTrue(Precision.matmulTf32() && Precision.cudnnAllowTf32(), Precision.describe());
        run(args("mlp", fp32));
        assertTrue(!Precision.matmulTf32() && Precision.cudnnAllowTf32(), "fp32 means PyTorch's defaults: "
                + Precision.describe());
        run(args("mlp", tmp.resolve("policy-off"), "--tf32", "off"));
        assertFalse(Precision.matmulTf32() || Precision.cudnnAllowTf32(), "--tf32 off: " + Precision.describe());
        run(args("mlp", tmp.resolve("policy-bf16-on"), "--precision", "bf16", "--tf32", "on"));
        assertTrue(Precision.matmulTf32() && Precision.cudnnAllowTf32(), "--tf32 on: " + Precision.describe());
        var a = Safetensors.read(fp32.resolve("model.safetensors")).tensors();
        var b = Safetensors.read(tf32.resolve("model.safetensors")).tensors();
        a.forEach((name, t) -> assertArrayEquals(t.data(), b.get(name).data(), name));
    }

    @Test
    void badPrecisionsAreUsageErrors() throws IOException {
        Path out = tmp.resolve("refused");
        var unknown = SamplesEndToEndTest.launch(args("mlp", out, "--precision", "fp8"));
        assertEquals(2, unknown.code());
        assertTrue(unknown.err().contains("--precision takes fp32, tf32, bf16 or fp16, got 'fp8'"), unknown.err());

        var contradiction = SamplesEndToEndTest.launch(args("mlp", out, "--precision", "tf32", "--tf32", "off"));
        assertEquals(2, contradiction.code());
        assertTrue(contradiction.err().contains("--tf32 off contradicts --precision tf32"), contradiction.err());

        var graph = SamplesEndToEndTest.launch(args("cnn", out, "--precision", "fp16", "--cuda-graph"));
        assertEquals(2, graph.code());
        assertTrue(graph.err().contains("--cuda-graph cannot run --precision fp16"), graph.err());

        var eval = SamplesEndToEndTest.launch("mlp", "--device", "cpu", "--data", data.toString(), "--eval-only",
                "--resume", tmp.resolve("whatever").toString(), "--precision", "bf16");
        assertEquals(2, eval.code());
        assertTrue(eval.err().contains("--precision does not apply"), eval.err());

        Path first = tmp.resolve("refused-fp32");
        run(args("charlm", first));
        var other = SamplesEndToEndTest.launch("charlm", "--device", "cpu", "--text", text.toString(), "--steps", "40",
                "--resume", first.toString(), "--precision", "bf16", "--out", tmp.resolve("refused-bf16").toString());
        assertEquals(2, other.code());
        assertTrue(other.err().contains("--precision") && other.err().contains("contradicts the --resume checkpoint"),
                other.err());
        for (String sample : List.of("perceptron", "baseline")) {
            var help = SamplesEndToEndTest.launch(sample, "--help");
            assertTrue(help.out().contains("Trains in float32 only, without --precision"), help.out());
        }
    }
}
