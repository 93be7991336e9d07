package io.jdl.cudnn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.Gpu;
import io.jdl.cuda.Stream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The cuDNN handle and descriptors on a real device. */
@Tag("gpu")
class CudnnGpuTest {

    @Test
    void handleAndDescriptorsCreateAndClose() {
        Gpu.assumeAvailable();
        try (Stream stream = Stream.create(); Cudnn cudnn = Cudnn.create(stream);
             TensorDescriptor t = TensorDescriptor.of(8, 3, 32, 32);
             FilterDescriptor f = new FilterDescriptor(16, 3, 3, 3);
             ConvolutionDescriptor c = new ConvolutionDescriptor(1, 1, 1, 1, 1, 1, 1, false);
             PoolingDescriptor p = new PoolingDescriptor(PoolingDescriptor.Mode.MAX, 2, 2, 0, 0, 2, 2);
             ActivationDescriptor a = new ActivationDescriptor(ActivationDescriptor.Mode.RELU);
             OpTensorDescriptor o = new OpTensorDescriptor(OpTensorDescriptor.Op.MUL);
             ReduceDescriptor r = new ReduceDescriptor(ReduceDescriptor.Op.SUM)) {
            assertTrue(t.elements() == 8 * 3 * 32 * 32 && f.elements() == 16 * 27);
        }
    }

    @Test
    void closedDescriptorIsRejected() {
        Gpu.assumeAvailable();
        TensorDescriptor t = TensorDescriptor.of(4);
        t.close();
        assertThrows(IllegalStateException.class, t::handle);
        assertThrows(IllegalStateException.class, t::close);
    }

    @Test
    void reluAndBroadcastAddRunOnTheDevice() {
        Gpu.assumeAvailable();
        float[] x = {-1, 2, -3, 4, -5, 6};
        try (Stream stream = Stream.create(); Cudnn cudnn = Cudnn.create(stream); CachingAllocator alloc = new CachingAllocator();
             TensorDescriptor d = TensorDescriptor.of(2, 3); TensorDescriptor bias = TensorDescriptor.of(1, 3);
             ActivationDescriptor relu = new ActivationDescriptor(ActivationDescriptor.Mode.RELU);
             DeviceMemory dx = alloc.allocate(24); DeviceMemory dy = alloc.allocate(24); DeviceMemory db = alloc.allocate(12);
             Arena arena = Arena.ofConfined()) {
            stream.copyToDevice(arena.allocateFrom(ValueLayout.JAVA_FLOAT, x), 0, dx, 0, 24);
            stream.copyToDevice(arena.allocateFrom(ValueLayout.JAVA_FLOAT, 10f, 20f, 30f), 0, db, 0, 12);
            cudnn.activationForward(relu, 1f, d, dx, 0f, d, dy);
            cudnn.addTensor(1f, bias, db, 1f, d, dy);
            MemorySegment out = arena.allocate(24);
            stream.copyToHost(dy, 0, out, 0, 24);
            stream.synchronize();
            assertArrayEquals(new float[] {10, 22, 30, 14, 20, 36}, out.toArray(ValueLayout.JAVA_FLOAT), 1e-6f);
        }
    }
}
