package io.jdl.models;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jdl.device.Device;
import io.jdl.nn.Module;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The reference networks: output shapes, parameter counts equal to PyTorch's, names PyTorch loads. */
class FashionMnistModelsTest {

    private static long parameterCount(Module m) {
        return m.parameters().stream().mapToLong(Tensor::numel).sum();
    }

    private static void assertLogits(Module m, Shape input) {
        try (m; Tensor x = Tensor.zeros(input, Device.CPU)) {
            m.eval();
            try (Tensor y = m.forward(x)) {
                assertEquals(Shape.of(input.dim(0), 10), y.shape());
            }
        }
    }

    @Test
    void shapesAndSizesMatchThePyTorchDefinitions() {
        // sum(p.numel() for p in Mlp().parameters()) etc. in scripts/bench_torch.py
        Module mlp = FashionMnistModels.mlp(new Random(0), 1024, 0);
        assertEquals(784 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10, parameterCount(mlp));
        assertLogits(mlp, Shape.of(3, 784));
        Module cnn = FashionMnistModels.cnn(new Random(0), 32);
        assertEquals((9 * 32 + 32) + 64 + (32 * 9 * 64 + 64) + 128 + (3136 * 128 + 128) + (128 * 10 + 10), parameterCount(cnn));
        assertEquals(java.util.List.of("0.weight", "0.bias", "1.weight", "1.bias"),
                cnn.namedParameters().keySet().stream().limit(4).toList());
        assertLogits(cnn, Shape.of(2, 1, 28, 28));
        assertLogits(FashionMnistModels.resnet(new Random(0), 4), Shape.of(2, 1, 28, 28));
    }
}
