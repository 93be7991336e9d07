package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.device.Device;
import io.jdl.cuda.CudaDevice;
import io.jdl.cuda.CudaUnavailableException;
import io.jdl.nn.Linear;
import io.jdl.nn.Sequential;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Wrong shapes, ranks, targets and devices: exceptions that name the problem, nothing half-done. */
class BadInputTest {

    private static void assertMessage(Executable e, String... parts) {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, e);
        for (String p : parts) {
            assertTrue(ex.getMessage().contains(p), "'" + ex.getMessage() + "' lacks '" + p + "'");
        }
    }

    private static Tensor zeros(int... dims) {
        return Tensor.zeros(Shape.of(dims), Device.CPU);
    }

    @Test
    void matmulAndLinearShapes() {
        try (Tensor a = zeros(2, 3); Tensor b = zeros(4, 5); Tensor w = zeros(5, 4); Tensor v = zeros(3)) {
            assertMessage(() -> a.matmul(b), "[2, 3]", "[4, 5]", "3 vs 4");
            assertMessage(() -> a.matmul(v), "[2, 3]", "[3]");
            assertMessage(() -> a.linear(w, null), "[2, 3]", "[5, 4]");
        }
    }

    @Test
    void convShapesAndRanks() {
        try (Tensor x = zeros(1, 3, 8, 8); Tensor w = zeros(4, 2, 3, 3); Tensor x3 = zeros(3, 8, 8);
             Tensor big = zeros(4, 3, 9, 9); Tensor bias = zeros(5)) {
            assertMessage(() -> x.conv2d(w, null, 1, 0, 1, 1), "[1, 3, 8, 8]", "[4, 2, 3, 3]");
            assertMessage(() -> x3.conv2d(w, null, 1, 0, 1, 1), "[3, 8, 8]", "[n, c, h, w]");
            try (Tensor w3 = zeros(4, 3, 3, 3)) {
                assertMessage(() -> x.conv2d(big, null, 1, 0, 1, 1), "smaller", "[4, 3, 9, 9]");
                assertMessage(() -> x.conv2d(w3, bias, 1, 0, 1, 1), "[5]", "4 output channels");
                assertMessage(() -> x.conv2d(w3, null, 1, 0, 1, 2), "groups=2");
            }
        }
    }

    @Test
    void poolingShapesAndRanks() {
        try (Tensor x = zeros(1, 2, 3, 3); Tensor flat = zeros(2, 9)) {
            assertMessage(() -> flat.maxPool2d(2, 2, 0), "maxPool2d", "[2, 9]");
            assertMessage(() -> x.avgPool2d(4, 1, 0), "avgPool2d", "[1, 2, 3, 3]", "4x4");
            assertMessage(() -> x.maxPool2d(2, 0, 0), "stride 0");
        }
    }

    @Test
    void targetOutsideClassRange() {
        try (Tensor logits = zeros(3, 4)) {
            assertMessage(() -> logits.crossEntropy(new int[] {0, 4, 1}), "target 4", "4 classes");
            assertMessage(() -> logits.crossEntropy(new int[] {0, -3, 1}, -1), "target -3", "4 classes");
            assertMessage(() -> logits.crossEntropy(new int[] {0, 1}), "2 targets", "[3, 4]");
        }
    }

    @Test
    void otherShapeErrors() {
        try (Tensor a = zeros(2, 3); Tensor c = zeros(2, 2)) {
            assertMessage(() -> a.reshape(4, 2), "[2, 3]", "[4, 2]");
            assertMessage(() -> a.permute(0, 0), "[0, 0]");
            assertMessage(() -> Tensor.concat(0, a, c), "[2, 3]", "[2, 2]");
            assertMessage(() -> a.mse(c), "[2, 3]", "[2, 2]");
            assertMessage(() -> a.dropout(1f, 0, true), "[0, 1)");
        }
    }

    @Test
    void cudaWithoutAGpuIsAnExceptionAndLeavesModulesIntact() {
        org.junit.jupiter.api.Assumptions.assumeFalse(CudaDevice.isAvailable(), "a GPU exists: covered by the GPU tests");
        assertThrows(CudaUnavailableException.class, () -> Tensor.zeros(Shape.of(2), Device.cuda(0)));
        try (Sequential model = new Sequential(new Linear(2, 2, new Random(1)))) {
            float[] before = model.namedParameters().get("0.weight").toArray();
            assertThrows(CudaUnavailableException.class, () -> model.to(Device.cuda(0)));
            assertArrayEquals(before, model.namedParameters().get("0.weight").toArray(), 0f);
        }
    }
}
