package io.jdl.data;

import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.lang.ref.Cleaner;
import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Turns any {@link DataSource} into batches of tensors: seeded shuffling with a new order each epoch, optional
 * dropping of the last incomplete batch, per-channel normalisation {@code (x - mean) / std} (channels are the
 * first axis of {@code [C, H, W]} inputs; other inputs are one channel), and seeded {@link Augmentation} of
 * images. Image {@link Dataset}s give pixels scaled to [0, 1] and class labels; a {@link FeatureDataset} gives
 * its float inputs and class labels or float targets.
 *
 * <pre>{@code
 * DataLoader loader = DataLoader.builder(mnist.train()).batchSize(128).shuffle(true).seed(42)
 *         .normalize(0.2860f, 0.3530f).augmentation(Augmentation.flipAndShift(2)).device(device).build();
 * for (int epoch = 0; epoch < epochs; epoch++) {
 *     try (DataLoader.Epoch batches = loader.epoch(epoch)) {
 *         for (DataLoader.Batch batch : batches) {
 *             try (batch) { ... batch.inputs() ... batch.labels() (or batch.targets()) ... }
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
 * <p><b>Ownership.</b> Each {@link Batch} owns its inputs tensor (and targets tensor) and must be closed by the
 * caller (closing the batch closes them). The labels array is the batch's own. The loader reuses its host float
 * buffers between batches; the tensors hold copies ({@link Tensor#of(float[], Shape, Device)}), so a batch
 * stays valid after the next one is produced. Host buffers hold {@code min(batchSize, size)} samples: a batch
 * size larger than the data costs nothing.
 *
 * <p><b>Devices.</b> The inputs tensor is built on the loader's device with
 * {@link Tensor#of(float[], Shape, Device)}, on the thread that calls {@code next()}. On a CUDA device the
 * backend stages it through pinned memory and copies it asynchronously on its stream, so the host goes on
 * preparing the next batch while the GPU computes; it waits only when it runs several uploads ahead.
 *
 * <p><b>Prefetching.</b> With {@code prefetch(true)} (the default) a background daemon thread prepares the
 * next host batches (shuffle indexing, conversion, augmentation) into a bounded queue of two while the
 * caller trains. Close the {@link Epoch} (try-with-resources) when leaving the loop early, so that thread
 * stops; an epoch iterated to its end stops it by itself, and so does an exception out of {@code next()}. An
 * epoch abandoned without closing has its thread stopped once it becomes unreachable (a {@link Cleaner}), so
 * leaked epochs do not pile up threads; closing stops it at once. An exception in that thread is rethrown by
 * {@code next()}.
 *
 * <p>A loader is not thread-safe: iterate one epoch at a time, from one thread.
 */
public final class DataLoader {
    private static final int QUEUE = 2;
    private static final Cleaner CLEANER = Cleaner.create();

    private final DataSource dataset;
    private final int batchSize, rows, channels;
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
        if (batchSize <= 0) {
            throw new IllegalArgumentException("batchSize must be > 0, got " + batchSize);
        }
        int[] shape = dataset.inputShape();
        if (!augmentation.isNone() && shape.length != 3) {
            throw new IllegalArgumentException("augmentation needs [C, H, W] image inputs, the data's inputs are "
                    + Arrays.toString(shape));
        }
        this.channels = shape.length == 3 ? shape[0] : 1;
        this.mean = expand(b.mean, channels, "mean");
        this.std = expand(b.std, channels, "std");
        for (float s : std) {
            if (!(s > 0)) {
                throw new IllegalArgumentException("std must be > 0, got " + Arrays.toString(b.std));
            }
        }
        // Buffers for the samples a batch can actually hold, checked against the largest Java array.
        this.rows = Math.max(1, Math.min(batchSize, dataset.size()));
        long floats = (long) rows * dataset.inputSize();
        if (floats > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("batchSize " + batchSize + " gives batches of " + rows + " x "
                    + dataset.inputSize() + " = " + floats + " floats, more than a Java array holds");
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

    public static Builder builder(DataSource dataset) {
        return new Builder(dataset);
    }

    public DataSource dataset() {
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
        long n = dataset.size();
        return (int) (dropLast ? n / batchSize : (n + batchSize - 1) / batchSize);
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

    /**
     * One batch: the inputs tensor and, for float targets, the targets tensor (both owned by the batch), or the
     * class labels; and the sample indices.
     */
    public static final class Batch implements AutoCloseable {
        private final Tensor inputs, targets;
        private final int[] labels, indices;

        Batch(Tensor inputs, Tensor targets, int[] labels, int[] indices) {
            this.inputs = inputs;
            this.targets = targets;
            this.labels = labels;
            this.indices = indices;
        }

        /** {@code [B, ...inputShape]} ({@code [B, C, H, W]} for images), or {@code [B, inputSize]} when the loader flattens. */
        public Tensor inputs() {
            return inputs;
        }

        /**
         * The inputs of an image batch.
         *
         * @deprecated the same tensor as {@link #inputs()}, which works for every data source; kept while callers move
         */
        @Deprecated(forRemoval = true)
        public Tensor images() {
            return inputs;
        }

        /**
         * The class of each sample (length B).
         *
         * @throws IllegalStateException when the data has float targets (use {@link #targets()})
         */
        public int[] labels() {
            if (labels == null) {
                throw new IllegalStateException("this data has float targets, not class labels: use targets()");
            }
            return labels;
        }

        /**
         * The float targets {@code [B, ...targetShape]}, owned by this batch.
         *
         * @throws IllegalStateException when the data has class labels (use {@link #labels()})
         */
        public Tensor targets() {
            if (targets == null) {
                throw new IllegalStateException("this data has class labels, not float targets: use labels()");
            }
            return targets;
        }

        /** The data set index of each sample (length B). */
        public int[] indices() {
            return indices;
        }

        public int size() {
            return indices.length;
        }

        /** Closes the inputs and targets tensors. Idempotent. */
        @Override
        public void close() {
            for (Tensor t : new Tensor[] {inputs, targets}) {
                if (t != null && !t.isClosed()) {
                    t.close();
                }
            }
        }
    }

    /** The batches of one epoch, in order. Iterable once. Close it to stop prefetching early. */
    public final class Epoch implements Iterable<Batch>, Iterator<Batch>, AutoCloseable {
        private final BatchFiller filler;
        private final int batches;
        private int consumed; // batches returned by next()
        private boolean closed;
        // prefetching
        private final BlockingQueue<BatchFiller.Buffers> free;
        private final BlockingQueue<BatchFiller.HostBatch> ready;
        private final Thread worker;
        private final Cleaner.Cleanable stopper;
        // synchronous
        private final BatchFiller.Buffers buffers;

        Epoch(int epoch, int firstBatch) {
            SplittableRandom r = epochRandom(epoch);
            r.nextLong();
            this.batches = batchesPerEpoch();
            this.consumed = firstBatch;
            this.filler = new BatchFiller(dataset, order(epoch), batchSize, rows, channels, mean, std, augmentation,
                    r.split(), firstBatch);
            if (prefetch && batches > firstBatch) {
                // The consumer hands a buffer back as soon as Tensor.of has copied it, so QUEUE buffers give a
                // queue of QUEUE ready batches; one more slot in `ready` for the end marker or an error.
                free = new ArrayBlockingQueue<>(QUEUE);
                for (int i = 0; i < QUEUE; i++) {
                    free.add(filler.newBuffers());
                }
                ready = new ArrayBlockingQueue<>(QUEUE + 1);
                worker = Thread.ofPlatform().daemon().name("jdl-dataloader")
                        .unstarted(fillLoop(filler, free, ready, batches - firstBatch));
                // The cleaning action holds the thread, never this epoch: an epoch dropped unclosed becomes
                // unreachable and its thread is interrupted.
                Thread w = worker;
                stopper = CLEANER.register(this, w::interrupt);
                worker.start();
                buffers = null;
            } else {
                free = null;
                ready = null;
                worker = null;
                stopper = null;
                buffers = batches > firstBatch ? filler.newBuffers() : null;
            }
        }

        /** The prefetching thread's loop; static so that it references neither the epoch nor the loader. */
        private static Runnable fillLoop(BatchFiller filler, BlockingQueue<BatchFiller.Buffers> free,
                                         BlockingQueue<BatchFiller.HostBatch> ready, int count) {
            return () -> {
                try {
                    for (int i = 0; i < count; i++) {
                        ready.put(filler.fill(free.take()));
                    }
                    ready.put(BatchFiller.HostBatch.END);
                } catch (InterruptedException e) {
                    // closed early, or abandoned
                } catch (Throwable t) {
                    ready.offer(new BatchFiller.HostBatch(null, null, null, t));
                }
            };
        }

        @Override
        public Iterator<Batch> iterator() {
            return this;
        }

        @Override
        public boolean hasNext() {
            return !closed && consumed < batches;
        }

        /**
         * The next batch; any exception closes the epoch first (stopping its thread).
         *
         * @throws NoSuchElementException after the last batch or once closed
         */
        @Override
        public Batch next() {
            if (!hasNext()) {
                throw new NoSuchElementException(closed ? "epoch closed" : "epoch has " + batches + " batches");
            }
            try {
                Batch b = upload(take());
                consumed++;
                if (consumed == batches) {
                    close();
                }
                return b;
            } catch (RuntimeException | Error e) {
                close();
                throw e;
            }
        }

        private BatchFiller.HostBatch take() {
            if (worker == null) {
                return filler.fill(buffers);
            }
            BatchFiller.HostBatch hb;
            try {
                hb = ready.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for a batch", e);
            }
            if (hb.error() != null) {
                throw new IllegalStateException("data loader thread failed: " + hb.error(), hb.error());
            }
            return hb;
        }

        /** The host batch as tensors on the loader's device; its buffers go back to the filler whatever happens. */
        private Batch upload(BatchFiller.HostBatch hb) {
            int n = hb.indices().length;
            int[] in = dataset.inputShape();
            Tensor inputs = null, targets = null;
            try {
                int[] dims = new int[in.length + 1];
                dims[0] = n;
                System.arraycopy(in, 0, dims, 1, in.length);
                Shape shape = flatten ? Shape.of(n, dataset.inputSize()) : Shape.of(dims);
                inputs = Tensor.of(rowsOf(hb.buffers().inputs(), n), shape, device);
                if (hb.labels() == null) {
                    int[] t = dataset.targetShape();
                    int[] tdims = new int[t.length + 1];
                    tdims[0] = n;
                    System.arraycopy(t, 0, tdims, 1, t.length);
                    targets = Tensor.of(rowsOf(hb.buffers().targets(), n), Shape.of(tdims), device);
                }
                return new Batch(inputs, targets, hb.labels(), hb.indices());
            } catch (RuntimeException | Error e) {
                if (inputs != null) {
                    inputs.close();
                }
                throw e;
            } finally {
                if (worker != null) {
                    free.offer(hb.buffers());
                }
            }
        }

        /** The first {@code n} samples of a buffer of {@code rows} (the buffer itself when full). */
        private float[] rowsOf(float[] buffer, int n) {
            return n == rows ? buffer : Arrays.copyOf(buffer, buffer.length / rows * n);
        }

        /** Stops the prefetching thread (if any) and ends the iteration. Idempotent. */
        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            if (worker != null) {
                stopper.clean();
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
     * no augmentation, inputs not flattened, CPU, prefetch on. */
    public static final class Builder {
        private final DataSource dataset;
        private int batchSize = 64;
        private boolean shuffle, dropLast, flatten, prefetch = true;
        private long seed;
        private float[] mean = {0f}, std = {1f};
        private Augmentation augmentation = Augmentation.NONE;
        private Device device = Device.CPU;

        private Builder(DataSource dataset) {
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

        /** Inputs as {@code [B, inputSize]} (images {@code [B, C*H*W]}) instead of {@code [B, ...inputShape]}. */
        public Builder flatten(boolean flatten) {
            this.flatten = flatten;
            return this;
        }

        /** {@code (x - mean) / std} on every input value (pixels already scaled to [0, 1]), the same for all channels. */
        public Builder normalize(float mean, float std) {
            return normalize(new float[] {mean}, new float[] {std});
        }

        /** Per-channel {@code (x - mean[c]) / std[c]} ({@code [C, H, W]} inputs; others are one channel). */
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

        /**
         * @throws IllegalArgumentException for a non-positive batch size, a batch too large for a Java array, std
         *                                  {@code <= 0}, mean/std of the wrong length, or augmentation of inputs that
         *                                  are not {@code [C, H, W]} images
         */
        public DataLoader build() {
            return new DataLoader(this);
        }
    }
}
