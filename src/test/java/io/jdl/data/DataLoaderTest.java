package io.jdl.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.Device;
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
                    s.values.add(b.images().toArray());
                    s.shapes.add(b.images().shape().dims());
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
        float[] v = first.images().toArray();
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
}
