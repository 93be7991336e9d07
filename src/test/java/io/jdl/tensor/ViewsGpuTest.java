package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.jdl.autograd.Autograd;
import io.jdl.autograd.NoGrad;
import io.jdl.backend.cuda.CudaBackend;
import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.Gpu;
import io.jdl.device.Device;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Views of device tensors: no device allocation, the block freed by the last handle in either order. */
@Tag("gpu")
class ViewsGpuTest {
    private static final Device GPU = Device.cuda(0);
    private static final float[] SIX = {1, 2, 3, 4, 5, 6};

    @BeforeEach
    void needsGpu() {
        Gpu.assumeAvailable();
    }

    private static CachingAllocator allocator() {
        return CudaBackend.get(0).allocator();
    }

    @Test
    void viewsAllocateNothingAndTheLastHandleFreesTheBlock() {
        long before = allocator().allocatedBytes();
        Tensor x = Tensor.of(SIX, Shape.of(2, 3), GPU);
        long one = allocator().allocatedBytes();
        Tensor v = x.reshape(3, 2), u;
        try (Tensor un = v.unsqueeze(0)) {
            u = un.squeeze(0);
        }
        assertEquals(one, allocator().allocatedBytes(), "views allocate no device memory");
        x.close();
        assertArrayEquals(SIX, v.toArray(), "the base closed first: views still read the block");
        v.close();
        assertEquals(one, allocator().allocatedBytes());
        u.close();
        assertEquals(before, allocator().allocatedBytes(), "the last handle frees the block");

        Tensor y = Tensor.of(SIX, Shape.of(6), GPU);
        Tensor w = y.flatten(0);
        w.close();
        assertArrayEquals(SIX, y.toArray(), "the view closed first: the base is intact");
        y.close();
        assertEquals(before, allocator().allocatedBytes());
        assertThrows(IllegalStateException.class, () -> y.reshape(2, 3));
    }

    @Test
    void writesThroughAViewReachTheBaseAndBackwardFlowsBackAsAView() {
        long before = allocator().allocatedBytes();
        try (Tensor x = Tensor.of(SIX, Shape.of(2, 3), GPU).requiresGrad(true)) {
            try (Tensor y = x.reshape(6).mul(x.flatten(0)).sum()) {
                y.backward();
            }
            float[] g = x.grad().toArray();
            for (int i = 0; i < 6; i++) {
                assertEquals(2 * SIX[i], g[i], 1e-6);
            }
            try (NoGrad ignored = Autograd.noGrad(); Tensor v = x.reshape(3, 2)) {
                v.fill(1f);
                assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1}, x.toArray());
                assertEquals(1, x.version());
            }
        }
        assertEquals(before, allocator().allocatedBytes(), "nothing left on the device");
    }
}
