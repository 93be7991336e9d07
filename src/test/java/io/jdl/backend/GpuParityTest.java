package io.jdl.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.device.Device;
import io.jdl.device.Precision;
import io.jdl.autograd.GradCheck;
import io.jdl.backend.cuda.CudaBackend;
import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.CudaDevice;
import io.jdl.nn.Activations;
import io.jdl.nn.BatchNorm2d;
import io.jdl.nn.Conv2d;
import io.jdl.nn.Dropout;
import io.jdl.nn.Linear;
import io.jdl.nn.Mlp;
import io.jdl.nn.Module;
import io.jdl.nn.Pool2d;
import io.jdl.nn.Sequential;
import io.jdl.optim.Adam;
import io.jdl.optim.Optimizer;
import io.jdl.optim.Sgd;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Every op on CUDA, forward and backward, equals the CPU reference on fresh random inputs (float32,
 * TF32 off); a full MLP and CNN training step gives the same loss, gradients and parameters; and a
 * CNN training loop holds no more device memory after 100 steps than after the first.
 */
@Tag("gpu")
class GpuParityTest {
    private static final double TOLERANCE = 1e-4;
    private static final Device GPU = Device.cuda(0);
    private final Random rng = new Random(2024);

    @BeforeEach
    void needsGpu() {
        Assumptions.assumeTrue(CudaDevice.isAvailable(), "no CUDA device: " + CudaDevice.unavailableReason());
        Precision.tf32(false);
    }

    @AfterEach
    void defaultPrecision() {
        Precision.defaults();  // for the classes after this one
    }

    static double relativeError(float[] actual, float[] expected) {
        assertEquals(expected.length, actual.length, "lengths");
        double d = 0, n = 0;
        for (int i = 0; i < actual.length; i++) {
            d += ((double) actual[i] - expected[i]) * ((double) actual[i] - expected[i]);
            n += (double) expected[i] * expected[i];
        }
        return n == 0 ? Math.sqrt(d) : Math.sqrt(d / n);
    }

    static void close(String what, float[] gpu, float[] cpu) {
        double err = relativeError(gpu, cpu);
        assertTrue(err < TOLERANCE, what + ": relative error " + err);
    }

    /** Runs f on CPU and GPU copies of the inputs; compares the output and every input's gradient. */
    private void same(String name, Function<Tensor[], Tensor> f, float[][] values, Shape... shapes) {
        Parity.same(name, GPU, rng, GpuParityTest::close, f, values, shapes);
    }

    private float[] randn(int n) {
        return GradCheck.randn(rng, n);
    }

    private static Shape s(int... d) {
        return Shape.of(d);
    }

    @Test
    void linearAlgebra() {
        same("matmul", x -> x[0].matmul(x[1]), new float[][] {randn(37 * 19), randn(19 * 23)}, s(37, 19), s(19, 23));
        same("matmulTT", x -> x[0].matmul(x[1], true, true), new float[][] {randn(19 * 37), randn(23 * 19)}, s(19, 37),
                s(23, 19));
        same("bmm", x -> x[0].matmul(x[1], false, true), new float[][] {randn(3 * 7 * 5), randn(3 * 6 * 5)}, s(3, 7, 5),
                s(3, 6, 5));
        same("linear", x -> x[0].linear(x[1], x[2]), new float[][] {randn(33 * 17), randn(9 * 17), randn(9)}, s(33, 17),
                s(9, 17), s(9));
    }

    @Test
    void elementwiseReductionsAndShapes() {
        Shape sh = s(5, 6, 7);
        float[][] v = {randn(210), randn(210)};
        same("add", x -> x[0].add(x[1]), v, sh, sh);
        same("sub", x -> x[0].sub(x[1]), v, sh, sh);
        same("mul", x -> x[0].mul(x[1]), v, sh, sh);
        same("scale", x -> x[0].scale(0.3f), new float[][] {v[0]}, sh);
        same("addBias", x -> x[0].addBias(x[1]), new float[][] {v[0], randn(7)}, sh, s(7));
        same("sum", x -> x[0].sum(), new float[][] {v[0]}, sh);
        same("mean", x -> x[0].mean(), new float[][] {v[0]}, sh);
        for (int a = 0; a < 3; a++) {
            int ax = a;
            same("sum" + a, x -> x[0].sum(ax), new float[][] {v[0]}, sh);
            same("mean" + a, x -> x[0].mean(ax), new float[][] {v[0]}, sh);
        }
        same("reshape", x -> x[0].reshape(6, -1), new float[][] {v[0]}, sh);
        same("transpose", x -> x[0].transpose(0, 2), new float[][] {v[0]}, sh);
        same("permute", x -> x[0].permute(1, 2, 0), new float[][] {v[0]}, sh);
        same("permute4", x -> x[0].permute(0, 2, 3, 1), new float[][] {randn(2 * 210)}, s(2, 5, 6, 7));
        same("concat", x -> Tensor.concat(1, x[0], x[1]), new float[][] {randn(5 * 2 * 7), v[0]}, s(5, 2, 7), sh);
    }

