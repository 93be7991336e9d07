package io.jdl.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The allocator's bookkeeping, over a fake device that records every malloc and free. */
class CachingAllocatorTest {

    /** Hands out fake addresses; fails once more than {@code capacity} bytes are live. */
    static final class FakeDevice implements CachingAllocator.RawAllocator {
        final long capacity;
        final Map<Long, Long> live = new HashMap<>();
        long liveBytes;
        long next = 0x1000;
        int mallocs;
        int frees;

        FakeDevice(long capacity) {
            this.capacity = capacity;
        }

        @Override
        public long malloc(long bytes) {
            if (liveBytes + bytes > capacity) {
                throw new CudaException("cudaMalloc", 2, "cudaErrorMemoryAllocation", "out of memory");
            }
            mallocs++;
            long a = next;
            next += bytes;
            live.put(a, bytes);
            liveBytes += bytes;
            return a;
        }

        @Override
        public void free(long address) {
            Long bytes = live.remove(address);
            assertTrue(bytes != null, "double or foreign free of " + address);
            liveBytes -= bytes;
            frees++;
        }
    }

    @Test
    void roundsToSizeClasses() {
        assertEquals(512, CachingAllocator.roundUp(0));
        assertEquals(512, CachingAllocator.roundUp(1));
        assertEquals(1024, CachingAllocator.roundUp(513));
        assertEquals(1L << 20, CachingAllocator.roundUp(1L << 20));
        assertEquals(2L << 20, CachingAllocator.roundUp((1L << 20) + 1));
        assertEquals(4L << 20, CachingAllocator.roundUp((2L << 20) + 1));
    }

    @Test
    void reusesFreedBlocksAndCountsBytes() {
        FakeDevice dev = new FakeDevice(1L << 30);
        try (CachingAllocator alloc = new CachingAllocator(dev)) {
            DeviceMemory a = alloc.allocate(1000);
            assertEquals(1000, a.bytes());
            assertEquals(1024, alloc.allocatedBytes());
            assertEquals(1024, alloc.reservedBytes());
            long address = a.address();
            a.close();
            assertEquals(0, alloc.allocatedBytes());
            assertEquals(1024, alloc.reservedBytes(), "a freed block stays cached");
            DeviceMemory b = alloc.allocate(900);
            assertEquals(address, b.address(), "same size class reuses the cached block");
            assertEquals(1, dev.mallocs);
            DeviceMemory c = alloc.allocate(3000);
            assertEquals(1024 + 3072, alloc.peakAllocatedBytes());
            b.close();
            c.close();
            alloc.emptyCache();
            assertEquals(0, alloc.reservedBytes());
            assertEquals(2, dev.frees);
            assertTrue(dev.live.isEmpty());
        }
    }

    @Test
    void releasesCacheAndRetriesWhenOutOfMemory() {
        FakeDevice dev = new FakeDevice(4096);
        try (CachingAllocator alloc = new CachingAllocator(dev)) {
            alloc.allocate(2048).close();            // cached, still live on the fake device
            DeviceMemory big = alloc.allocate(3000); // 3072 > 4096 - 2048: the cache must go first
            assertEquals(1, dev.frees);
            CudaException e = assertThrows(CudaException.class, () -> alloc.allocate(4096));
            assertEquals("cudaErrorMemoryAllocation", e.statusName());
            assertTrue(e.getMessage().contains("3072 bytes in use"), e.getMessage());
            big.close();
        }
        assertTrue(dev.live.isEmpty(), "closing the allocator frees its cache");
    }

    @Test
    void blockUseAfterCloseAndDoubleCloseThrow() {
        try (CachingAllocator alloc = new CachingAllocator(new FakeDevice(1 << 20))) {
            DeviceMemory m = alloc.allocate(64);
            assertEquals(0, m.pointer().byteSize(), "device pointers are zero-length: never dereferenceable on the host");
            assertThrows(IndexOutOfBoundsException.class, () -> m.pointer().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
            m.close();
            assertThrows(IllegalStateException.class, m::pointer);
            assertThrows(IllegalStateException.class, m::close);
            assertEquals(0, alloc.allocatedBytes(), "freed exactly once");
        }
    }

    @Test
    void blocksFreedAfterAllocatorClosedGoStraightBack() {
        FakeDevice dev = new FakeDevice(1 << 20);
        CachingAllocator alloc = new CachingAllocator(dev);
        DeviceMemory m = alloc.allocate(100);
        alloc.close();
        assertThrows(IllegalStateException.class, () -> alloc.allocate(1));
        m.close();
        assertTrue(dev.live.isEmpty());
    }
}
