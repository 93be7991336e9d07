package io.jdl.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The CUDA runtime layer on a real device: properties, copies, events, allocator. */
@Tag("gpu")
class CudaGpuTest {

    @BeforeEach
    void needsGpu() {
        Gpu.assumeAvailable();
    }

    @Test
    void describesTheDevice() {
        CudaDevice d = CudaDevice.get(0);
        assertTrue(d.name().length() > 0);
        assertTrue(d.major() >= 7, "compute capability " + d.computeCapability());
        assertTrue(d.multiprocessors() > 0);
        assertTrue(d.totalMemory() > (1L << 30));
        assertTrue(d.freeMemory() > 0 && d.freeMemory() <= d.totalMemory());
        assertTrue(Cuda.driverVersion() >= Cuda.runtimeVersion(), "driver older than runtime");
    }

    @Test
    void freeMemoryLeavesTheCallersCurrentDevice() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(CudaDevice.count() >= 2, "needs two devices");
        CudaDevice.get(0).makeCurrent();
        assertTrue(CudaDevice.get(1).freeMemory() > 0);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment current = arena.allocate(ValueLayout.JAVA_INT);
            Cuda.check(io.jdl.bindings.cudart.cuda_runtime_api_h.cudaGetDevice(current), "cudaGetDevice");
            assertEquals(0, current.get(ValueLayout.JAVA_INT, 0), "freeMemory() of cuda:1 switched the caller to it");
        }
    }

    @Test
    void theHostStandInSaysWhatItIs() {
        org.junit.jupiter.api.Assumptions.assumeTrue(StandIn.isLoaded(), "runs on the host stand-in");
        assertEquals(2, CudaDevice.count(), "two devices, so that cuda:1 and cross-thread use are tested");
        assertEquals("jdl host stand-in (not a GPU) #1", CudaDevice.get(1).name());
        assertEquals(io.jdl.bindings.cudart.cuda_runtime_api_h.CUDART_VERSION(), Cuda.runtimeVersion());
        // a device range overrun names the function, the argument and the overrun
        try (CachingAllocator allocator = new CachingAllocator(); DeviceMemory m = allocator.allocate(1000);
                Stream stream = Stream.create(); Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(2048);
            CudaException e = assertThrows(CudaException.class, () -> Cuda.check(
                    io.jdl.bindings.cudart.cuda_runtime_api_h.cudaMemcpyAsync(m.pointer(), host,
                            2048, io.jdl.bindings.cudart.cuda_runtime_api_h.cudaMemcpyHostToDevice(), stream.handle()),
                    "cudaMemcpyAsync"));
            assertTrue(e.getMessage().contains("cudaMemcpyAsync: argument dst: 2048 bytes at")
                    && e.getMessage().contains("overrun the 1024-byte allocation by 1024 bytes"), e.getMessage());
        }
    }

    @Test
    void copiesRoundTripThroughPinnedAndPageableMemory() {
        float[] data = new float[10_000];
        Random r = new Random(1);
        for (int i = 0; i < data.length; i++) {
            data[i] = r.nextFloat();
        }
        long bytes = data.length * 4L;
        try (Stream stream = Stream.create(); CachingAllocator alloc = new CachingAllocator();
             PinnedBuffer pinned = PinnedBuffer.allocate(bytes); Arena arena = Arena.ofConfined()) {
            MemorySegment.copy(data, 0, pinned.segment(), ValueLayout.JAVA_FLOAT, 0, data.length);
            MemorySegment back = arena.allocate(bytes);
            try (DeviceMemory a = alloc.allocate(bytes); DeviceMemory b = alloc.allocate(bytes)) {
                stream.copyToDevice(pinned.segment(), 0, a, 0, bytes);
                stream.copyOnDevice(a, 0, b, 0, bytes);
                stream.copyToHost(b, 0, back, 0, bytes);
                stream.synchronize();
                assertArrayEquals(data, back.toArray(ValueLayout.JAVA_FLOAT));
                stream.memset(b, 0, 0, bytes);
                stream.copyToHost(b, 0, back, 0, bytes);
                stream.synchronize();
                assertArrayEquals(new float[data.length], back.toArray(ValueLayout.JAVA_FLOAT));
                assertThrows(IndexOutOfBoundsException.class, () -> stream.copyToHost(b, 4, back, 0, bytes));
                assertThrows(IllegalArgumentException.class,
                        () -> stream.copyToDevice(MemorySegment.ofArray(data), 0, a, 0, bytes));
            }
            alloc.emptyCache();
            assertEquals(0, alloc.reservedBytes());
        }
    }

    @Test
    void eventsTimeDeviceWork() {
        try (Stream stream = Stream.create(); CachingAllocator alloc = new CachingAllocator();
             Event start = Event.create(); Event end = Event.create();
             DeviceMemory m = alloc.allocate(64L << 20)) {
            start.record(stream);
            stream.memset(m, 0, 1, m.bytes());
            end.record(stream);
            end.synchronize();
            float ms = end.elapsedMillisSince(start);
            assertTrue(ms > 0 && ms < 1000, "64 MiB memset took " + ms + " ms");
        }
    }

    @Test
    void allocatorReturnsToItsBaseline() {
        try (CachingAllocator alloc = new CachingAllocator()) {
            long baseline = alloc.allocatedBytes();
            for (int step = 0; step < 10; step++) {
                try (DeviceMemory a = alloc.allocate(1 << 20); DeviceMemory b = alloc.allocate(3 << 20)) {
                    assertTrue(alloc.allocatedBytes() > baseline);
                }
            }
            assertEquals(baseline, alloc.allocatedBytes());
            assertEquals((1L << 20) + (4L << 20), alloc.reservedBytes(), "blocks reused, not reallocated");
            alloc.emptyCache();
            assertEquals(0, alloc.reservedBytes());
        }
    }

    @Test
    void outOfMemoryIsAnExceptionNotACrash() {
        try (CachingAllocator alloc = new CachingAllocator()) {
            long huge = CudaDevice.get(0).totalMemory() * 4;
            CudaException e = assertThrows(CudaException.class, () -> alloc.allocate(huge));
            assertEquals("cudaErrorMemoryAllocation", e.statusName());
        }
    }
}
