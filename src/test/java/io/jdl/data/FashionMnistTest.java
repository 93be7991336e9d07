package io.jdl.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FashionMnistTest {
    @TempDir
    Path dir;

    private void writeSplit(String images, String labels, int nImages, int nLabels, boolean gzip) throws IOException {
        String ext = gzip ? ".gz" : "";
        Idx.write(dir.resolve(images + ext), new int[] {nImages, 28, 28}, IdxTest.pixels(nImages * 784), gzip);
        byte[] l = new byte[nLabels];
        for (int i = 0; i < nLabels; i++) {
            l[i] = (byte) (i % 10);
        }
        Idx.write(dir.resolve(labels + ext), new int[] {nLabels}, l, gzip);
    }

    @Test
    void loadsFromADirectoryWithPlainOrGzippedFiles() throws IOException {
        writeSplit(FashionMnist.TRAIN_IMAGES, FashionMnist.TRAIN_LABELS, 12, 12, true);
        writeSplit(FashionMnist.TEST_IMAGES, FashionMnist.TEST_LABELS, 5, 5, false);
        FashionMnist data = FashionMnist.load(dir);
        assertEquals(12, data.train().size());
        assertEquals(5, data.test().size());
        assertEquals(28, data.train().height());
        assertEquals(10, data.train().numClasses());
        assertEquals("Ankle boot", data.train().classNames().get(9));
        assertEquals(3, data.test().label(3));
        assertEquals(dir, data.directory());
    }

    @Test
    void countMismatchIsAClearError() throws IOException {
        writeSplit(FashionMnist.TRAIN_IMAGES, FashionMnist.TRAIN_LABELS, 12, 11, false);
        writeSplit(FashionMnist.TEST_IMAGES, FashionMnist.TEST_LABELS, 5, 5, false);
        DataFormatException e = assertThrows(DataFormatException.class, () -> FashionMnist.load(dir));
        assertTrue(e.getMessage().contains("12 images"), e.getMessage());
        assertTrue(e.getMessage().contains("11 labels"), e.getMessage());
    }

    @Test
    void notFoundSaysWhereItLookedAndHowToGetThem() throws IOException {
        writeSplit(FashionMnist.TRAIN_IMAGES, FashionMnist.TRAIN_LABELS, 2, 2, false);
        Path missing = dir.resolve("nope");
        DataNotFoundException e = assertThrows(DataNotFoundException.class, () -> FashionMnist.load(missing));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("apt-get install dataset-fashion-mnist"), e.getMessage());
        assertTrue(e.getMessage().contains("--data DIR"), e.getMessage());
        e = assertThrows(DataNotFoundException.class, () -> FashionMnist.load(dir));
        assertTrue(e.getMessage().contains("missing " + FashionMnist.TEST_IMAGES), e.getMessage());
        assertTrue(FashionMnist.searchPath(null).contains(Path.of(FashionMnist.DEBIAN_DIR)));
    }

    @Test
    void realDebianFilesWhenInstalled() throws IOException {
        assumeTrue(Files.isDirectory(Path.of(FashionMnist.DEBIAN_DIR)), "dataset-fashion-mnist is not installed");
        FashionMnist data = FashionMnist.load(Path.of(FashionMnist.DEBIAN_DIR));
        assertEquals(60000, data.train().size());
        assertEquals(10000, data.test().size());
        int[] counts = new int[10];
        for (int l : data.test().labels()) {
            counts[l]++;
        }
        for (int c : counts) {
            assertEquals(1000, c);
        }
        float[][] stats = data.train().channelStats();
        assertEquals(0.2860, stats[0][0], 1e-3);
        assertEquals(0.3530, stats[1][0], 1e-3);
    }
}
