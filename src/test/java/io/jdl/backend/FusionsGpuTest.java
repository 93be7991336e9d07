package io.jdl.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jdl.autograd.GradCheck;
import io.jdl.backend.cuda.CudaBackend;
import io.jdl.cuda.CudaDevice;
import io.jdl.cuda.NativeCounters;
import io.jdl.device.Device;
import io.jdl.device.Precision;
import io.jdl.nn.Activations;
import io.jdl.nn.Conv2d;
import io.jdl.nn.Linear;
import io.jdl.nn.Sequential;
import io.jdl.tensor.FusedActivation;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The fused CUDA ops of issue #13 item 3 against the CPU reference, and the launches they take: softmax
 * cross-entropy is one kernel forward and one backward; a linear layer's or convolution's bias and activation
 * one kernel, equal bit for bit to the unfused kernels.
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

    @AfterEach
    void defaultPrecision() {
        Precision.defaults();  // for the classes after this one
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

    private static final FusedActivation[] ACTIVATIONS = {FusedActivation.relu(), FusedActivation.leakyRelu(-0.2f),
        FusedActivation.sigmoid(), FusedActivation.tanh(), FusedActivation.gelu()};

    @Test
    void linearAndConvolutionWithActivationsMatchTheCpu() {
        for (FusedActivation act : ACTIVATIONS) {
            Parity.same("linear " + act, GPU, rng, GpuParityTest::close, x -> x[0].linear(x[1], x[2], act),
                    new float[][] {GradCheck.randn(rng, 33 * 17), GradCheck.randn(rng, 9 * 17), GradCheck.randn(rng, 9)},
                    Shape.of(33, 17), Shape.of(9, 17), Shape.of(9));
            Parity.same("conv2d " + act, GPU, rng, GpuParityTest::close, x -> x[0].conv2d(x[1], x[2], 1, 1, 1, 1, act),
                    new float[][] {GradCheck.randn(rng, 2 * 3 * 7 * 6), GradCheck.randn(rng, 5 * 3 * 3 * 3),
                        GradCheck.randn(rng, 5)}, Shape.of(2, 3, 7, 6), Shape.of(5, 3, 3, 3), Shape.of(5));
        }
    }

    /** Fused and unfused on the device: the same kernels' formulas, so the same bits, forward and backward. */
    @Test
    void fusedEqualsUnfusedOnTheDevice() {
        float[] xs = GradCheck.randn(rng, 33 * 17), ws = GradCheck.randn(rng, 9 * 17), bs = GradCheck.randn(rng, 9);
        float[][] fused = null;
        for (FusedActivation act : ACTIVATIONS) {
            for (boolean fuse : new boolean[] {true, false}) {
                try (Tensor x = Tensor.of(xs, Shape.of(33, 17), GPU).requiresGrad(true);
                     Tensor w = Tensor.of(ws, Shape.of(9, 17), GPU).requiresGrad(true);
                     Tensor b = Tensor.of(bs, Shape.of(9), GPU).requiresGrad(true);
                     Tensor y = fuse ? x.linear(w, b, act) : unfused(x.linear(w, b), act);
                     Tensor loss = y.mul(y).sum()) {
                    float[] out = y.toArray();
                    loss.backward();
                    float[][] r = {out, x.grad().toArray(), w.grad().toArray(), b.grad().toArray()};
                    if (fuse) {
                        fused = r;
                    } else {
                        for (int i = 0; i < r.length; i++) {
                            assertArrayEquals(r[i], fused[i], act + " output/gradient " + i);
                        }
                    }
                }
            }
        }
    }

    private static Sequential onGpu(Sequential s) {
        s.to(GPU);
        return s;
    }

    private static Tensor unfused(Tensor pre, FusedActivation act) {
        try (pre) {
            return switch (act.toString()) {
                case "RELU" -> pre.relu();
                case "SIGMOID" -> pre.sigmoid();
                case "TANH" -> pre.tanh();
                case "GELU" -> pre.gelu();
                default -> pre.leakyRelu(-0.2f);
            };
        }
    }

    @Test
    void sequentialFusesBiasAndActivationIntoOneLaunch() {
        Random r = new Random(3);
        try (Sequential net = onGpu(new Sequential(new Linear(20, 30, r), Activations.relu()));
             Sequential conv = onGpu(new Sequential(new Conv2d(2, 4, 3, 1, r), Activations.relu()));
             Tensor x = Tensor.of(GradCheck.randn(rng, 8 * 20), Shape.of(8, 20), GPU);
             Tensor img = Tensor.of(GradCheck.randn(rng, 2 * 2 * 6 * 6), Shape.of(2, 2, 6, 6), GPU)) {
            // forward: the GEMM / convolution (library calls, not jdl launches) and one bias + ReLU kernel
            Tensor[] y = new Tensor[1];
            assertEquals(1, launches(() -> y[0] = net.forward(x)), "Linear + ReLU forward launches");
            y[0].close();
            assertEquals(2, launches(() -> y[0] = net.get(1).forward(net.get(0).forward(x))),
                    "the same two modules one by one: bias, then ReLU");
            y[0].close();
            assertEquals(1, launches(() -> y[0] = conv.forward(img)), "Conv2d + ReLU forward launches");
            y[0].close();
        }
    }

    /** Broadcasting add, sub, mul read the smaller operand in place: CPU parity and one launch forward. */
    @Test
    void broadcastingOpsReadTheirOperandsInPlace() {
        int[][][] shapes = {{{2, 3, 4, 5}, {1, 3, 1, 1}}, {{5, 1, 7}, {1, 6, 1}}, {{2, 1, 3, 1, 4}, {1, 5, 1, 6, 1}}};
        for (int[][] s : shapes) {
            Shape as = Shape.of(s[0]), bs = Shape.of(s[1]);
            float[][] v = {GradCheck.randn(rng, (int) as.numel()), GradCheck.randn(rng, (int) bs.numel())};
            Parity.same("add " + as + bs, GPU, rng, GpuParityTest::close, x -> x[0].add(x[1]), v, as, bs);
            Parity.same("sub " + as + bs, GPU, rng, GpuParityTest::close, x -> x[0].sub(x[1]), v, as, bs);
            Parity.same("mul " + as + bs, GPU, rng, GpuParityTest::close, x -> x[0].mul(x[1]), v, as, bs);
        }
        try (Tensor x = Tensor.of(GradCheck.randn(rng, 120), Shape.of(2, 3, 4, 5), GPU);
             Tensor b = Tensor.of(GradCheck.randn(rng, 3), Shape.of(1, 3, 1, 1), GPU)) {
            Tensor[] y = new Tensor[1];
            assertEquals(1, launches(() -> y[0] = x.add(b)), "broadcasting add: one kernel, no expand passes");
            y[0].close();
        }
    }
}