    @Test
    void activationsAndLosses() {
        Shape sh = s(13, 11);
        float[][] v = {randn(143)};
        same("relu", x -> x[0].relu(), v, sh);
        same("leakyRelu", x -> x[0].leakyRelu(0.01f), v, sh);
        same("sigmoid", x -> x[0].sigmoid(), v, sh);
        same("tanh", x -> x[0].tanh(), v, sh);
        same("gelu", x -> x[0].gelu(), v, sh);
        same("softmax", x -> x[0].softmax(), v, sh);
        same("logSoftmax", x -> x[0].logSoftmax(), v, sh);
        int[] targets = new int[13];
        for (int i = 0; i < targets.length; i++) {
            targets[i] = i == 4 ? -100 : rng.nextInt(11);
        }
        same("crossEntropy", x -> x[0].crossEntropy(targets), v, sh);
        same("mse", x -> x[0].mse(x[1]), new float[][] {v[0], randn(143)}, sh, sh);
        same("dropout", x -> x[0].dropout(0.4f, 99, true), v, sh);
    }

    @Test
    void convolutions() {
        int[][] configs = {
            // n, c, h, w, k, kernel, stride, pad, dilation, groups
            {4, 3, 12, 11, 8, 3, 1, 1, 1, 1},
            {2, 4, 9, 9, 6, 3, 2, 1, 1, 2},
            {2, 2, 10, 10, 4, 3, 1, 2, 2, 1},
            {3, 6, 7, 7, 6, 1, 1, 0, 1, 6},
        };
        for (int[] c : configs) {
            int n = c[0], ch = c[1], h = c[2], w = c[3], k = c[4], r = c[5];
            same("conv" + java.util.Arrays.toString(c), x -> x[0].conv2d(x[1], x[2], c[6], c[7], c[8], c[9]),
                    new float[][] {randn(n * ch * h * w), randn(k * ch / c[9] * r * r), randn(k)}, s(n, ch, h, w),
                    s(k, ch / c[9], r, r), s(k));
        }
    }

    /** A NaN wins its window on both backends (PyTorch's max_pool2d), and its first occurrence gets the gradient. */
    @Test
    void maxPoolingPropagatesNanLikeTheCpu() {
        float[] v = GradCheck.distinct(rng, 2 * 3 * 6 * 6, 0.01);
        v[7] = Float.NaN;
        v[8] = Float.NaN;
        v[50] = Float.NaN;
        float[][] outs = new float[2][], grads = new float[2][];
        for (int side = 0; side < 2; side++) {
            try (io.jdl.tensor.TensorScope scope = io.jdl.tensor.TensorScope.open()) {
                Tensor x = Tensor.of(v, s(2, 3, 6, 6), side == 0 ? Device.CPU : GPU).requiresGrad(true);
                Tensor y = x.maxPool2d(3, 2, 1);
                outs[side] = y.toArray();
                y.sum().backward();
                grads[side] = x.grad().toArray();
                x.close();
            }
        }
        assertTrue(Float.isNaN(outs[0][1]), "the window holding x[7] is NaN");
        assertArrayEquals(outs[0], outs[1], "forward, NaN where the CPU has NaN");
        assertArrayEquals(grads[0], grads[1], "backward: the same element of each window gets the gradient");
    }

    @Test
    void poolingAndBatchNorm() {
        Shape sh = s(3, 4, 9, 8);
        float[][] v = {GradCheck.distinct(rng, 3 * 4 * 72, 0.01)};
        same("maxPool2", x -> x[0].maxPool2d(2, 2, 0), v, sh);
        same("maxPool3s2p1", x -> x[0].maxPool2d(3, 2, 1), v, sh);
        same("avgPool3s2p1", x -> x[0].avgPool2d(3, 2, 1), new float[][] {randn(3 * 4 * 72)}, sh);
        float[][] bn = {randn(3 * 4 * 72), randn(4), randn(4)};
        float[] mean = randn(4), var = {0.5f, 1.5f, 2f, 0.8f};
        try (Tensor rmCpu = Tensor.of(mean, s(4), Device.CPU); Tensor rvCpu = Tensor.of(var, s(4), Device.CPU);
             Tensor rmGpu = Tensor.of(mean, s(4), GPU); Tensor rvGpu = Tensor.of(var, s(4), GPU)) {
            for (boolean training : new boolean[] {true, false}) {
                same("batchNorm" + (training ? "Train" : "Eval"), x -> {
                    boolean gpu = x[0].device().isCuda();
                    return x[0].batchNorm2d(x[1], x[2], gpu ? rmGpu : rmCpu, gpu ? rvGpu : rvCpu, training, 0.1f, 1e-5f);
                }, bn, sh, s(4), s(4));
            }
        }
        // Running statistics after one training step agree too.
        float[][] stats = new float[2][];
        for (int side = 0; side < 2; side++) {
            Device d = side == 0 ? Device.CPU : GPU;
            try (Tensor x = Tensor.of(bn[0], sh, d); Tensor g = Tensor.of(bn[1], s(4), d); Tensor b = Tensor.of(bn[2], s(4), d);
                 Tensor rm = Tensor.zeros(s(4), d); Tensor rv = Tensor.full(s(4), 1f, d);
                 Tensor y = x.batchNorm2d(g, b, rm, rv, true, 0.1f, 1e-5f)) {
                float[] m = rm.toArray(), vv = rv.toArray();
                stats[side] = new float[] {m[0], m[1], m[2], m[3], vv[0], vv[1], vv[2], vv[3]};
            }
        }
        close("running statistics", stats[1], stats[0]);
    }

