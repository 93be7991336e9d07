package io.jdl.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jdl.autograd.GradCheck;
import io.jdl.backend.cuda.CudaBackend;
import io.jdl.cuda.CudaDevice;
import io.jdl.cuda.NativeCounters;
import io.jdl.device.Device;
import io.jdl.device.Precision;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The fused CUDA ops of issue #13 item 3 against the CPU reference, and the launches they take: softmax
 * cross-entropy is one kernel forward and one backward.
 */
@Tag("gpu")
class FusionsGpuTest {
    private static final Device GPU = Device.cuda(0);
    private final Random rng = new Random(1313);

    @BeforeEach
    void needsGpu() {
        Assumptions.assumeTrue(CudaDevice.isAvailable(), "no CUDA device: " + CudaDevice.unavailableReason());
        Precision.tf32(false);
    }

    private static long launches(Runnable r) {
        NativeCounters.Snapshot before = CudaBackend.counters();
        r.run();
        return CudaBackend.counters().minus(before).kernelLaunches();
    }

    /** More rows than the forward's 1024 blocks (blocks take several rows), a tenth of them ignored. */
    @Test
    void crossEntropyOverManyRowsMatchesTheCpu() {
        int rows = 2500, classes = 37;
        int[] targets = new int[rows];
        for (int i = 0; i < rows; i++) {
            targets[i] = i % 10 == 3 ? -100 : rng.nextInt(classes);
        }
        Parity.same("crossEntropy 2500x37", GPU, rng, GpuParityTest::close, x -> x[0].crossEntropy(targets),
                new float[][] {GradCheck.randn(rng, rows * classes)}, Shape.of(rows, classes));
        Parity.same("crossEntropy all ignored", GPU, rng, GpuParityTest::close, x -> x[0].crossEntropy(new int[] {7, 7}, 7),
                new float[][] {GradCheck.randn(rng, 2 * classes)}, Shape.of(2, classes));
    }

    @Test
    void crossEntropyIsOneLaunchEachWay() {
        int rows = 300, classes = 10;
        int[] targets = new int[rows];
        for (int i = 0; i < rows; i++) {
            targets[i] = rng.nextInt(classes);
        }
        try (Tensor logits = Tensor.of(GradCheck.randn(rng, rows * classes), Shape.of(rows, classes), GPU)
                .requiresGrad(true)) {
            for (int step = 0; step < 2; step++) {  // the second step reuses the uploaded targets
                Tensor[] loss = new Tensor[1];
                assertEquals(1, launches(() -> loss[0] = logits.crossEntropy(targets)), "forward launches");
                // backward: the seed gradient (a fill of ones) and the cross-entropy kernel
                assertEquals(2, launches(loss[0]::backward), "backward launches");
                loss[0].close();
                logits.zeroGrad();
            }
        }
    }
}
