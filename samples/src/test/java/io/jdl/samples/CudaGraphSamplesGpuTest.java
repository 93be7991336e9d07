package io.jdl.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.io.Safetensors;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --cuda-graph} trains as the eager loop does: the same weights and optimizer state after two epochs
 * (each: one eager warm-up step, a capture, replays). On the host stand-in where there is no GPU.
 */
@Tag("gpu")
class CudaGraphSamplesGpuTest {

    @TempDir
    static Path tmp;
    static Path data;

    @BeforeAll
    static void needsCuda() throws Exception {
        Assumptions.assumeTrue(GpuReport.usable(), "no usable CUDA device (the stand-in runs this in CI)");
        data = SamplesEndToEndTest.writeData(tmp);
    }

    private static void assertSameTraining(String sample, String... flags) throws Exception {
        String tag = String.join("", flags).replace("-", "");
        Path eager = tmp.resolve(sample + tag + "-eager"), graphed = tmp.resolve(sample + tag + "-graph");
        String[] common = concat(new String[] {sample, "--device", "cuda", "--data", data.toString(),
                "--epochs", "2", "--batch-size", "16", "--lr", "0.003", "--seed", "3"}, flags);
        var a = SamplesEndToEndTest.launch(concat(common, "--out", eager.toString()));
        var b = SamplesEndToEndTest.launch(concat(common, "--out", graphed.toString(), "--cuda-graph"));
        assertEquals(0, a.code(), a.err());
        assertEquals(0, b.code(), b.err());
        for (String file : new String[] {"model.safetensors", "training-state.safetensors"}) {
            var ta = Safetensors.read(eager.resolve(file)).tensors();
            var tb = Safetensors.read(graphed.resolve(file)).tensors();
            assertEquals(ta.keySet(), tb.keySet(), file);
            ta.forEach((name, t) -> {
                float[] x = t.data(), y = tb.get(name).data();
                double diff = 0, scale = 1e-12;
                for (int i = 0; i < x.length; i++) {
                    diff = Math.max(diff, Math.abs(x[i] - y[i]));
                    scale = Math.max(scale, Math.abs(x[i]));
                }
                assertTrue(diff / scale < 1e-5, file + " " + name + " differs by " + diff / scale);
            });
        }
        String lastA = a.out().lines().filter(l -> l.startsWith("test_accuracy=")).findFirst().orElseThrow();
        String lastB = b.out().lines().filter(l -> l.startsWith("test_accuracy=")).findFirst().orElseThrow();
        assertEquals(lastA, lastB);
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void mlpWithCudaGraphTrainsAsTheEagerLoop() throws Exception {
        assertSameTraining("mlp", "--hidden", "32");
    }

    /** bf16 autocast inside the capture: its casts replay like any kernel. */
    @Test
    void mlpWithBf16AndCudaGraphTrainsAsTheEagerLoop() throws Exception {
        assertSameTraining("mlp", "--hidden", "32", "--precision", "bf16");
    }

    @Test
    void cnnWithBf16AndCudaGraphTrainsAsTheEagerLoop() throws Exception {
        assertSameTraining("cnn", "--width", "4", "--precision", "bf16");
    }

    @Test
    void cnnWithCudaGraphTrainsAsTheEagerLoop() throws Exception {
        assertSameTraining("cnn", "--width", "4");
    }
}