    @Test
    void mixingDevicesNamesBoth() {
        try (Tensor a = Tensor.zeros(s(2, 2), Device.CPU); Tensor b = Tensor.zeros(s(2, 2), GPU)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> a.add(b));
            assertTrue(e.getMessage().contains("cpu") && e.getMessage().contains("cuda:0"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> b.matmul(a));
        }
    }

    // ---- whole training steps ----

    private static Sequential mlp() {
        return Mlp.of(new Random(1), Activations::relu, 64, 48, 32, 10);
    }

    private static Sequential cnn() {
        Random r = new Random(2);
        // No bias before batch norm (as in PyTorch models): its gradient is zero in exact arithmetic, so
        // CPU and GPU would compare rounding noise (~1e-9), which Adam then amplifies into the update.
        return new Sequential(new Conv2d(1, 8, 3, 1, 1, 1, 1, false, r), new BatchNorm2d(8), Activations.relu(), Pool2d.max(2),
                new Conv2d(8, 16, 3, 1, r), Activations.relu(), Pool2d.max(2), Activations.flatten(),
                new Dropout(0.25f, 5), new Linear(16 * 7 * 7, 10, r));
    }

    private record StepResult(float loss, Map<String, float[]> grads, Map<String, float[]> params) {
    }

    private StepResult step(Module model, Function<List<Tensor>, Optimizer> makeOpt, float[] input, Shape shape,
                            int[] y, Device d) {
        model.to(d);
        try (Optimizer opt = makeOpt.apply(model.parameters()); Tensor x = Tensor.of(input, shape, d)) {
            float loss;
            try (Tensor l = model.forward(x).crossEntropy(y)) {
                l.backward();
                loss = l.item();
            }
            Map<String, float[]> grads = new java.util.LinkedHashMap<>();
            model.namedParameters().forEach((k, p) -> grads.put(k, p.grad().toArray()));
            opt.step();
            Map<String, float[]> params = new java.util.LinkedHashMap<>();
            model.stateDict().forEach((k, p) -> params.put(k, p.toArray()));
            return new StepResult(loss, grads, params);
        }
    }

    private void sameStep(Function<Boolean, Sequential> make, Function<List<Tensor>, Optimizer> opt, Shape shape) {
        float[] input = randn((int) shape.numel());
        int[] y = new int[shape.dim(0)];
        for (int i = 0; i < y.length; i++) {
            y[i] = rng.nextInt(10);
        }
        StepResult cpu, gpu;
        try (Sequential m = make.apply(true)) {
            cpu = step(m, opt, input, shape, y, Device.CPU);
        }
        try (Sequential m = make.apply(true)) {
            gpu = step(m, opt, input, shape, y, GPU);
        }
        assertEquals(cpu.loss(), gpu.loss(), 1e-4 * Math.abs(cpu.loss()));
        cpu.grads().forEach((k, g) -> close("gradient " + k, gpu.grads().get(k), g));
        cpu.params().forEach((k, p) -> close("after the step: " + k, gpu.params().get(k), p));
    }

    @Test
    void mlpStepMatches() {
        sameStep(b -> mlp(), p -> new Sgd(p, 0.1f, 0.9f, 0f, 1e-4f, true), s(32, 64));
        sameStep(b -> mlp(), p -> Adam.adamW(p, 1e-3f), s(32, 64));
    }

    @Test
    void cnnStepMatches() {
        sameStep(b -> cnn(), p -> new Adam(p, 1e-3f), s(16, 1, 28, 28));
    }

    @Test
    void cnnTrainingHoldsNoMemoryPastTheStep() {
        CachingAllocator alloc = CudaBackend.get(0).allocator();
        float[] input = randn(32 * 28 * 28);
        int[] y = new int[32];
        for (int i = 0; i < y.length; i++) {
            y[i] = rng.nextInt(10);
        }
        try (Sequential model = cnn(); Tensor x = Tensor.of(input, s(32, 1, 28, 28), GPU)) {
            model.to(GPU);
            try (Adam opt = new Adam(model.parameters(), 1e-3f)) {
                long afterFirst = 0;
                for (int i = 0; i < 100; i++) {
                    opt.zeroGrad();
                    try (Tensor loss = model.forward(x).crossEntropy(y)) {
                        loss.backward();
                    }
                    opt.step();
                    if (i == 0) {
                        afterFirst = alloc.allocatedBytes();
                    }
                }
                assertEquals(afterFirst, alloc.allocatedBytes(), "allocator in-use bytes after 100 steps vs after 1");
            }
        }
    }
}
