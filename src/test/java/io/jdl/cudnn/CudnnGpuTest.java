package io.jdl.cudnn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.ConvShape;
import io.jdl.backend.cpu.CpuBackend;
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
             ActivationDescriptor a = new ActivationDescriptor(ActivationDescriptor.Mode.RELU)) {
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

    /**
     * A plan runs each direction with an algorithm that works: candidates over the workspace limit are
     * never tried, and one that fails to run is skipped (the stand-in lists both kinds first).
     */
    @Test
    void convolutionPlanFallsBackToAnAlgorithmThatRuns() {
        Gpu.assumeAvailable();
        ConvShape s = new ConvShape(2, 4, 6, 6, 3, 3, 3, 1, 1, 2, 2, 1, 1, 1);
        java.util.Random rng = new java.util.Random(11);
        float[] x = new float[2 * 4 * 36], w = new float[3 * 4 * 9], dy = new float[2 * 3 * s.outH() * s.outW()];
        for (float[] a : new float[][] {x, w, dy}) {
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) rng.nextGaussian();
            }
        }
        CpuBackend cpu = CpuBackend.INSTANCE;
        float[] y = run(cpu, dy.length, o -> cpu.conv2d(s, cpu.upload(x), cpu.upload(w), o));
        float[] dx = run(cpu, x.length, o -> cpu.conv2dBackwardData(s, cpu.upload(w), cpu.upload(dy), o));
        float[] dw = run(cpu, w.length, o -> cpu.conv2dBackwardFilter(s, cpu.upload(x), cpu.upload(dy), o));
        try (Stream stream = Stream.create(); Cudnn cudnn = Cudnn.create(stream); CachingAllocator alloc = new CachingAllocator();
             ConvolutionPlan plan = new ConvolutionPlan(cudnn, s.n(), s.c(), s.h(), s.w(), s.k(), s.r(), s.s(), s.padH(),
                     s.padW(), s.strideH(), s.strideW(), s.dilationH(), s.dilationW(), s.groups(), s.outH(), s.outW(),
                     false);
             DeviceMemory gx = device(stream, alloc, x); DeviceMemory gw = device(stream, alloc, w);
             DeviceMemory gdy = device(stream, alloc, dy); DeviceMemory gy = alloc.allocate(y.length * 4L);
             DeviceMemory gdx = alloc.allocate(x.length * 4L); DeviceMemory gdw = alloc.allocate(w.length * 4L)) {
            java.util.function.LongFunction<DeviceMemory> workspaces = alloc::allocate;
            for (int repeat = 0; repeat < 2; repeat++) {  // the second run starts from the algorithm that worked
                plan.forward(cudnn, gx, gw, gy, workspaces);
                plan.backwardData(cudnn, gw, gdy, gdx, workspaces);
                plan.backwardFilter(cudnn, gx, gdy, gdw, workspaces);
                assertTrue(Gpu.relativeError(host(stream, gy, y.length), y) < 1e-5, "forward");
                assertTrue(Gpu.relativeError(host(stream, gdx, x.length), dx) < 1e-5, "backward data");
                assertTrue(Gpu.relativeError(host(stream, gdw, w.length), dw) < 1e-5, "backward filter");
            }
            for (ConvolutionAlgorithms.Candidate c : new ConvolutionAlgorithms.Candidate[] {plan.forwardAlgorithm(),
                    plan.backwardDataAlgorithm(), plan.backwardFilterAlgorithm()}) {
                assertTrue(c.workspaceBytes() <= ConvolutionAlgorithms.WORKSPACE_LIMIT, c.toString());
                assertTrue(c.mathType() != io.jdl.bindings.cudnn.cudnn_h.CUDNN_TENSOR_OP_MATH(), "TF32 off: " + c);
            }
        }
    }

    private static float[] run(CpuBackend cpu, int n, java.util.function.Consumer<io.jdl.backend.Storage> op) {
        io.jdl.backend.Storage out = cpu.allocate(n);
        op.accept(out);
        return cpu.download(out, n);
    }

    private static DeviceMemory device(Stream stream, CachingAllocator alloc, float[] values) {
        DeviceMemory m = alloc.allocate(values.length * 4L);
        try (Arena arena = Arena.ofConfined()) {
            stream.copyToDevice(arena.allocateFrom(ValueLayout.JAVA_FLOAT, values), 0, m, 0, values.length * 4L);
            stream.synchronize();
        }
        return m;
    }

    private static float[] host(Stream stream, DeviceMemory m, int n) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(n * 4L);
            stream.copyToHost(m, 0, out, 0, n * 4L);
            stream.synchronize();
            return out.toArray(ValueLayout.JAVA_FLOAT);
        }
    }
}
