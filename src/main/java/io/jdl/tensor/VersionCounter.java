package io.jdl.tensor;

/**
 * How many times a block of memory was modified in place: one counter per allocation, shared by the base
 * tensor and every view of it, so an in-place change through any of them is seen by the recorded ops that
 * read any of them (as PyTorch's version counter). Confined to one thread like the tensors sharing it.
 */
final class VersionCounter {
    int value;
}
