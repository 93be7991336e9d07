package io.jdl.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jdl.autograd.Autograd;
import io.jdl.autograd.NoGrad;
import io.jdl.device.Device;
import io.jdl.backend.cpu.CpuStorage;
import io.jdl.optim.Adam;
import io.jdl.optim.Sgd;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * A training loop holds nothing past its step: after N steps exactly as many CPU storages are open
 * as after the first (parameters, gradients, optimizer state). The CPU twin of the GPU allocator test.
 */
@Isolated
class NoLeakTest {

    @Test
    void cnnTrainingAndEvaluationLeaveNoTensorsBehind() {
        Random rng = new Random(3);
        float[] images = new float[8 * 12 * 12];
        for (int i = 0; i < images.length; i++) {
            images[i] = rng.nextFloat();
        }
        int[] y = {0, 1, 2, 3, 0, 1, 2, 3};
        try (Sequential model = new Sequential(new Conv2d(1, 4, 3, 1, rng), new BatchNorm2d(4), Activations.relu(),
                Pool2d.max(2), new Residual(new Sequential(new Conv2d(4, 4, 3, 1, rng), Activations.gelu())),
                new Flatten(), new Dropout(0.2f, 1), new Linear(4 * 6 * 6, 4, rng));
             Tensor x = Tensor.of(images, Shape.of(8, 1, 12, 12), Device.CPU);
             Adam opt = new Adam(model.parameters(), 1e-3f)) {
            long afterFirst = 0;
            for (int step = 0; step < 10; step++) {
                opt.zeroGrad();
                try (Tensor logits = model.forward(x).retain(); Tensor loss = logits.crossEntropy(y)) {
                    loss.backward();
                }
                opt.step();
                try (NoGrad ignored = Autograd.noGrad(); Tensor eval = model.eval().forward(x)) {
                    model.train(true);
                }
                if (step == 0) {
                    afterFirst = CpuStorage.liveCount();
                }
            }
            assertEquals(afterFirst, CpuStorage.liveCount(), "open CPU storages after 10 steps vs after 1");
        }
    }

    @Test
    void aForwardThatIsNeverBackpropagatedIsFreedByClosingItsResult() {
        try (Sequential model = Mlp.of(new Random(1), Activations::tanh, 3, 5, 2);
             Tensor x = Tensor.of(new float[] {1, 2, 3}, 1, 3);
             Sgd opt = new Sgd(model.parameters(), 0.1f)) {
            long before = CpuStorage.liveCount();
            for (int i = 0; i < 5; i++) {
                model.forward(x).close();
            }
            assertEquals(before, CpuStorage.liveCount());
        }
    }
}
