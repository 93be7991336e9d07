package io.jdl.backend.cpu;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Released CPU storage arrays kept for the next allocation of the same length, so that a training step's
 * tensors (the same shapes every step) reuse the last step's arrays instead of having the JVM zero fresh
 * ones: {@link io.jdl.backend.Backend#allocate} promises uninitialised memory, as on a GPU, and every kernel
 * writes its whole output (profiled: zeroing new arrays was a visible share of the cnn step).
 *
 * <p>Lifetime: {@link CpuStorage} gives its array back when its last handle closes (no handle can reach it
 * after that: {@code CpuStorage.data()} refuses a closed handle, and no kernel keeps an array past its call);
 * {@link #take} hands it to the next allocation of that length, with its old contents. Arrays below
 * {@link #MIN_LENGTH} floats are not kept (the JVM allocates those fast), and the pool holds at most
 * {@link #capacityBytes()}: past that a released array is left to the garbage collector.
 *
 * <p>Switches (system properties, read once): {@code jdl.cpu.pool=false} turns the pool off (every allocation a
 * new, zeroed array); {@code jdl.cpu.pool.poison=true} fills every reused array with NaN first, so a kernel that
 * wrongly relies on zeroed memory shows up in tests. Thread safety: all methods may be called from any thread.
 */
final class CpuArrayPool {
    /** Shorter arrays are not pooled. */
    static final int MIN_LENGTH = 1 << 14;

    private static final boolean ENABLED = !"false".equalsIgnoreCase(System.getProperty("jdl.cpu.pool", "true").trim());
    private static final boolean POISON = Boolean.getBoolean("jdl.cpu.pool.poison");
    private static final long CAPACITY = Math.min(Runtime.getRuntime().maxMemory() / 8, 1L << 30);

    /** Length -> released arrays of that length, most recent last. Guarded by itself. */
    private static final Map<Integer, ArrayDeque<float[]>> FREE = new HashMap<>();
    private static long pooledBytes;

    private CpuArrayPool() {
    }

    /** The bytes the pool may hold: an eighth of the maximum heap, at most 1 GiB. */
    static long capacityBytes() {
        return CAPACITY;
    }

    /** An array of {@code length} floats: a released one (contents unspecified) when the pool has one, else new. */
    static float[] take(int length) {
        if (ENABLED && length >= MIN_LENGTH) {
            float[] reused;
            synchronized (FREE) {
                ArrayDeque<float[]> q = FREE.get(length);
                reused = q == null ? null : q.pollLast();
                if (reused != null) {
                    pooledBytes -= (long) length * Float.BYTES;
                }
            }
            if (reused != null) {
                if (POISON) {
                    java.util.Arrays.fill(reused, Float.NaN);
                }
                return reused;
            }
        }
        return new float[length];
    }

    /** Gives back an array nothing references any more; kept when it is long enough and the pool has room. */
    static void give(float[] array) {
        if (!ENABLED || array.length < MIN_LENGTH) {
            return;
        }
        long bytes = (long) array.length * Float.BYTES;
        synchronized (FREE) {
            if (pooledBytes + bytes <= CAPACITY) {
                FREE.computeIfAbsent(array.length, k -> new ArrayDeque<>()).addLast(array);
                pooledBytes += bytes;
            }
        }
    }

    /** Bytes held now (for tests). */
    static long pooledBytes() {
        synchronized (FREE) {
            return pooledBytes;
        }
    }
}
