package io.jdl.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Failures that a GPU produces rarely and never on demand, injected by the host stand-in: device out-of-memory
 * must surface as a typed exception with the figures, after the caching allocator gave its cache back and
 * tried once more. What a failing library call or an out-of-memory in a training step leaves behind:
 * {@code io.jdl.models.FaultRecoveryGpuTest}.
 */
@Tag("gpu")
class FaultInjectionGpuTest {
    @BeforeEach
    void needsTheStandIn() {
        Gpu.assumeStandIn("fault injection");
    }

    @AfterEach
    void noFaultsLeft() {
        StandIn.failAllocations(0, 0);
    }

    @Test
    void deviceOutOfMemoryIsTypedAndNamesTheFigures() {
        try (CachingAllocator allocator = new CachingAllocator()) {
            DeviceMemory kept = allocator.allocate(1000);
            StandIn.failAllocations(1, 1);
            DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class, () -> allocator.allocate(5000));
            assertEquals(5120, e.requestedBytes(), "rounded to the 512-byte size class");
            assertEquals(1024, e.allocatedBytes());
            assertEquals(1024, e.reservedBytes());
            assertEquals("cudaErrorMemoryAllocation", e.statusName());
            assertTrue(e.getMessage().contains("allocating 5120 bytes of device memory with 1024 bytes in use and 1024 reserved"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("injected"), "the stand-in says the failure was injected: " + e.getMessage());
            kept.close();
            // the allocator works again once memory is there
            allocator.allocate(5000).close();
        }
    }

    @Test
    void theAllocatorReleasesItsCacheAndRetriesOnce() {
        try (CachingAllocator allocator = new CachingAllocator()) {
            allocator.allocate(4096).close();
            allocator.allocate((1 << 20) + 1).close();  // a 2 MiB block
            long live = StandIn.liveAllocations();
            assertEquals(4096 + (2 << 20), allocator.reservedBytes(), "two blocks cached");
            StandIn.failAllocations(1, 1);
            try (DeviceMemory big = allocator.allocate(3 << 20)) {  // a 4 MiB class: misses the cache
                assertEquals(live - 2 + 1, StandIn.liveAllocations(), "cache given back, then one new block");
                assertEquals(4L << 20, allocator.reservedBytes());
            }
            // twice in a row: the retry fails too, and the caller is told
            StandIn.failAllocations(1, 2);
            assertThrows(DeviceOutOfMemoryException.class, () -> allocator.allocate(5 << 20));
        }
    }
}
