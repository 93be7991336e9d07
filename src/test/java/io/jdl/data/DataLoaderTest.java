package io.jdl.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.device.Device;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class DataLoaderTest {
    static final List<String> CLASSES = List.of("a", "b", "c");

    /** n images of 1x4x5 where every pixel of image i is i (mod 256) and pixel k of it adds k. */
    static Dataset dataset(int n) {
        byte[] px = new byte[n * 20];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = i % 3;
            for (int k = 0; k < 20; k++) {
                px[i * 20 + k] = (byte) ((i + k * 11) & 0xff);
            }
        }
        return new Dataset(px, labels, 1, 4, 5, CLASSES);
    }

    /** Every batch of one epoch: indices, labels, values. */
    record Seen(List<int[]> indices, List<int[]> labels, List<float[]> values, List<int[]> shapes) {
    }

    static Seen run(DataLoader loader, int epoch) {
        Seen s = new Seen(new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
        try (DataLoader.Epoch batches = loader.epoch(epoch)) {
            for (DataLoader.Batch b : batches) {
                try (b) {
                    s.indices.add(b.indices());
                    s.labels.add(b.labels());
                    s.values.add(b.inputs().toArray());
                    s.shapes.add(b.inputs().shape().dims());
                }
            }
        }
        return s;
    }

    @ParameterizedTest
    @CsvSource({"true,false", "false,false", "true,true", "false,true"})
    void everySampleExactlyOncePerEpoch(boolean prefetch, boolean augment) {
        Dataset d = dataset(103);
        DataLoader loader = DataLoader.builder(d).batchSize(10).shuffle(true).seed(7).prefetch(prefetch)
                .augmentation(augment ? Augmentation.flipAndShift(1) : Augmentation.NONE).build();
        assertEquals(11, loader.batchesPerEpoch());
        int[] previous = null;
        for (int epoch = 0; epoch < 3; epoch++) {
            Seen s = run(loader, epoch);
            assertEquals(11, s.indices.size());
            int[] count = new int[d.size()];
            List<Integer> order = new ArrayList<>();
            for (int b = 0; b < s.indices.size(); b++) {
                int[] idx = s.indices.get(b);
                assertEquals(b < 10 ? 10 : 3, idx.length);
                assertArrayEquals(new int[] {idx.length, 1, 4, 5}, s.shapes.get(b));
                for (int j = 0; j < idx.length; j++) {
                    count[idx[j]]++;
                    order.add(idx[j]);
                    assertEquals(d.label(idx[j]), s.labels.get(b)[j]);
                }
            }
            for (int c : count) {
                assertEquals(1, c);
            }
            int[] o = order.stream().mapToInt(Integer::intValue).toArray();
            assertArrayEquals(loader.order(epoch), o);
            if (previous != null) {
                assertFalse(Arrays.equals(previous, o), "reshuffled each epoch");
            }
            previous = o;
        }
    }

    @Test
    void dropLastSkipsTheIncompleteBatch() {
        DataLoader loader = DataLoader.builder(dataset(25)).batchSize(10).dropLast(true).shuffle(true).seed(1).build();
        assertEquals(2, loader.batchesPerEpoch());
        assertEquals(20, loader.samplesPerEpoch());
        Seen s = run(loader, 0);
        assertEquals(2, s.indices.size());
        assertEquals(20, s.indices.stream().mapToInt(a -> a.length).sum());
        assertEquals(20, Arrays.stream(s.indices.stream().flatMapToInt(Arrays::stream).toArray()).distinct().count());
    }

    @Test
    void withoutShuffleTheOrderIsTheIdentityAndValuesAreNormalised() {
        Dataset d = dataset(6);
        DataLoader loader = DataLoader.builder(d).batchSize(4).normalize(0.5f, 0.25f).flatten(true).build();
        Seen s = run(loader, 0);
        assertArrayEquals(new int[] {0, 1, 2, 3}, s.indices.get(0));
        assertArrayEquals(new int[] {4, 20}, s.shapes.get(0));
        assertArrayEquals(new int[] {2, 20}, s.shapes.get(1));
        float[] v = s.values.get(1);
        for (int k = 0; k < 20; k++) {
            float expected = ((d.pixels()[4 * 20 + k] & 0xff) / 255f - 0.5f) / 0.25f;
            assertEquals(expected, v[k], 1e-6f);
        }
    }

    @Test
    void deterministicWithTheSameSeedWithOrWithoutPrefetch() {
        Dataset d = dataset(57);
        Augmentation aug = new Augmentation(0.5, 2);
        DataLoader a = DataLoader.builder(d).batchSize(8).shuffle(true).seed(99).augmentation(aug).prefetch(true).build();
        DataLoader b = DataLoader.builder(d).batchSize(8).shuffle(true).seed(99).augmentation(aug).prefetch(false).build();
        DataLoader c = DataLoader.builder(d).batchSize(8).shuffle(true).seed(100).augmentation(aug).build();
        for (int epoch = 0; epoch < 2; epoch++) {
            Seen sa = run(a, epoch), sb = run(b, epoch), sc = run(c, epoch);
            for (int i = 0; i < sa.values.size(); i++) {
                assertArrayEquals(sa.indices.get(i), sb.indices.get(i));
                assertArrayEquals(sa.values.get(i), sb.values.get(i));
            }
            assertFalse(Arrays.equals(a.order(epoch), c.order(epoch)));
        }
    }

    @Test
    void augmentationFlipsAndShiftsWithZeroFill() {
        float[] src = new float[12]; // 1 x 3 x 4
        for (int i = 0; i < 12; i++) {
            src[i] = i + 1;
        }
        float[] dst = new float[12];
        // always flip, never shift
        new Augmentation(1, 0).apply(src, 1, 3, 4, dst, 0, new java.util.SplittableRandom(1));
        assertArrayEquals(new float[] {4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9}, dst);
        // shifts keep the content, moved, with zeros where it left
        int changed = 0;
        for (int seed = 0; seed < 20; seed++) {
            new Augmentation(0, 1).apply(src, 1, 3, 4, dst, 0, new java.util.SplittableRandom(seed));
            float sum = 0;
            for (float v : dst) {
                sum += v;
                assertTrue(v == 0 || (v >= 1 && v <= 12));
            }
            if (!Arrays.equals(src, dst)) {
                changed++;
                assertTrue(sum < 78, "a shift drops a row or column");
            }
        }
        assertTrue(changed > 10);
    }

    @Test
    void earlyCloseStopsTheWorkerAndBatchesStayValid() {
        DataLoader loader = DataLoader.builder(dataset(200)).batchSize(4).shuffle(true).seed(3).build();
        DataLoader.Batch first;
        try (DataLoader.Epoch e = loader.epoch(0)) {
            first = e.next();
            DataLoader.Batch second = e.next();
            second.close();
        }
        float[] v = first.inputs().toArray();
        assertEquals(4 * 20, v.length);
        first.close();
        first.close(); // idempotent
        // a new epoch after an early close works
        assertEquals(50, run(loader, 1).indices.size());
    }

    @Test
    void badOptionsFailAtBuild() {
        Dataset d = dataset(3);
        assertThrows(IllegalArgumentException.class, () -> DataLoader.builder(d).batchSize(0).build());
        assertThrows(IllegalArgumentException.class, () -> DataLoader.builder(d).normalize(0f, 0f).build());
        assertThrows(IllegalArgumentException.class,
                () -> DataLoader.builder(d).normalize(new float[] {0, 0}, new float[] {1, 1}).build());
        assertThrows(IllegalArgumentException.class, () -> new Augmentation(2, 0));
        assertThrows(IllegalArgumentException.class,
                () -> new Dataset(new byte[20], new int[] {5}, 1, 4, 5, CLASSES));
        assertNotEquals(null, DataLoader.builder(d).device(Device.CPU).build());
    }

    /** Regression data: float inputs of any shape with float targets, batched in the shuffled order. */
    @Test
    void featureDatasetWithFloatTargets() {
        int n = 10;
        float[] x = new float[n * 6], y = new float[n * 2];
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < 6; k++) {
                x[i * 6 + k] = i + k / 10f;
            }
            y[2 * i] = -i;
            y[2 * i + 1] = i * 0.5f;
        }
        FeatureDataset d = FeatureDataset.regression(x, new int[] {2, 3}, y, 2);
        for (boolean prefetch : new boolean[] {true, false}) {
            DataLoader loader = DataLoader.builder(d).batchSize(4).shuffle(true).seed(2).prefetch(prefetch).build();
            int[] order = loader.order(0);
            int seen = 0;
            try (DataLoader.Epoch e = loader.epoch(0)) {
                for (DataLoader.Batch b : e) {
                    try (b) {
                        assertArrayEquals(new int[] {b.size(), 2, 3}, b.inputs().shape().dims());
                        assertArrayEquals(new int[] {b.size(), 2}, b.targets().shape().dims());
                        float[] in = b.inputs().toArray(), t = b.targets().toArray();
                        for (int r = 0; r < b.size(); r++) {
                            int idx = order[seen + r];
                            assertEquals(idx, b.indices()[r]);
                            assertEquals(idx + 0.5f, in[r * 6 + 5], 1e-6f);
                            assertEquals(-idx, t[2 * r]);
                            assertEquals(idx * 0.5f, t[2 * r + 1]);
                        }
                        assertThrows(IllegalStateException.class, b::labels);
                        seen += b.size();
                    }
                }
            }
            assertEquals(n, seen);
        }
    }

    @Test
    void featureDatasetWithLabelsAndScalarTargets() {
        FeatureDataset c = FeatureDataset.classification(new float[] {1, 2, 3, 4, 5, 6}, new int[] {2}, new int[] {2, 0, 1}, 3);
        DataLoader loader = DataLoader.builder(c).batchSize(2).normalize(1f, 2f).build();
        try (DataLoader.Epoch e = loader.epoch(0); DataLoader.Batch b = e.next()) {
            assertArrayEquals(new int[] {2, 0}, b.labels());
            assertArrayEquals(new float[] {0, 0.5f, 1, 1.5f}, b.inputs().toArray());
            assertThrows(IllegalStateException.class, b::targets);
        }
        FeatureDataset r = FeatureDataset.regression(new float[] {1, 2, 3}, new int[] {1}, new float[] {7, 8, 9});
        try (DataLoader.Epoch e = DataLoader.builder(r).batchSize(3).build().epoch(0); DataLoader.Batch b = e.next()) {
            assertArrayEquals(new int[] {3}, b.targets().shape().dims());
            assertArrayEquals(new float[] {7, 8, 9}, b.targets().toArray());
        }
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> FeatureDataset.regression(new float[] {1, 2, 3}, new int[] {1}, new float[] {7, 8}));
        assertTrue(bad.getMessage().contains("need 3 target floats"), bad.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> FeatureDataset.classification(new float[] {1, 2}, new int[] {2}, new int[] {3}, 3));
        assertThrows(IllegalArgumentException.class,
                () -> DataLoader.builder(c).augmentation(Augmentation.flipAndShift(1)).build());
    }

    /** A batch size far beyond the data sizes buffers by the data (it used to allocate batchSize images). */
    @Test
    void hugeBatchSizesCostOnlyTheData() {
        Dataset d = dataset(8);
        for (int batchSize : new int[] {536870912, 100000000, Integer.MAX_VALUE}) {
            DataLoader loader = DataLoader.builder(d).batchSize(batchSize).shuffle(true).build();
            assertEquals(1, loader.batchesPerEpoch());
            Seen s = run(loader, 0);
            assertEquals(1, s.indices.size());
            assertEquals(8, s.indices.get(0).length);
        }
    }

    /** Resuming mid-epoch gives exactly the remaining batches of the full epoch, augmentation included. */
    @Test
    void epochFromABatchContinuesTheFullEpoch() {
        DataLoader loader = DataLoader.builder(dataset(30)).batchSize(4).shuffle(true).seed(5)
                .augmentation(Augmentation.flipAndShift(1)).build();
        Seen full = run(loader, 2);
        List<float[]> tail = new ArrayList<>();
        try (DataLoader.Epoch e = loader.epoch(2, 5)) {
            for (DataLoader.Batch b : e) {
                try (b) {
                    tail.add(b.inputs().toArray());
                }
            }
        }
        assertEquals(full.values.size() - 5, tail.size());
        for (int i = 0; i < tail.size(); i++) {
            assertArrayEquals(full.values.get(5 + i), tail.get(i));
        }
        assertThrows(IllegalArgumentException.class, () -> loader.epoch(0, 9));
    }

    /** Epochs dropped without close (an exception in the training loop) do not keep their threads. */
    @Test
    void abandonedEpochsDoNotPileUpThreads() throws InterruptedException {
        Dataset d = dataset(100);
        for (int i = 0; i < 50; i++) {
            DataLoader loader = DataLoader.builder(d).batchSize(4).build();
            DataLoader.Epoch e = loader.epoch(0);
            e.next().close();
        }
        long alive = Long.MAX_VALUE;
        for (int tries = 0; tries < 100 && alive > 2; tries++) {
            System.gc();
            Thread.sleep(50);
            alive = loaderThreads();
        }
        assertTrue(alive <= 2, alive + " loader threads still alive");
    }

    /** A source failing in the prefetch thread: next() rethrows, the epoch ends and its thread stops. */
    @Test
    void aFailingSourceEndsTheEpochAndItsThread() throws InterruptedException {
        FeatureDataset good = FeatureDataset.regression(new float[40], new int[] {2}, new float[20]);
        DataSource failing = new DataSource() {
            public int size() { return good.size(); }
            public int[] inputShape() { return good.inputShape(); }
            public int inputSize() { return good.inputSize(); }
            public void input(int i, float[] dst, int offset) {
                if (i == 13) {
                    throw new IllegalStateException("sample 13 is unreadable");
                }
                good.input(i, dst, offset);
            }
            public boolean hasLabels() { return false; }
            public int label(int i) { return good.label(i); }
            public int[] targetShape() { return good.targetShape(); }
            public void target(int i, float[] dst, int offset) { good.target(i, dst, offset); }
        };
        long before = loaderThreads();
        DataLoader loader = DataLoader.builder(failing).batchSize(4).build();
        DataLoader.Epoch e = loader.epoch(0);
        for (int b = 0; b < 3; b++) {
            e.next().close();
        }
        IllegalStateException x = assertThrows(IllegalStateException.class, e::next);
        assertTrue(x.getCause().getMessage().contains("sample 13"), x.getMessage());
        assertFalse(e.hasNext());
        assertTrue(loaderThreads() <= before, "the failed epoch's thread is still alive");
    }

    static long loaderThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("jdl-dataloader")).count();
    }
}
