package io.jdl.data;

import java.util.SplittableRandom;

/**
 * Fills host batches of one epoch, in order: inputs converted (and augmented, then normalised per channel),
 * labels or float targets, sample indices. Holds no reference to the loader or the epoch, so that a
 * prefetching thread running it keeps neither reachable (an abandoned epoch can then be cleaned).
 */
final class BatchFiller {
    /** A pooled pair of host buffers of {@code rows} samples. */
    record Buffers(float[] inputs, float[] targets) {
    }

    /** One filled batch: {@code buffers} hold its {@code labels.length} samples (or an error from the filler thread). */
    record HostBatch(Buffers buffers, int[] labels, int[] indices, Throwable error) {
        static final HostBatch END = new HostBatch(null, null, null, null);
    }

    private final DataSource source;
    private final int[] order;
    private final int batchSize, rows, inputSize, targetSize, channels, plane;
    private final int[] inputShape;
    private final float[] mean, std, scratch;
    private final Augmentation augmentation;
    private final SplittableRandom augRandom;
    private int produced;

    BatchFiller(DataSource source, int[] order, int batchSize, int rows, int channels, float[] mean, float[] std,
                Augmentation augmentation, SplittableRandom augRandom, int firstBatch) {
        this.source = source;
        this.order = order;
        this.batchSize = batchSize;
        this.rows = rows;
        this.inputSize = source.inputSize();
        this.targetSize = source.hasLabels() ? 0 : product(source.targetShape());
        this.channels = channels;
        this.plane = inputSize / channels;
        this.inputShape = source.inputShape();
        this.mean = mean;
        this.std = std;
        this.augmentation = augmentation;
        this.augRandom = augRandom;
        this.scratch = augmentation.isNone() ? null : new float[inputSize];
        this.produced = firstBatch;
        if (!augmentation.isNone()) {
            // Augmentation draws the same count per sample, so skipping the first batches replays exactly their draws.
            for (long i = 0, n = (long) firstBatch * batchSize; i < n; i++) {
                augmentation.skip(augRandom);
            }
        }
    }

    static int product(int[] shape) {
        int n = 1;
        for (int d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    Buffers newBuffers() {
        return new Buffers(new float[Math.multiplyExact(rows, inputSize)],
                targetSize == 0 ? null : new float[Math.multiplyExact(rows, targetSize)]);
    }

    HostBatch fill(Buffers buf) {
        long start = (long) produced * batchSize;
        int n = (int) Math.min(batchSize, order.length - start);
        int[] labels = source.hasLabels() ? new int[n] : null, indices = new int[n];
        float[] in = buf.inputs();
        for (int b = 0; b < n; b++) {
            int idx = order[(int) start + b];
            indices[b] = idx;
            if (labels != null) {
                labels[b] = source.label(idx);
            } else {
                source.target(idx, buf.targets(), b * targetSize);
            }
            int off = b * inputSize;
            if (scratch == null) {
                source.input(idx, in, off);
            } else {
                source.input(idx, scratch, 0);
                augmentation.apply(scratch, inputShape[0], inputShape[1], inputShape[2], in, off, augRandom);
            }
            for (int c = 0; c < channels; c++) {
                float m = mean[c], inv = 1f / std[c];
                int base = off + c * plane;
                if (m != 0f || inv != 1f) {
                    for (int k = 0; k < plane; k++) {
                        in[base + k] = (in[base + k] - m) * inv;
                    }
                }
            }
        }
        produced++;
        return new HostBatch(buf, labels, indices, null);
    }
}
