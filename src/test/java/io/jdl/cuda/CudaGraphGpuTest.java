package io.jdl.cuda;

import static io.jdl.bindings.cudart.cuda_runtime_api_h.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Stream capture and CUDA graphs in the safe layer, against CUDA's documented rules (and the stand-in's model
 * of them): a capture records and runs nothing, each launch replays it, calls a graph cannot record fail and
 * invalidate the capture, and the allocator's graph pool keeps its blocks from everyone else.
 */
@Tag("gpu")
class CudaGraphGpuTest {

    @BeforeEach
    void needsGpu() {
        Gpu.assumeAvailable();
        CudaDevice.get(0).makeCurrent();
    }

    private static float read(Stream stream, DeviceMemory m) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(Float.BYTES);
            stream.copyToHost(m, 0, host, 0, Float.BYTES);
            stream.synchronize();
            return host.get(ValueLayout.JAVA_FLOAT, 0);
        }
    }

    @Test
    void aCaptureRunsNothingAndEachLaunchReplaysIt() {
        try (CachingAllocator allocator = new CachingAllocator(); Stream stream = Stream.create();
             DeviceMemory counter = allocator.allocate(Float.BYTES)) {
            stream.memset(counter, 0, 0, Float.BYTES);
            try (CudaGraph graph = CudaGraph.capture(stream, () -> {
                NativeKernels.get().countReplay(stream, counter);
                NativeKernels.get().countReplay(stream, counter);
            })) {
                assertFalse(stream.isCapturing());
                assertEquals(0f, read(stream, counter), "capturing ran the kernels");
                for (int i = 0; i < 3; i++) {
                    graph.launch(stream);
                }
                assertEquals(6f, read(stream, counter));
            }
        }
    }

    @Test
    void synchronisingACapturingStreamFailsAndInvalidatesTheCapture() {
        try (Stream stream = Stream.create()) {
            int[] status = new int[1];
            CudaException e = assertThrows(CudaException.class, () -> CudaGraph.capture(stream,
                    () -> status[0] = cudaStreamSynchronize(stream.handle())));
            assertEquals(cudaErrorStreamCaptureUnsupported(), status[0]);
            assertEquals(cudaErrorStreamCaptureInvalidated(), e.status());
            assertFalse(stream.isCapturing());
            stream.synchronize(); // usable again
        }
    }

    @Test
    void cudaMallocDuringCaptureNeedsRelaxedMode() {
        try (Stream stream = Stream.create(); Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            int[] status = new int[2];
            CudaException e = assertThrows(CudaException.class, () -> CudaGraph.capture(stream,
                    () -> status[0] = cudaMalloc(out, 256)));
            assertEquals(cudaErrorStreamCaptureUnsupported(), status[0], "cudaMalloc in thread-local capture mode");
            assertEquals(cudaErrorStreamCaptureInvalidated(), e.status());
            MemorySegment[] block = new MemorySegment[1];
            try (CudaGraph graph = CudaGraph.capture(stream, () -> {
                status[1] = CudaGraph.relaxed(() -> cudaMalloc(out, 256));
                block[0] = out.get(ValueLayout.ADDRESS, 0);
            })) {
                assertEquals(cudaSuccess(), status[1], "cudaMalloc with the thread's mode relaxed");
            }
            Cuda.check(cudaFree(block[0]), "cudaFree");
        }
    }

    @Test
    void hostReadsUploadsAndWaitsInsideACaptureAreRefusedByName() {
        try (CachingAllocator allocator = new CachingAllocator(); Stream stream = Stream.create();
             DeviceMemory m = allocator.allocate(16); Arena arena = Arena.ofConfined();
             HostToDeviceStaging staging = new HostToDeviceStaging(stream)) {
            MemorySegment host = arena.allocate(16);
            GraphCaptureException read = assertThrows(GraphCaptureException.class, () -> CudaGraph.capture(stream,
                    () -> stream.copyToHost(m, 0, host, 0, 16)));
            assertTrue(read.getMessage().startsWith("cannot read a device value inside CUDA graph capture: 16 bytes"),
                    read.getMessage());
            GraphCaptureException upload = assertThrows(GraphCaptureException.class, () -> CudaGraph.capture(stream,
                    () -> staging.upload(new float[4], m)));
            assertTrue(upload.getMessage().startsWith("cannot upload host data inside CUDA graph capture"));
            assertThrows(GraphCaptureException.class, () -> CudaGraph.capture(stream, stream::synchronize));
            assertFalse(stream.isCapturing());
            staging.upload(new float[] {1, 2, 3, 4}, m); // eager again
            stream.synchronize();
        }
    }

    @Test
    void aGraphPoolKeepsItsBlocksUntilClosed() {
        try (CachingAllocator allocator = new CachingAllocator(); Stream stream = Stream.create()) {
            DeviceMemory before = allocator.allocate(1000);
            long beforeAddress = before.address();
            CachingAllocator.GraphPool pool = allocator.beginGraphPool();
            assertThrows(IllegalStateException.class, allocator::beginGraphPool);
            DeviceMemory inCapture = allocator.allocate(1000);
            long captured = inCapture.address();
            before.close();       // freed during the capture: joins the graph's pool
            inCapture.close();
            DeviceMemory again = allocator.allocate(1000);
            assertTrue(again.address() == captured || again.address() == beforeAddress, "reuse inside the capture");
            again.close();
            pool.endCapture();
            assertEquals(2048, pool.heldFreeBytes(), "both blocks (the 1000 bytes round up to 1024) stay the graph's");
            DeviceMemory after = allocator.allocate(1000);
            assertNotEquals(captured, after.address(), "a block of the graph went to someone else");
            assertNotEquals(beforeAddress, after.address(), "a block freed during the capture went to someone else");
            long reserved = allocator.reservedBytes();
            pool.close();
            assertEquals(reserved - 2048, allocator.reservedBytes(), "close gives the pool's free blocks back");
            assertEquals(0, pool.heldFreeBytes());
            after.close();
        }
    }

    private static DeviceMemory upload(CachingAllocator allocator, Stream stream, float... values) {
        DeviceMemory m = allocator.allocate((long) values.length * Float.BYTES);
        try (Arena arena = Arena.ofConfined()) {
            stream.copyToDevice(arena.allocateFrom(ValueLayout.JAVA_FLOAT, values), 0, m, 0, m.bytes());
            stream.synchronize();
        }
        return m;
    }

    private static float[] download(Stream stream, DeviceMemory m) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(m.bytes());
            stream.copyToHost(m, 0, host, 0, m.bytes());
            stream.synchronize();
            return host.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    /** The counted kernels with counter c compute what the plain ones do at step / seed base + c, bit for bit. */
    @Test
    void countedAdamAndDropoutEqualThePlainKernelsAtBasePlusTheCounter() {
        int n = 1000;
        float[] p = new float[n], g = new float[n], m = new float[n], v = new float[n];
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < n; i++) {
            p[i] = (float) r.nextGaussian();
            g[i] = (float) r.nextGaussian();
            m[i] = 0.1f * (float) r.nextGaussian();
            v[i] = 0.01f * Math.abs((float) r.nextGaussian());
        }
        NativeKernels k = NativeKernels.get();
        try (CachingAllocator a = new CachingAllocator(); Stream s = Stream.create();
             DeviceMemory p1 = upload(a, s, p); DeviceMemory g1 = upload(a, s, g); DeviceMemory m1 = upload(a, s, m);
             DeviceMemory v1 = upload(a, s, v); DeviceMemory p2 = upload(a, s, p); DeviceMemory g2 = upload(a, s, g);
             DeviceMemory m2 = upload(a, s, m); DeviceMemory v2 = upload(a, s, v); DeviceMemory counter = upload(a, s, 4f);
             DeviceMemory y1 = a.allocate(4L * n); DeviceMemory y2 = a.allocate(4L * n);
             DeviceMemory k1 = a.allocate(4L * n); DeviceMemory k2 = a.allocate(4L * n)) {
            k.adamStep(s, p1, g1, m1, v1, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, true, 7);
            k.adamStepCounted(s, p2, g2, m2, v2, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, true, 3, counter);
            assertEquals(java.util.Arrays.toString(download(s, p1)), java.util.Arrays.toString(download(s, p2)));
            assertEquals(java.util.Arrays.toString(download(s, v1)), java.util.Arrays.toString(download(s, v2)));
            k.dropout(s, g1, y1, k1, n, 0.3f, 19L);
            k.dropoutCounted(s, g2, y2, k2, n, 0.3f, 15L, counter);
            assertEquals(java.util.Arrays.toString(download(s, k1)), java.util.Arrays.toString(download(s, k2)));
            k.countReplay(s, counter);
            assertEquals(5f, download(s, counter)[0]);
        }
    }

    /** The stand-in's model of two more refusals (checked against NVIDIA's error codes; see native/standin). */
    @Test
    void pageableCopiesAndCapturedEventsAreRefusedOnTheStandIn() {
        Gpu.assumeStandIn("the stand-in's capture model of pageable copies and captured events");
        try (CachingAllocator allocator = new CachingAllocator(); Stream stream = Stream.create();
             DeviceMemory m = allocator.allocate(64); Arena arena = Arena.ofConfined(); Event event = Event.create()) {
            MemorySegment pageable = arena.allocate(64);
            int[] status = new int[1];
            CudaException e = assertThrows(CudaException.class, () -> CudaGraph.capture(stream, () -> status[0] =
                    cudaMemcpyAsync(m.pointer(), pageable, 64, cudaMemcpyHostToDevice(), stream.handle())));
            assertEquals(cudaErrorStreamCaptureUnsupported(), status[0], "a copy from pageable memory in a capture");
            assertEquals(cudaErrorStreamCaptureInvalidated(), e.status());
            try (CudaGraph graph = CudaGraph.capture(stream, () -> event.record(stream))) {
                assertEquals(cudaErrorCapturedEvent(), cudaEventQuery(event.handle()),
                        "querying an event last recorded in a capture");
                graph.launch(stream);
            }
            event.record(stream); // recorded eagerly again: an ordinary event
            stream.synchronize();
            assertEquals(cudaSuccess(), cudaEventQuery(event.handle()));
        }
    }
}
