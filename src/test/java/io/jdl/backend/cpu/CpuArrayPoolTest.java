package io.jdl.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.Storage;
import org.junit.jupiter.api.Test;

/** Released arrays come back to the next allocation of their length, only once every handle on them has closed. */
class CpuArrayPoolTest {
    private static float[] array(Storage s) {
        return ((CpuStorage) s).data();
    }

    @Test
    void aClosedStoragesArrayServesTheNextAllocationOfItsLength() {
        int n = CpuArrayPool.MIN_LENGTH + 12_345; // a length no other test allocates
        Storage a = CpuBackend.INSTANCE.allocate(n);
        float[] first = array(a);
        a.close();
        Storage b = CpuBackend.INSTANCE.allocate(n);
        assertSame(first, array(b), "the released array is reused");
        Storage c = CpuBackend.INSTANCE.allocate(n);
        assertNotSame(first, array(c), "an array in use is never handed out twice");
        b.close();
        c.close();
    }

    @Test
    void anArrayReturnsOnlyWhenItsLastHandleCloses() {
        int n = CpuArrayPool.MIN_LENGTH + 23_456;
        Storage a = CpuBackend.INSTANCE.allocate(n);
        float[] first = array(a);
        Storage view = a.share();
        a.close();
        Storage b = CpuBackend.INSTANCE.allocate(n);
        assertNotSame(first, array(b), "a view still holds the array");
        view.close();
        Storage c = CpuBackend.INSTANCE.allocate(n);
        assertSame(first, array(c));
        b.close();
        c.close();
    }

    @Test
    void shortArraysAreNotKeptAndThePoolStaysWithinItsCapacity() {
        Storage small = CpuBackend.INSTANCE.allocate(100);
        float[] first = array(small);
        small.close();
        Storage again = CpuBackend.INSTANCE.allocate(100);
        assertNotSame(first, array(again));
        again.close();
        assertTrue(CpuArrayPool.pooledBytes() <= CpuArrayPool.capacityBytes());
    }
}
