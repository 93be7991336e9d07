package io.jdl.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.cuda.CudaBackend;
import io.jdl.cuda.Gpu;
import io.jdl.cuda.NativeCounters;
import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The multi-tensor (foreach) optimizer steps on CUDA against the CPU's one-parameter-at-a-time reference:
 * sizes across the kernel's chunk boundary (16384), a parameter without a gradient in the first step (so that
 * step counts differ), and one launch per step once the parameter set is steady.
 */
@Tag("gpu")
class ForeachOptimizerGpuTest {
    private static final int[] SIZES = {1, 7, 16385, 300};

    @BeforeEach
    void needsGpu() {
        Gpu.assumeAvailable();
    }

    /** Three steps of the optimizer on fixed data; parameter 1 has no gradient in the first step. */
    private static List<float[]> train(Device device, Function<List<Tensor>, Optimizer> make) {
        Random r = new Random(13);
        List<Tensor> params = new ArrayList<>();
        List<float[]> grads = new ArrayList<>();
        for (int n : SIZES) {
            float[] p = new float[n], g = new float[n];
            for (int i = 0; i < n; i++) {
                p[i] = (float) r.nextGaussian();
                g[i] = (float) r.nextGaussian();
            }
            params.add(Tensor.of(p, Shape.of(n), device).requiresGrad(true));
            grads.add(g);
        }
        try (Optimizer opt = make.apply(params)) {
            for (int step = 0; step < 3; step++) {
                for (int i = 0; i < params.size(); i++) {
                    Tensor p = params.get(i);
                    p.zeroGrad();
                    if (step == 0 && i == 1) {
                        continue;
                    }
                    try (Tensor g = Tensor.of(grads.get(i), Shape.of(SIZES[i]), device); Tensor loss = p.mul(g).sum()) {
                        loss.backward();
                    }
                }
                opt.step();
            }
            List<float[]> out = new ArrayList<>();
            for (Tensor p : params) {
                out.add(p.toArray());
                p.close();
            }
            return out;
        }
    }

    private static void sameOnCpuAndGpu(Function<List<Tensor>, Optimizer> make) {
        List<float[]> cpu = train(Device.CPU, make), gpu = train(Device.cuda(0), make);
        for (int i = 0; i < SIZES.length; i++) {
            assertArrayEquals(cpu.get(i), gpu.get(i), 1e-5f, "parameter " + i + " of " + SIZES[i]);
        }
    }

    @Test
    void adamAndAdamWMatchTheCpu() {
        sameOnCpuAndGpu(ps -> new Adam(ps, 0.01f, 0.9f, 0.999f, 1e-8f, 0.05f, false));
        sameOnCpuAndGpu(ps -> Adam.adamW(ps, 0.01f, 0.1f));
    }

    @Test
    void sgdMatchesTheCpu() {
        sameOnCpuAndGpu(ps -> new Sgd(ps, 0.1f, 0.9f, 0.1f, 0.01f, false));
        sameOnCpuAndGpu(ps -> new Sgd(ps, 0.1f, 0.9f, 0f, 0f, true));
        sameOnCpuAndGpu(ps -> new Sgd(ps, 0.1f));
    }

    @Test
    void aStepIsOneLaunch() {
        Device cuda = Device.cuda(0);
        List<Tensor> params = new ArrayList<>();
        for (int n : SIZES) {
            params.add(Tensor.zeros(Shape.of(n), cuda).requiresGrad(true));
        }
        try (Adam adam = new Adam(params, 0.01f)) {
            for (int step = 0; step < 3; step++) {
                params.forEach(Tensor::zeroGrad);
                for (Tensor p : params) {
                    try (Tensor loss = p.sum()) {
                        loss.backward();
                    }
                }
                NativeCounters.Snapshot before = CudaBackend.counters();
                adam.step();
                NativeCounters.Snapshot one = CudaBackend.counters().minus(before);
                // One launch for the 4 parameters; the first step also zeroes the moments (8 fills).
                assertEquals(step == 0 ? 9 : 1, one.kernelLaunches(), "launches in step " + step + ": " + one);
                // New gradient blocks change the device table: at most one asynchronous upload (a copy, the staging
                // buffer's event record and, when it was in use, its query) besides the launch.
                if (step > 0) {
                    assertTrue(one.nativeCalls() <= 4, "native calls in step " + step + ": " + one);
                }
            }
            // Same gradients again: the table is unchanged, the step is the launch alone.
            NativeCounters.Snapshot before = CudaBackend.counters();
            adam.step();
            assertEquals(new NativeCounters.Snapshot(1, 1), CudaBackend.counters().minus(before));
        } finally {
            params.forEach(Tensor::close);
        }
    }
}
