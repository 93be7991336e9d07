package io.jdl.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.cuda.Gpu;
import io.jdl.cudnn.FlashAttentionPlan;
import io.jdl.device.Device;
import io.jdl.nn.Linear;
import io.jdl.nn.Module;
import io.jdl.nn.Transformer;
import io.jdl.nn.TransformerBlock;
import io.jdl.optim.Adam;
import io.jdl.tensor.Autocast;
import io.jdl.tensor.CudaGraphStep;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import io.jdl.tensor.TensorScope;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Training steps under bf16 autocast run their attention through cuDNN's flash attention on CUDA: a causal
 * LM step's loss and gradients equal the CPU's (the GEMM path) within bf16 tolerance, and a GPT-block step
 * with attention dropout captured as a CUDA graph (the flash-attention graphs and their dropout masks
 * inside) replays exactly as eager steps.
 */
@Tag("gpu")
class FlashAttentionStepGpuTest {
    private static final Device GPU = Device.cuda(0);
    private static final int BATCH = 2, TOKENS = 12, WIDTH = 32, HEADS = 2, CLASSES = 5, STEPS = 4;

    @BeforeEach
    void needsGpu() {
        Gpu.assumeAvailable();
    }

    @Test
    void aCausalLmStepInBf16UsesFlashAttentionAndMatchesTheCpu() {
        // Head size 64, as the GPT benchmark row's 384 / 6.
        Transformer.Config c = new Transformer.Config(11, 16, 128, 2, 1, 0f, false);
        int[] ids = new Random(3).ints(BATCH * 16, 0, 11).toArray();
        int[] next = new Random(4).ints(BATCH * 16, 0, 11).toArray();
        float[] cpuLoss = new float[1], gpuLoss = new float[1];
        List<float[]> cpuGrads = lmStep(Device.CPU, c, ids, next, cpuLoss);
        long before = FlashAttentionPlan.executions();
        List<float[]> gpuGrads = lmStep(GPU, c, ids, next, gpuLoss);
        assertEquals(2, FlashAttentionPlan.executions() - before, "one flash forward and one backward");
        assertEquals(cpuLoss[0], gpuLoss[0], 2e-2 * Math.abs(cpuLoss[0]), "loss");
        for (int i = 0; i < cpuGrads.size(); i++) {
            double err = Gpu.relativeError(gpuGrads.get(i), cpuGrads.get(i));
            assertTrue(err < 5e-2, "gradient of parameter " + i + ": relative error " + err);
        }
    }

    private static List<float[]> lmStep(Device device, Transformer.Config c, int[] ids, int[] next, float[] loss) {
        try (Transformer lm = Transformer.causalLm(c, new Random(9))) {
            lm.to(device);
            Tensor l;
            try (Autocast ac = Autocast.bf16()) {
                l = lm.forward(ids, BATCH, 16, null).reshape(BATCH * 16, c.vocab()).crossEntropy(next);
            }
            try (l) {
                l.backward();
                loss[0] = l.item();
            }
            return lm.parameters().stream().map(p -> p.grad().toArray()).toList();
        }
    }

    /** A GPT block (pre-norm attention + MLP, causal, dropout 0.1) and a classifier over its tokens. */
    private static final class Net extends Module {
        private final TransformerBlock block;
        private final Linear head;

        Net(long seed) {
            Random rng = new Random(seed);
            block = registerModule("block", new TransformerBlock(WIDTH, HEADS, true, 0.1f, rng));
            head = registerModule("head", new Linear(WIDTH, CLASSES, rng));
        }

        @Override
        protected Tensor compute(Tensor x) {
            return head.forward(block.forward(x, null).reshape(BATCH * TOKENS, WIDTH));
        }
    }

    private static float step(Net net, Adam adam, Tensor x, int[] y) {
        adam.zeroGrad();
        try (TensorScope scope = TensorScope.open()) {
            Tensor loss;
            try (Autocast ac = Autocast.bf16()) {
                loss = net.forward(x).crossEntropy(y);
            }
            loss.backward();
            adam.step();
            return loss.item();
        }
    }

    @Test
    void aBf16GptStepWithFlashAttentionReplaysAsACudaGraph() {
        Random rng = new Random(1);
        Shape input = Shape.of(BATCH, TOKENS, WIDTH);
        float[][] xs = new float[STEPS][];
        int[][] ys = new int[STEPS][];
        for (int s = 0; s < STEPS; s++) {
            xs[s] = new float[Math.toIntExact(input.numel())];
            for (int i = 0; i < xs[s].length; i++) {
                xs[s][i] = (float) rng.nextGaussian();
            }
            ys[s] = rng.ints(BATCH * TOKENS, 0, CLASSES).toArray();
        }
        float[] eager = new float[STEPS], replayed = new float[STEPS];
        try (Net a = new Net(7); Net b = new Net(7)) {
            a.to(GPU);
            b.to(GPU);
            try (Adam adamA = new Adam(a.parameters(), 1e-2f); Adam adamB = new Adam(b.parameters(), 1e-2f);
                 Tensor x = Tensor.zeros(input, GPU)) {
                for (int s = 0; s < STEPS; s++) {
                    long before = FlashAttentionPlan.executions();
                    try (Tensor xi = Tensor.of(xs[s], input, GPU)) {
                        eager[s] = step(a, adamA, xi, ys[s]);
                    }
                    assertEquals(2, FlashAttentionPlan.executions() - before, "eager step " + s + ": flash fwd + bwd");
                }
                try (Tensor x0 = Tensor.of(xs[0], input, GPU)) {
                    x.copyFrom(x0);
                }
                step(b, adamB, x, ys[0]); // warm-up: plans built, Adam's state allocated
                long before = FlashAttentionPlan.executions();
                try (CudaGraphStep graph = CudaGraphStep.capture(GPU, () -> {
                    adamB.zeroGrad();
                    Tensor loss;
                    try (Autocast ac = Autocast.bf16()) {
                        loss = b.forward(x).crossEntropy(ys[0]);
                    }
                    loss.backward();
                    adamB.step();
                    return loss;
                })) {
                    assertEquals(2, FlashAttentionPlan.executions() - before, "the capture queued flash fwd + bwd");
                    for (int s = 1; s < STEPS; s++) {
                        try (Tensor xi = Tensor.of(xs[s], input, GPU)) {
                            x.copyFrom(xi);
                        }
                        graph.setTargets(ys[s]);
                        graph.replay();
                        replayed[s] = graph.output().item();
                    }
                }
                for (int s = 1; s < STEPS; s++) {
                    assertEquals(eager[s], replayed[s], 1e-6f * Math.abs(eager[s]), "loss of step " + s);
                }
                List<Tensor> pa = a.parameters(), pb = b.parameters();
                for (int i = 0; i < pa.size(); i++) {
                    double err = Gpu.relativeError(pb.get(i).toArray(), pa.get(i).toArray());
                    assertTrue(err < 1e-6, "parameter " + i + " differs from the eager run by " + err);
                }
            }
        }
    }
}
