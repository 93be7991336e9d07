package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.device.Device;
import io.jdl.backend.cuda.CudaBackend;
import io.jdl.cuda.Gpu;
import java.util.Random;
import java.util.function.BinaryOperator;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Each foundation op on CUDA equals the CPU reference on fresh random data (fp32, TF32 off). */
@Tag("gpu")
class TensorOpsGpuTest {
    private static final Device GPU = Device.cuda(0);
    private final Random random = new Random(7);

    @BeforeEach
    void needsGpu() {
        Gpu.assumeAvailable();
    }

    private void assertSame(Shape a, Shape b, BinaryOperator<Tensor> op) {
        assertSame(a, b, op, 1e-5);
    }

    private void assertSame(Shape a, Shape b, BinaryOperator<Tensor> op, double tolerance) {
        long seed = random.nextLong();
        try (Tensor ca = Tensor.randn(new Random(seed), a, Device.CPU); Tensor cb = Tensor.randn(new Random(seed + 1), b, Device.CPU);
             Tensor ga = ca.to(GPU); Tensor gb = cb.to(GPU);
             Tensor expected = op.apply(ca, cb); Tensor actual = op.apply(ga, gb)) {
            assertEquals(expected.shape(), actual.shape());
            assertEquals(GPU, actual.device());
            double err = Gpu.relativeError(actual.toArray(), expected.toArray());
            assertTrue(err < tolerance, "relative error " + err + " for shapes " + a + ", " + b);
        }
    }

    private void assertSame(Shape a, UnaryOperator<Tensor> op) {
        assertSame(a, a, (x, y) -> op.apply(x));
    }

    @Test
    void matmulInEveryTransposeAndBatched() {
        assertSame(Shape.of(37, 19), Shape.of(19, 53), Tensor::matmul);
        assertSame(Shape.of(19, 37), Shape.of(19, 53), (x, y) -> x.matmul(y, true, false));
        assertSame(Shape.of(37, 19), Shape.of(53, 19), (x, y) -> x.matmul(y, false, true));
        assertSame(Shape.of(19, 37), Shape.of(53, 19), (x, y) -> x.matmul(y, true, true));
        assertSame(Shape.of(5, 17, 9), Shape.of(5, 9, 13), Tensor::matmul);
    }

    @Test
    void elementwiseAndBias() {
        Shape s = Shape.of(31, 29);
        assertSame(s, s, Tensor::add);
        assertSame(s, s, Tensor::sub);
        assertSame(s, s, Tensor::mul);
        assertSame(s, x -> x.scale(-1.75f));
        assertSame(s, Tensor::relu);
        assertSame(s, Shape.of(29), Tensor::addBias);
    }

    @Test
    void reductions() {
        Shape s = Shape.of(6, 35, 11);
        // The CPU reference adds in double; the GPU kernels add in float, as cuDNN and PyTorch do on a device: over
        // 2310 terms with cancellation the error relative to the result reaches about 1e-5.
        double tolerance = 1e-4;
        assertSame(s, s, (x, y) -> x.sum(), tolerance);
        assertSame(s, s, (x, y) -> x.mean(), tolerance);
        assertSame(s, s, (x, y) -> x.sum(0), tolerance);
        assertSame(s, s, (x, y) -> x.sum(1), tolerance);
        assertSame(s, s, (x, y) -> x.mean(2), tolerance);
    }

    @Test
    void fillAndZeros() {
        try (Tensor f = Tensor.full(Shape.of(1000), 3.25f, GPU); Tensor z = Tensor.zeros(Shape.of(7), GPU);
             Tensor sum = z.sum()) {
            for (float v : f.toArray()) {
                assertEquals(3.25f, v);
            }
            assertEquals(0f, sum.item());
        }
    }

    @Test
    void mixingDevicesIsAClearError() {
        try (Tensor c = Tensor.zeros(Shape.of(2, 2), Device.CPU); Tensor g = Tensor.zeros(Shape.of(2, 2), GPU)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.add(g));
            assertTrue(e.getMessage().contains("cpu") && e.getMessage().contains("cuda:0"), e.getMessage());
        }
    }

    @Test
    void tensorsGiveTheirMemoryBack() {
        CudaBackend backend = CudaBackend.get(0);
        long before = backend.allocator().allocatedBytes();
        for (int i = 0; i < 20; i++) {
            try (Tensor a = Tensor.randn(random, Shape.of(64, 64), GPU); Tensor b = a.matmul(a); Tensor s = b.sum()) {
                assertTrue(Float.isFinite(s.item()));
            }
        }
        assertEquals(before, backend.allocator().allocatedBytes());
    }
}
