package io.jdl.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.device.Device;
import io.jdl.backend.cuda.CudaBackend;
import io.jdl.cuda.Gpu;
import io.jdl.nn.Module;
import io.jdl.optim.Adam;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A training step on the GPU never makes the host wait for the device: only reading a value does. Waits for a
 * staging buffer are flow control, taken only when the device is a few uploads behind the host (never seen
 * on a GPU for these models, always on the much slower host stand-in), so they are not counted.
 */
@Tag("gpu")
class TrainingStepGpuTest {

    private static long syncsOtherThanStaging(CudaBackend backend) {
        return backend.stream().hostSyncCount() - backend.stream().stagingWaitCount();
    }

    private static void assertNoHostSyncs(Module net, Shape inputShape) {
        Device gpu = Device.cuda(0);
        CudaBackend backend = CudaBackend.get(0);
        Random rng = new Random(1);
        net.to(gpu);
        int[] labels = rng.ints(inputShape.dim(0), 0, 10).toArray();
        float[] batch = new float[Math.toIntExact(inputShape.numel())];
        try (Adam adam = new Adam(net.parameters(), 1e-3f)) {
            Tensor lastLoss = null;
            for (int step = 0; step < 8; step++) {
                long before = syncsOtherThanStaging(backend);
                for (int i = 0; i < batch.length; i++) {
                    batch[i] = (float) rng.nextGaussian();
                }
                // A fresh upload and fresh targets each step, as a data loader gives them.
                try (Tensor x = Tensor.of(batch, inputShape, gpu); Tensor logits = net.forward(x)) {
                    Tensor loss = logits.crossEntropy(labels.clone()).retain();
                    loss.backward();
                    adam.step();
                    adam.zeroGrad();
                    if (lastLoss != null) {
                        lastLoss.close();
                    }
                    lastLoss = loss;
                }
                if (step >= 2) { // after warm-up: allocator cache and cuDNN plans are in place
                    assertEquals(before, syncsOtherThanStaging(backend), "host syncs in training step " + step);
                }
            }
            assertTrue(Float.isFinite(lastLoss.item()), "reading the loss is the one sync");
            lastLoss.close();
        } finally {
            net.close();
        }
    }

    @Test
    void mlpStep() {
        Gpu.assumeAvailable();
        assertNoHostSyncs(FashionMnistModels.mlp(new Random(0), 512, 0.1f), Shape.of(128, 784));
    }

    @Test
    void cnnStep() {
        Gpu.assumeAvailable();
        assertNoHostSyncs(FashionMnistModels.cnn(new Random(0), 32), Shape.of(64, 1, 28, 28));
    }
}
