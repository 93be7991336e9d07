package io.jdl.cuda;

import java.util.Arrays;

/**
 * Free device blocks by size class, for {@link CachingAllocator}: a stack of addresses per block size, in
 * primitive arrays. It replaces a {@code Map<Long, ArrayDeque<Long>>} whose boxed keys and addresses cost an
 * allocation and a {@code Long.equals} per block handed out or given back (a few per op of a training step).
 *
 * <p>Sizes are positive and addresses non-zero (a device pointer from {@code cudaMalloc} of at least 512
 * bytes is never null): 0 marks an empty slot and "no block". Not thread-safe: the allocator's lock guards it.
 */
final class FreeLists {
    /** Receives one free block. */
    interface BlockConsumer {
        void accept(long size, long address);
    }

    /** Open addressing, linear probing; a power of two long, at most half full. 0 = empty slot. */
    private long[] sizes = new long[64];
    private long[][] stacks = new long[64][];
    private int[] counts = new int[64];
    private int slotsUsed;
    private long blocks;

    private int slot(long size) {
        int mask = sizes.length - 1;
        int i = Long.hashCode(size * 0x9E3779B97F4A7C15L) & mask;
        while (sizes[i] != 0 && sizes[i] != size) {
            i = (i + 1) & mask;
        }
        return i;
    }

    /** Adds a free block of {@code size} bytes at {@code address}. */
    void push(long size, long address) {
        if (size <= 0 || address == 0) {
            throw new IllegalArgumentException("free block of " + size + " bytes at address " + address);
        }
        int i = slot(size);
        if (sizes[i] == 0) {
            if (2 * (slotsUsed + 1) > sizes.length) {
                grow();
                i = slot(size);
            }
            sizes[i] = size;
            stacks[i] = new long[4];
            slotsUsed++;
        }
        long[] stack = stacks[i];
        if (counts[i] == stack.length) {
            stack = stacks[i] = Arrays.copyOf(stack, 2 * stack.length);
        }
        stack[counts[i]++] = address;
        blocks++;
    }

    /** The most recently freed block of exactly {@code size} bytes, removed from the list, or 0 when there is none. */
    long pop(long size) {
        int i = slot(size);
        if (counts[i] == 0) {
            return 0;
        }
        blocks--;
        return stacks[i][--counts[i]];
    }

    boolean isEmpty() {
        return blocks == 0;
    }

    /** Bytes held in free blocks. */
    long bytes() {
        long total = 0;
        for (int i = 0; i < sizes.length; i++) {
            total += sizes[i] * counts[i];
        }
        return total;
    }

    /**
     * Removes every free block, passing each to {@code consumer}; a block is off the lists before it is passed, so
     * a consumer that throws leaves exactly the blocks it has not seen.
     */
    void drain(BlockConsumer consumer) {
        for (int i = 0; i < sizes.length; i++) {
            while (counts[i] > 0) {
                long address = stacks[i][--counts[i]];
                blocks--;
                consumer.accept(sizes[i], address);
            }
        }
    }

    private void grow() {
        long[] oldSizes = sizes;
        long[][] oldStacks = stacks;
        int[] oldCounts = counts;
        sizes = new long[2 * oldSizes.length];
        stacks = new long[sizes.length][];
        counts = new int[sizes.length];
        for (int j = 0; j < oldSizes.length; j++) {
            if (oldSizes[j] != 0) {
                int i = slot(oldSizes[j]);
                sizes[i] = oldSizes[j];
                stacks[i] = oldStacks[j];
                counts[i] = oldCounts[j];
            }
        }
    }
}
