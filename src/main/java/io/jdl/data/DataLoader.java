package io.jdl.data;

import io.jdl.backend.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Turns a {@link Dataset} into batches of tensors: seeded shuffling with a new order each epoch, optional
 * dropping of the last incomplete batch, pixel scaling to [0, 1], per-channel normalisation
 * {@code (x - mean) / std}, and seeded {@link Augmentation}.
 *
 * <pre>{@code
 * DataLoader loader = DataLoader.builder(mnist.train()).batchSize(128).shuffle(true).seed(42)
 *         .normalize(0.2860f, 0.3530f).augmentation(Augmentation.flipAndShift(2)).device(device).build();
 * for (int epoch = 0; epoch < epochs; epoch++) {
 *     try (DataLoader.Epoch batches = loader.epoch(epoch)) {
 *         for (DataLoader.Batch batch : batches) {
 *             try (batch) { ... batch.images() ... batch.labels() ... }
 *         }
 *     }
 * }
 * }</pre>
 *
 * <p><b>Coverage and determinism.</b> Each epoch visits every sample exactly once (with {@code dropLast},
 * the samples of the last incomplete batch are skipped for that epoch only; the next epoch's order differs).
 * The order and the augmentation of epoch {@code e} depend only on the seed and {@code e}: the same seed
 * gives the same batches, with or without prefetching, on any device.
 *
 * <p><b>Ownership.</b> Each {@link Batch} owns its images tensor and must be closed by the caller (closing
 * the batch closes the tensor). The labels array is the batch's own. The loader reuses its host float
 * buffers between batches; the tensor holds a copy ({@link Tensor#of(float[], Shape, Device)}), so a batch
 * stays valid after the next one is produced.
 *
 * <p><b>Devices.</b> The images tensor is built on the loader's device with
 * {@link Tensor#of(float[], Shape, Device)}, on the thread that calls {@code next()}. On a CUDA device the
 * backend stages it through pinned memory and copies it asynchronously on its stream, so the host goes on
 * preparing the next batch while the GPU computes; it waits only when it runs several uploads ahead.
 *
 * <p><b>Prefetching.</b> With {@code prefetch(true)} (the default) a background daemon thread prepares the
 * next host batches (shuffle indexing, conversion, augmentation) into a bounded queue of two while the
 * caller trains. Close the {@link Epoch} (try-with-resources) when leaving the loop early, so that thread
 * stops; an epoch iterated to its end stops it by itself. An exception in that thread is rethrown by
 * {@code next()}.
 *
 * <p>A loader is not thread-safe: iterate one epoch at a time, from one thread.
 */
public final class DataLoader {
    private static final int QUEUE = 2;

    private final Dataset dataset;
    private final int batchSize;
    private final boolean shuffle, dropLast, flatten, prefetch;
    private final long seed;
    private final float[] mean, std;
    private final Augmentation augmentation;
    private final Device device;
    private Epoch current;

    private DataLoader(Builder b) {
        this.dataset = b.dataset;
        this.batchSize = b.batchSize;
        this.shuffle = b.shuffle;
        this.dropLast = b.dropLast;
        this.flatten = b.flatten;
        this.prefetch = b.prefetch;
        this.seed = b.seed;
        this.augmentation = b.augmentation;
        this.device = b.device;
        int c = dataset.channels();
        this.mean = expand(b.mean, c, "mean");
        this.std = expand(b.std, c, "std");
        for (float s : std) {
            if (!(s > 0)) {
                throw new IllegalArgumentException("std must be > 0, got " + Arrays.toString(b.std));
            }
        }
        if (batchSize <= 0) {
            throw new IllegalArgumentException("batchSize must be > 0, got " + batchSize);
        }
    }

    private static float[] expand(float[] v, int channels, String what) {
        if (v.length == 1) {
            float[] out = new float[channels];
            Arrays.fill(out, v[0]);
            return out;
        }
        if (v.length != channels) {
            throw new IllegalArgumentException(what + " has " + v.length + " values for " + channels + " channels");
        }
        return v.clone();
    }

    public static Builder builder(Dataset dataset) {
        return new Builder(dataset);
    }

    public Dataset dataset() {
        return dataset;
    }

    public int batchSize() {
        return batchSize;
    }

    public Device device() {
        return device;
    }

    /** Batches per epoch: {@code ceil(size / batchSize)}, or {@code floor} with {@code dropLast}. */
    public int batchesPerEpoch() {
        int n = dataset.size();
        return dropLast ? n / batchSize : (n + batchSize - 1) / batchSize;
    }

    /** Samples per epoch (all of them, or fewer with {@code dropLast}). */
    public int samplesPerEpoch() {
        return dropLast ? batchesPerEpoch() * batchSize : dataset.size();
    }

    /** The sample order of epoch {@code epoch}: a permutation of {@code 0..size-1} (identity without shuffle). */
    public int[] order(int epoch) {
        int[] order = new int[dataset.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        if (shuffle) {
            SplittableRandom rng = epochRandom(epoch);
            for (int i = order.length - 1; i > 0; i--) {
                int j = rng.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        return order;
    }

    private SplittableRandom epochRandom(int epoch) {
        return new SplittableRandom(seed * 0x9E3779B97F4A7C15L + epoch);
    }

    /**
     * Starts epoch {@code epoch} (0-based; it selects the shuffle order and augmentation draws). A previous
     * epoch of this loader that is still open is closed first.
     */
    public Epoch epoch(int epoch) {
        return epoch(epoch, 0);
    }

    /**
     * Starts epoch {@code epoch} at batch {@code firstBatch}: the batches it returns are exactly batches
     * {@code firstBatch, firstBatch + 1, ...} of {@link #epoch(int)}, augmentation included, so a run resumed
     * from a checkpoint taken mid-epoch sees the data an uninterrupted run would.
     *
     * @throws IllegalArgumentException when {@code firstBatch} is outside {@code [0, batchesPerEpoch()]}
     */
    public Epoch epoch(int epoch, int firstBatch) {
        if (firstBatch < 0 || firstBatch > batchesPerEpoch()) {
            throw new IllegalArgumentException("firstBatch " + firstBatch + " is outside [0, " + batchesPerEpoch()
                    + "] (batches per epoch)");
        }
        if (current != null) {
            current.close();
        }
        current = new Epoch(epoch, firstBatch);
        return current;
    }

    /** One batch: the images tensor (owned by the batch), their labels and their sample indices. */
    public static final class Batch implements AutoCloseable {
        private final Tensor images;
        private final int[] labels, indices;

        Batch(Tensor images, int[] labels, int[] indices) {
            this.images = images;
            this.labels = labels;
            this.indices = indices;
        }

        /** {@code [B, C, H, W]}, or {@code [B, C*H*W]} when the loader flattens; owned by this batch. */
        public Tensor images() {
            return images;
        }

        /** The class of each image (length B). */
        public int[] labels() {
            return labels;
        }

        /** The data set index of each image (length B). */
        public int[] indices() {
            return indices;
        }

        public int size() {
            return labels.length;
        }

        /** Closes the images tensor. */
        @Override
        public void close() {
            if (!images.isClosed()) {
                images.close();
            }
        }
    }

    /** A host batch produced by the filler: {@code data} is a pooled buffer of {@code batchSize} images. */
    private record HostBatch(float[] data, int[] labels, int[] indices, Throwable error) {
        static final HostBatch END = new HostBatch(null, null, null, null);
    }

    /** The batches of one epoch, in order. Iterable once. Close it to stop prefetching early. */
    public final class Epoch implements Iterable<Batch>, Iterator<Batch>, AutoCloseable {
        private final int[] order;
        private final SplittableRandom augRandom;
        private final int batches;
        private final float[] scratch = new float[dataset.imageSize()];
        private int produced; // batches filled (filler side)
        private int consumed; // batches returned by next()
        private boolean closed;
        // prefetching
        private final BlockingQueue<float[]> free;
        private final BlockingQueue<HostBatch> ready;
        private final Thread worker;
        // synchronous
        private float[] buffer;

        Epoch(int epoch, int firstBatch) {
            this.order = order(epoch);
            SplittableRandom r = epochRandom(epoch);
            r.nextLong();
            this.augRandom = r.split();
            this.batches = batchesPerEpoch();
            this.produced = firstBatch;
            this.consumed = firstBatch;
            if (!augmentation.isNone()) {
                for (long i = 0, n = (long) firstBatch * batchSize; i < n; i++) {
                    augmentation.skip(augRandom);
                }
            }
            int floats = batchSize * dataset.imageSize();
            if (prefetch && batches > 0) {
                // The consumer hands a buffer back as soon as Tensor.of has copied it, so QUEUE buffers give a
                // queue of QUEUE ready batches; one more slot in `ready` for the end marker or an error.
                free = new ArrayBlockingQueue<>(QUEUE);
                for (int i = 0; i < QUEUE; i++) {
                    free.add(new float[floats]);
                }
                ready = new ArrayBlockingQueue<>(QUEUE + 1);
                worker = Thread.ofPlatform().daemon().name("jdl-dataloader").unstarted(this::run);
                worker.start();
            } else {
                free = null;
                ready = null;
                worker = null;
                buffer = new float[floats];
            }
        }

        private void run() {
            try {
                while (produced < batches) {
                    float[] buf = free.take();
                    ready.put(fill(buf));
                }
                ready.put(HostBatch.END);
            } catch (InterruptedException e) {
                // closed early
            } catch (Throwable t) {
                ready.offer(new HostBatch(null, null, null, t));
            }
        }

        private HostBatch fill(float[] buf) {
            int start = produced * batchSize;
            int n = Math.min(batchSize, order.length - start);
            int[] labels = new int[n], indices = new int[n];
            int size = dataset.imageSize(), plane = dataset.height() * dataset.width();
            byte[] pixels = dataset.pixels();
            for (int b = 0; b < n; b++) {
                int idx = order[start + b];
                indices[b] = idx;
                labels[b] = dataset.label(idx);
                int off = b * size;
                if (augmentation.isNone()) {
                    for (int k = 0; k < size; k++) {
                        buf[off + k] = (pixels[idx * size + k] & 0xff) / 255f;
                    }
                } else {
                    for (int k = 0; k < size; k++) {
                        scratch[k] = (pixels[idx * size + k] & 0xff) / 255f;
                    }
                    augmentation.apply(scratch, dataset.channels(), dataset.height(), dataset.width(), buf, off, augRandom);
                }
                for (int c = 0; c < dataset.channels(); c++) {
                    float m = mean[c], inv = 1f / std[c];
                    int base = off + c * plane;
                    if (m != 0f || inv != 1f) {
                        for (int k = 0; k < plane; k++) {
                            buf[base + k] = (buf[base + k] - m) * inv;
                        }
                    }
                }
            }
            produced++;
            return new HostBatch(buf, labels, indices, null);
        }

        @Override
        public Iterator<Batch> iterator() {
            return this;
        }

        @Override
        public boolean hasNext() {
            return !closed && consumed < batches;
        }

        @Override
        public Batch next() {
            if (!hasNext()) {
                throw new NoSuchElementException(closed ? "epoch closed" : "epoch has " + batches + " batches");
            }
            HostBatch hb;
            if (worker == null) {
                hb = fill(buffer);
            } else {
                try {
                    hb = ready.take();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for a batch", e);
                }
                if (hb.error != null) {
                    close();
                    throw new IllegalStateException("data loader thread failed: " + hb.error, hb.error);
                }
            }
            int n = hb.labels.length;
            int size = dataset.imageSize();
            float[] data = n == batchSize ? hb.data : Arrays.copyOf(hb.data, n * size);
            Shape shape = flatten ? Shape.of(n, size) : Shape.of(n, dataset.channels(), dataset.height(), dataset.width());
            Tensor images;
            try {
                images = Tensor.of(data, shape, device);
            } finally {
                if (worker != null) {
                    free.offer(hb.data);
                }
            }
            consumed++;
            if (consumed == batches) {
                close();
            }
            return new Batch(images, hb.labels, hb.indices);
        }

        /** Stops the prefetching thread (if any) and ends the iteration. Idempotent. */
        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            if (worker != null) {
                worker.interrupt();
                try {
                    worker.join(TimeUnit.SECONDS.toMillis(5));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (current == this) {
                current = null;
            }
        }
    }

    /** Options for a {@link DataLoader}; defaults: batch 64, no shuffle, seed 0, keep last, no normalisation,
     * no augmentation, images [B,C,H,W], CPU, prefetch on. */
    public static final class Builder {
        private final Dataset dataset;
        private int batchSize = 64;
        private boolean shuffle, dropLast, flatten, prefetch = true;
        private long seed;
        private float[] mean = {0f}, std = {1f};
        private Augmentation augmentation = Augmentation.NONE;
        private Device device = Device.CPU;

        private Builder(Dataset dataset) {
            this.dataset = Objects.requireNonNull(dataset, "dataset");
        }

        public Builder batchSize(int batchSize) {
            this.batchSize = batchSize;
            return this;
        }

        /** Shuffle with a new seeded order each epoch. */
        public Builder shuffle(boolean shuffle) {
            this.shuffle = shuffle;
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Skip the last batch of an epoch when it has fewer than batchSize samples. */
        public Builder dropLast(boolean dropLast) {
            this.dropLast = dropLast;
            return this;
        }

        /** Images as {@code [B, C*H*W]} instead of {@code [B, C, H, W]}. */
        public Builder flatten(boolean flatten) {
            this.flatten = flatten;
            return this;
        }

        /** {@code (x - mean) / std} on pixels scaled to [0, 1], the same for all channels. */
        public Builder normalize(float mean, float std) {
            return normalize(new float[] {mean}, new float[] {std});
        }

        /** Per-channel {@code (x - mean[c]) / std[c]} on pixels scaled to [0, 1]. */
        public Builder normalize(float[] mean, float[] std) {
            this.mean = mean.clone();
            this.std = std.clone();
            return this;
        }

        public Builder augmentation(Augmentation augmentation) {
            this.augmentation = Objects.requireNonNull(augmentation, "augmentation");
            return this;
        }

        public Builder device(Device device) {
            this.device = Objects.requireNonNull(device, "device");
            return this;
        }

        /** Prepare the next two batches on a background thread (default true). */
        public Builder prefetch(boolean prefetch) {
            this.prefetch = prefetch;
            return this;
        }

        /** @throws IllegalArgumentException for a non-positive batch size, std {@code <= 0}, or mean/std of the wrong length */
        public DataLoader build() {
            return new DataLoader(this);
        }
    }
}
