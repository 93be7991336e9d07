package io.jdl.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jdl.cuda.Gpu;
import io.jdl.device.Device;
import io.jdl.tensor.OptimizerSteps;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import io.jdl.tensor.TensorScope;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** GradScaler and its unscale kernel on CUDA give what they give on the CPU. */
@Tag("gpu")
class GradScalerGpuTest {
    private static final Device GPU = Device.cuda(0);

    @BeforeEach
    void needsGpu() {
        Gpu.assumeAvailable();
    }

    @Test
    void ampUnscaleOnTheDeviceEqualsTheCpu() {
        float[] g = new float[3000];
        for (int i = 0; i < g.length; i++) {
            g[i] = (i % 17 - 8) * 1024f;
        }
        for (int bad : new int[] {-1, 2999, 0}) {
            float[] values = g.clone();
            if (bad >= 0) {
                values[bad] = bad == 0 ? Float.NaN : Float.NEGATIVE_INFINITY;
            }
            try (TensorScope scope = TensorScope.open()) {
                Tensor cpu = Tensor.of(values, values.length), gpu = cpu.to(GPU);
                Tensor cpuFlag = Tensor.zeros(Shape.of(), Device.CPU), gpuFlag = Tensor.zeros(Shape.of(), GPU);
                OptimizerSteps.ampUnscale(cpu, 0x1p-10f, cpuFlag);
                OptimizerSteps.ampUnscale(gpu, 0x1p-10f, gpuFlag);
                assertArrayEquals(cpu.toArray(), gpu.toArray());
                assertEquals(bad >= 0 ? 1f : 0f, gpuFlag.item(), "flag with a bad value at " + bad);
                assertEquals(cpuFlag.item(), gpuFlag.item());
            }
        }
    }

    /** Ten steps of Adam under a scaler, with inf and NaN gradients injected at steps 3 and 7. */
    private static List<float[]> train(Device device) {
        List<float[]> trace = new ArrayList<>();
        try (Tensor host = Tensor.of(new float[] {1, -2, 3, 0.5f, 7}, 5);
             Tensor w = TensorScope.unscoped(host.to(device).requiresGrad(true));
             Adam adam = new Adam(List.of(w), 0.05f); GradScaler scaler = new GradScaler(256f, 2.0, 0.5, 2, true)) {
            for (int step = 0; step < 10; step++) {
                adam.zeroGrad();
                float[] x = {0.5f, step, -1, 2, step == 3 ? Float.POSITIVE_INFINITY : step == 7 ? Float.NaN : 0.25f};
                try (TensorScope scope = TensorScope.open()) {
                    Tensor loss = w.mul(w).mul(Tensor.of(x, 5).to(device)).sum();
                    scaler.scale(loss).backward();
                }
                boolean stepped = scaler.step(adam);
                scaler.update();
                trace.add(w.toArray());
                trace.add(new float[] {stepped ? 1 : 0, scaler.scale(), scaler.state().growthTracker()});
            }
        }
        return trace;
    }

    @Test
    void aScaledTrainingRunOnTheDeviceFollowsTheCpuRun() {
        List<float[]> cpu = train(Device.CPU), gpu = train(GPU);
        for (int i = 0; i < cpu.size(); i++) {
            float[] c = cpu.get(i), g = gpu.get(i);
            for (int j = 0; j < c.length; j++) {
                assertEquals(c[j], g[j], 1e-5f * Math.max(1, Math.abs(c[j])), "entry " + j + " after step " + i / 2);
            }
        }
        // 256 grows to 512 after steps 0 and 1 (interval 2); step 3 is skipped and halves it back
        assertArrayEquals(new float[] {0, 256, 0}, cpu.get(7), "step 3 skipped, the scale halved");
    }
}
