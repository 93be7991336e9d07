package io.jdl.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** jdl's parallel loop: every index once, on the configured threads, failures and nesting handled. */
class CpuParallelTest {
    private final int initial = CpuBackend.threads();

    @AfterEach
    void restore() {
        CpuBackend.setThreads(initial);
    }

    @Test
    void everyIndexRunsExactlyOnceWhateverTheThreadCount() {
        for (int threads : new int[] {1, 2, 3, 8}) {
            CpuBackend.setThreads(threads);
            assertEquals(threads, CpuBackend.threads());
            for (int count : new int[] {0, 1, 2, 7, 1000, 100_003}) {
                AtomicIntegerArray seen = new AtomicIntegerArray(count);
                CpuParallel.forEach(count, Long.MAX_VALUE, seen::incrementAndGet);
                for (int i = 0; i < count; i++) {
                    assertEquals(1, seen.get(i), "index " + i + " of " + count + " on " + threads + " threads");
                }
            }
        }
    }

    @Test
    void usesNoMoreThreadsThanConfiguredAndLeavesTheCommonPoolAlone() {
        CpuBackend.setThreads(3);
        Set<Thread> used = ConcurrentHashMap.newKeySet();
        CpuParallel.forEach(10_000, Long.MAX_VALUE, i -> {
            used.add(Thread.currentThread());
            for (long spin = 0; spin < 2_000; spin++) {
                Thread.onSpinWait();
            }
        });
        assertTrue(used.size() <= 3, "ran on " + used);
        for (Thread t : used) {
            assertTrue(t == Thread.currentThread() || t.getName().startsWith("jdl-cpu-"), t.getName());
        }
    }

    @Test
    void smallWorkStaysOnTheCallingThread() {
        CpuBackend.setThreads(4);
        Set<Thread> used = ConcurrentHashMap.newKeySet();
        CpuParallel.forEach(1000, CpuParallel.MIN_WORK - 1, i -> used.add(Thread.currentThread()));
        assertEquals(Set.of(Thread.currentThread()), used);
    }

    @Test
    void theFirstFailureIsRethrownAfterEveryChunkFinished() {
        CpuBackend.setThreads(4);
        IllegalStateException boom = new IllegalStateException("boom");
        var e = assertThrows(IllegalStateException.class, () -> CpuParallel.forEach(1000, Long.MAX_VALUE, i -> {
            if (i == 500) {
                throw boom;
            }
        }));
        assertSame(boom, e);
        // the pool still works afterwards
        AtomicIntegerArray seen = new AtomicIntegerArray(100);
        CpuParallel.forEach(100, Long.MAX_VALUE, seen::incrementAndGet);
        for (int i = 0; i < 100; i++) {
            assertEquals(1, seen.get(i));
        }
    }

    @Test
    void aLoopInsideALoopCompletes() {
        CpuBackend.setThreads(2);
        AtomicIntegerArray seen = new AtomicIntegerArray(64 * 64);
        CpuParallel.forEach(64, Long.MAX_VALUE, i -> CpuParallel.forEach(64, Long.MAX_VALUE,
                j -> seen.incrementAndGet(i * 64 + j)));
        for (int i = 0; i < seen.length(); i++) {
            assertEquals(1, seen.get(i));
        }
    }

    @Test
    void aThreadCountBelowOneIsRefused() {
        var e = assertThrows(IllegalArgumentException.class, () -> CpuBackend.setThreads(0));
        assertTrue(e.getMessage().contains("thread count must be >= 1, got 0"), e.getMessage());
    }
}
