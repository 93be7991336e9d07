package io.jdl.tensor;

import static io.jdl.Refusals.assertRefused;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jdl.device.Device;
import io.jdl.nn.BatchNorm2d;
import io.jdl.nn.Conv2d;
import io.jdl.nn.Init;
import io.jdl.nn.Linear;
import io.jdl.nn.MultiHeadAttention;
import io.jdl.nn.Pool2d;
import io.jdl.nn.PositionalEmbedding;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Where the argument is at fault, the exception says so (issue #11, item 12): an
 * {@link IllegalArgumentException} naming the argument, never {@code ArithmeticException},
 * {@code NegativeArraySizeException}, "/ by zero" or a {@code NullPointerException} from inside.
 */
class ArgumentChecksTest {

    @Test
    void shapesThatNoTensorCanHold() {
        assertRefused(() -> Shape.of(1 << 20, 1 << 20, 1 << 20), "[1048576, 1048576, 1048576]", "1152921504606846976");
        assertRefused(() -> Shape.of(1 << 16, 1 << 15), "2147483648", "at most " + Shape.MAX_ELEMENTS);
        assertRefused(() -> Shape.of(3, -2), "dimension 1", "-2");
        assertRefused(() -> Shape.of((int[]) null), "null");
        // Empty, but its non-zero dimensions would flatten to 2^60, which no int dimension holds.
        assertRefused(() -> Shape.of(0, 1 << 30, 1 << 30), "non-zero dimensions");
        assertEquals(0, Shape.of(0, 1 << 10, 1 << 20).numel());
        assertEquals(Shape.MAX_ELEMENTS, Shape.of(Shape.MAX_ELEMENTS).numel());
    }

    @Test
    void hugeShapesInCreationAndReshape() {
        Random rng = new Random(1);
        assertRefused(() -> Tensor.randn(rng, Shape.of(1 << 16, 1 << 16), Device.CPU), "[65536, 65536]");
        assertRefused(() -> Init.normal(rng, Shape.of(1 << 16, 1 << 16), 1), "[65536, 65536]");
        assertRefused(() -> new Linear(1 << 16, 1 << 16, rng), "[65536, 65536]");
        try (Tensor x = Tensor.zeros(Shape.of(4), Device.CPU)) {
            assertRefused(() -> x.reshape(1 << 30, 1 << 30, 1 << 30, 1 << 30, 0), "reshape", "[4]");
            assertRefused(() -> x.reshape(1 << 30, 1 << 30, -1), "reshape", "[4]");
            assertRefused(() -> x.reshape((int[]) null), "reshape", "dims is null");
        }
    }

    @Test
    void zeroSizeTensorsFlattenAndReduce() {
        try (Tensor x = Tensor.zeros(Shape.of(0, 1 << 10, 1 << 10), Device.CPU); Tensor f = x.flatten(1);
             Tensor s = x.sum(0); Tensor m = x.sum()) {
            assertEquals(Shape.of(0, 1 << 20), f.shape());
            assertEquals(Shape.of(1 << 10, 1 << 10), s.shape());
            assertEquals(0f, s.toArray()[12345]);
            assertEquals(0f, m.item());
        }
    }

    @Test
    void initScalesThatWouldGiveInfiniteWeights() {
        Random rng = new Random(1);
        assertRefused(() -> Init.kaimingUniform(rng, Shape.of(3, 2), 0), "kaimingUniform", "fanIn", "0");
        assertRefused(() -> Init.xavierNormal(rng, Shape.of(3, 2), -1, 4), "xavierNormal", "-1");
        assertRefused(() -> Init.normal(rng, Shape.of(2), Double.NaN), "std", "NaN");
        assertRefused(() -> Init.uniform(null, Shape.of(2), 1), "rng is null");
        // As in PyTorch: an empty weight draws nothing, and a bias of a layer without inputs is zero.
        try (Tensor empty = Init.kaimingUniform(rng, Shape.of(3, 0), 0); Tensor bias = Init.pytorchDefault(rng, Shape.of(3), 0)) {
            assertEquals(0, empty.numel());
            for (float b : bias.toArray()) {
                assertEquals(0f, Math.abs(b));
            }
        }
    }

    @Test
    void moduleArguments() {
        Random rng = new Random(1);
        assertRefused(() -> new Conv2d(4, 4, 3, 1, 0, 1, 0, true, rng), "Conv2d", "groups=0");
        assertRefused(() -> new Conv2d(4, 4, 0, 1, 0, 1, 1, true, rng), "Conv2d", "kernel=0");
        assertRefused(() -> new BatchNorm2d(0), "BatchNorm2d", "channels");
        assertRefused(() -> Pool2d.max(0), "MaxPool2d", "kernel 0");
        assertRefused(() -> MultiHeadAttention.paddingMask(new int[1 << 16], 1 << 16, Device.CPU), "[65536, 65536]");
        assertRefused(() -> MultiHeadAttention.paddingMask(new int[2], -1, Device.CPU), "padding mask", "-1 tokens");
        assertRefused(() -> MultiHeadAttention.paddingMask((boolean[][]) null, Device.CPU), "padding mask", "null");
        try (PositionalEmbedding pe = PositionalEmbedding.sinusoidal(16, 4)) {
            assertRefused(() -> pe.positions(-1, 4), "positions", "-1");
            assertRefused(() -> pe.positions(1 << 28, 16), "[268435456, 16]");
        }
        assertRefused(() -> PositionalEmbedding.sinusoidal(1 << 16, 1 << 16), "[65536, 65536]");
    }

    @Test
    void nullsAndDevices() {
        assertRefused(() -> new Device(null, 0), "device kind is null");
        assertRefused(() -> Device.parse(null), "device is null");
        assertRefused(() -> Tensor.full(null, 1f, Device.CPU), "Tensor.full", "shape is null");
        assertRefused(() -> Tensor.zeros(Shape.of(1), null), "device is null");
        assertRefused(() -> Tensor.of(null, 2), "Tensor.of", "data is null");
        assertRefused(() -> Tensor.randn(null, Shape.of(2), Device.CPU), "randn", "random is null");
        try (Tensor x = Tensor.zeros(Shape.of(1, 1, 2, 2), Device.CPU)) {
            assertRefused(() -> x.add(null), "add", "null");
            assertRefused(() -> x.conv2d(null, null, 1, 0, 1, 1), "conv2d", "null");
            assertRefused(() -> x.crossEntropy(null), "crossEntropy", "targets is null");
            assertRefused(() -> Tensor.concat(0, x, null), "concat", "null");
            assertRefused(() -> x.permute((int[]) null), "permute", "null");
            assertRefused(() -> x.split(0, (int[]) null), "split", "null");
        }
    }
}
