package io.jdl.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The pieces of the GPU bundle's run that must work before any GPU is involved: the environment report
 * finishes on any machine, the training-step workloads are the rows bench_torch.py names and learn on the
 * CPU, and the phase profiler refuses bad arguments before it looks for a device.
 */
class BenchHarnessTest {
    @Test
    void environmentReportFinishesWithEveryProbeOnAnyMachine() {
        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            GpuEnvironment.main(new String[0]);
        } finally {
            System.setOut(original);
        }
        List<String> lines = captured.toString(StandardCharsets.UTF_8).lines().filter(l -> !l.startsWith("[")).toList();
        for (String key : List.of("java", "library.search", "library.cudart", "cuda.runtime", "cuda.driver", "cublas",
                "cudnn", "cuda.devices")) {
            assertTrue(lines.stream().anyMatch(l -> l.startsWith(key + ": ")), () -> key + " missing from " + lines);
        }
        String last = lines.getLast();
        assertTrue(last.equals("cuda.available: true") || last.equals("cuda.available: false"), last);
    }

    @Test
    void trainStepRowsAreBenchTorchNamesAndLearnOnTheCpu() {
        try (TrainStepFixture cnn = new TrainStepFixture("cnn", "cpu", 4, 16, false, "fp32");
             TrainStepFixture mlp = new TrainStepFixture("mlp", "cpu", 8, 16, false, "fp32")) {
            assertEquals("cnn b=4", cnn.row());
            assertEquals("mlp b=8", mlp.row());
            float first = loss(mlp);
            for (int i = 0; i < 20; i++) {
                mlp.step();
            }
            // Fixed inputs and labels: Adam must fit them, so the same step's loss drops.
            assertTrue(loss(mlp) < 0.5f * first, () -> "loss did not fall: " + first + " -> " + loss(mlp));
            cnn.step();
            assertTrue(Float.isFinite(loss(cnn)));
        }
    }

    /** The autocast rows: bench_torch.py's names, and the step still fits its batch (fp16 through the GradScaler). */
    @Test
    void trainStepRowsUnderAutocastLearnOnTheCpu() {
        for (String precision : List.of("bf16", "fp16")) {
            try (TrainStepFixture mlp = new TrainStepFixture("mlp", "cpu", 8, 16, false, precision)) {
                assertEquals("mlp b=8 " + precision, mlp.row());
                float first = loss(mlp);
                for (int i = 0; i < 20; i++) {
                    mlp.step();
                }
                assertTrue(loss(mlp) < 0.5f * first, () -> precision + ": loss did not fall: " + first + " -> " + loss(mlp));
            }
        }
        var e = assertThrows(IllegalArgumentException.class, () -> new TrainStepFixture("mlp", "cpu", 8, 16, false, "tf32"));
        assertTrue(e.getMessage().contains("-p tf32=true"), e.getMessage());
    }

    @Test
    void trainStepFixtureRefusesUnknownModelsAndBatches() {
        var e = assertThrows(IllegalArgumentException.class, () -> new TrainStepFixture("rnn", "cpu", 8, 16, false, "fp32"));
        assertTrue(e.getMessage().contains("mlp, cnn or gpt"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new TrainStepFixture("mlp", "cpu", 0, 16, false, "fp32"));
    }

    @Test
    void phaseProfilerRefusesBadArgumentsBeforeLookingForADevice() {
        assertEquals(new TrainStepPhases.Row("gpt", 64), TrainStepPhases.Row.parse("gpt:64"));
        for (String[] args : List.of(new String[] {"mlp"}, new String[] {"rnn:8"}, new String[] {"mlp:0"},
                new String[] {"mlp:x"}, new String[] {"--steps"}, new String[] {"--tf32", "maybe", "mlp:8"},
                new String[0])) {
            var e = assertThrows(IllegalArgumentException.class, () -> TrainStepPhases.main(args), String.join(" ", args));
            assertTrue(e.getMessage() != null && !e.getMessage().isBlank());
        }
    }

    private static float loss(TrainStepFixture f) {
        try (Tensor logits = f.logits(); Tensor loss = f.loss(logits)) {
            return loss.item();
        }
    }
}
