package io.jdl.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CharDatasetTest {
    static final Path SHAKESPEARE = Path.of("/work/shared/data/tinyshakespeare.txt");

    @TempDir
    Path dir;

    /** The first 20,000 bytes of tiny Shakespeare (ASCII), or a generated text where the file is absent. */
    Path slice() throws IOException {
        Path f = dir.resolve("slice.txt");
        if (Files.isRegularFile(SHAKESPEARE)) {
            byte[] all = Files.readAllBytes(SHAKESPEARE);
            Files.write(f, Arrays.copyOf(all, 20_000));
        } else {
            Files.writeString(f, "First Citizen:\nBefore we proceed any further, hear me speak.\n".repeat(400));
        }
        return f;
    }

    @Test
    void vocabularyIsSortedUniqueCodePointsAndRoundTrips() throws IOException {
        CharDataset ds = CharDataset.fromFile(slice());
        int[] vocab = ds.vocabulary();
        for (int i = 1; i < vocab.length; i++) {
            assertTrue(vocab[i - 1] < vocab[i]);
        }
        String text = Files.readString(slice());
        assertEquals(text, ds.decode(ds.encode(text)));
        int[] all = new int[ds.length()];
        System.arraycopy(ds.trainIds(), 0, all, 0, ds.trainLength());
        System.arraycopy(ds.validationIds(), 0, all, ds.trainLength(), ds.validationLength());
        assertEquals(text, ds.decode(all));
    }

    @Test
    void splitIsNinetyTen() throws IOException {
        CharDataset ds = CharDataset.fromFile(slice());
        assertEquals(20_000, ds.length());
        assertEquals(18_000, ds.trainLength());
        assertEquals(2_000, ds.validationLength());
    }

    @Test
    void unicodeCodePointsNotCharsAndInvalidUtf8() throws IOException {
        CharDataset ds = CharDataset.fromText("héllo 🙂 wörld", 1.0);
        assertEquals(13, ds.length());
        assertEquals("🙂 ö", ds.decode(ds.encode("🙂 ö")));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ds.encode("z"));
        assertTrue(e.getMessage().contains("'z'"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ds.decode(new int[] {99}));

        Path bad = dir.resolve("bad.txt");
        Files.write(bad, new byte[] {'a', (byte) 0xc3, 'b'});
        DataFormatException d = assertThrows(DataFormatException.class, () -> CharDataset.fromFile(bad));
        assertTrue(d.getMessage().contains("UTF-8"));
    }

    @Test
    void windowsAreShiftedBySeededAndInsideTheirSplit() throws IOException {
        CharDataset ds = CharDataset.fromFile(slice());
        CharDataset.Windows w = ds.sample(CharDataset.Split.TRAIN, 16, 32, new SplittableRandom(5));
        CharDataset.Windows w2 = ds.sample(CharDataset.Split.TRAIN, 16, 32, new SplittableRandom(5));
        assertArrayEquals(w.inputs(), w2.inputs());
        assertArrayEquals(w.targets(), w2.targets());
        String train = ds.decode(ds.trainIds());
        String val = ds.decode(ds.validationIds());
        for (int b = 0; b < 16; b++) {
            int[] in = Arrays.copyOfRange(w.inputs(), b * 32, b * 32 + 32);
            int[] tg = Arrays.copyOfRange(w.targets(), b * 32, b * 32 + 32);
            assertArrayEquals(Arrays.copyOfRange(in, 1, 32), Arrays.copyOfRange(tg, 0, 31));
            String window = ds.decode(in) + ds.decode(new int[] {tg[31]});
            assertTrue(train.contains(window));
        }
        CharDataset.Windows v = ds.sample(CharDataset.Split.VALIDATION, 4, 64, new SplittableRandom(1));
        for (int b = 0; b < 4; b++) {
            assertTrue(val.contains(ds.decode(Arrays.copyOfRange(v.inputs(), b * 64, b * 64 + 64))));
        }
        assertEquals(v.inputs()[3], (int) v.inputsAsFloats()[3]);
        assertThrows(IllegalArgumentException.class,
                () -> ds.sample(CharDataset.Split.VALIDATION, 1, 2000, new SplittableRandom(1)));
    }

    @Test
    void sequentialWindowsTileTheSplit() throws IOException {
        CharDataset ds = CharDataset.fromFile(slice());
        CharDataset.Windows w = ds.sequential(CharDataset.Split.VALIDATION, 100, 1000);
        assertEquals(19, w.batch()); // (2000 - 1) / 100
        int[] val = ds.validationIds();
        assertArrayEquals(Arrays.copyOfRange(val, 0, 1900), w.inputs());
        assertArrayEquals(Arrays.copyOfRange(val, 1, 1901), w.targets());
        assertEquals(5, ds.sequential(CharDataset.Split.TRAIN, 100, 5).batch());
    }

    @Test
    void readsAsUtf8() throws IOException {
        Path f = dir.resolve("u.txt");
        Files.write(f, "ça".getBytes(StandardCharsets.UTF_8));
        assertEquals(2, CharDataset.fromFile(f).length());
    }

    @Test
    void oversizedRequestsAndFilesFailClearly() throws IOException {
        CharDataset ds = CharDataset.fromText("abcdefghij".repeat(10), 1.0);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ds.sample(CharDataset.Split.TRAIN, 40000, 60000, new java.util.SplittableRandom(1)));
        assertTrue(e.getMessage().contains("40000 x 60000 = 2400000000 ids"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> ds.sample(CharDataset.Split.TRAIN, 1, Integer.MAX_VALUE - 8, new java.util.SplittableRandom(1)));
        assertTrue(e.getMessage().contains("need at least 2147483640"), e.getMessage());
        Path huge = dir.resolve("huge.txt");
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(huge.toFile(), "rw")) {
            raf.setLength(3L << 30); // sparse: no disk used
        }
        DataFormatException d = assertThrows(DataFormatException.class, () -> CharDataset.fromFile(huge));
        assertTrue(d.getMessage().contains("over 2 GiB"), d.getMessage());
    }
}
