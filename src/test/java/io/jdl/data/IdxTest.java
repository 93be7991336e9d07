package io.jdl.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class IdxTest {
    @TempDir
    Path dir;

    static byte[] pixels(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 7 + 3);
        }
        return b;
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void readsImagesAndLabels(boolean gzip) throws IOException {
        byte[] px = pixels(5 * 4 * 3);
        Path images = dir.resolve("img");
        Path labels = dir.resolve("lbl");
        Idx.write(images, new int[] {5, 4, 3}, px, gzip);
        Idx.write(labels, new int[] {5}, new byte[] {0, 1, 9, (byte) 200, 4}, gzip);
        assertEquals(gzip, Idx.isGzip(Files.readAllBytes(images)));

        Idx.Images im = Idx.readImages(images);
        assertEquals(5, im.count());
        assertEquals(4, im.rows());
        assertEquals(3, im.cols());
        assertArrayEquals(px, im.pixels());
        assertEquals(px[(2 * 4 + 1) * 3 + 2] & 0xff, im.pixel(2, 1, 2));
        assertArrayEquals(new int[] {0, 1, 9, 200, 4}, Idx.readLabels(labels));
    }

    @Test
    void headerIsBigEndianPerSpec() throws IOException {
        byte[] enc = Idx.encode(new int[] {2, 1, 1}, new byte[] {1, 2}, false);
        ByteBuffer b = ByteBuffer.wrap(enc);
        assertEquals(0x00000803, b.getInt());
        assertEquals(2, b.getInt());
        assertEquals(1, b.getInt());
        assertEquals(1, b.getInt());
        assertEquals(18, enc.length);
    }

    @Test
    void wrongMagicSaysFoundAndExpected() throws IOException {
        Path labels = dir.resolve("lbl");
        Idx.write(labels, new int[] {3}, new byte[3], false);
        DataFormatException e = assertThrows(DataFormatException.class, () -> Idx.readImages(labels));
        assertTrue(e.getMessage().contains("found 0x00000801"), e.getMessage());
        assertTrue(e.getMessage().contains("expected 0x00000803"), e.getMessage());
        assertTrue(e.getMessage().contains(labels.toString()), e.getMessage());

        Path junk = dir.resolve("junk");
        Files.writeString(junk, "hello world, not idx");
        e = assertThrows(DataFormatException.class, () -> Idx.readLabels(junk));
        assertTrue(e.getMessage().contains("wrong IDX magic"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void truncatedSaysExpectedAndAvailable(boolean gzip) throws IOException {
        byte[] plain = Idx.encode(new int[] {4, 2, 2}, pixels(16), false);
        byte[] cut = Arrays.copyOf(plain, plain.length - 5);
        Path f = dir.resolve("cut");
        if (gzip) {
            // a valid gzip stream of truncated content
            Files.write(f, gzipOf(cut));
        } else {
            Files.write(f, cut);
        }
        DataFormatException e = assertThrows(DataFormatException.class, () -> Idx.readImages(f));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        assertTrue(e.getMessage().contains("need " + plain.length + " bytes, available " + cut.length), e.getMessage());

        Path header = dir.resolve("header");
        Files.write(header, Arrays.copyOf(plain, 9));
        e = assertThrows(DataFormatException.class, () -> Idx.readImages(header));
        assertTrue(e.getMessage().contains("expected 16 header bytes"), e.getMessage());
    }

    @Test
    void trailingBytesAreAnError() throws IOException {
        byte[] plain = Idx.encode(new int[] {2}, new byte[] {1, 2}, false);
        Path f = dir.resolve("long");
        Files.write(f, Arrays.copyOf(plain, plain.length + 3));
        DataFormatException e = assertThrows(DataFormatException.class, () -> Idx.readLabels(f));
        assertTrue(e.getMessage().contains("3 trailing bytes"), e.getMessage());
    }

    @Test
    void corruptGzip() throws IOException {
        byte[] gz = Idx.encode(new int[] {8, 8, 8}, pixels(512), true);
        Path cut = dir.resolve("cut.gz");
        Files.write(cut, Arrays.copyOf(gz, gz.length / 2));
        DataFormatException e = assertThrows(DataFormatException.class, () -> Idx.readImages(cut));
        assertTrue(e.getMessage().contains("corrupt gzip"), e.getMessage());

        byte[] garbled = gz.clone();
        for (int i = 12; i < garbled.length - 8; i++) {
            garbled[i] ^= (byte) 0x5a;
        }
        Path bad = dir.resolve("bad.gz");
        Files.write(bad, garbled);
        e = assertThrows(DataFormatException.class, () -> Idx.readImages(bad));
        assertTrue(e.getMessage().contains("corrupt gzip"), e.getMessage());
    }

    @Test
    void dimensionOverflow() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16).putInt(0x803).putInt(100000).putInt(100000).putInt(100000);
        Path f = dir.resolve("huge");
        Files.write(f, b.array());
        DataFormatException e = assertThrows(DataFormatException.class, () -> Idx.readImages(f));
        assertTrue(e.getMessage().contains("overflow"), e.getMessage());

        ByteBuffer neg = ByteBuffer.allocate(8).putInt(0x801).putInt(-5);
        Path g = dir.resolve("neg");
        Files.write(g, neg.array());
        e = assertThrows(DataFormatException.class, () -> Idx.readLabels(g));
        assertTrue(e.getMessage().contains("overflow"), e.getMessage());
    }

    static byte[] gzipOf(byte[] data) throws IOException {
        var out = new java.io.ByteArrayOutputStream();
        try (var gz = new java.util.zip.GZIPOutputStream(out)) {
            gz.write(data);
        }
        return out.toByteArray();
    }

    /** A 3 GiB file (sparse: no disk used) with a wrong magic fails from its first bytes, not with OutOfMemoryError. */
    @Test
    void hugeFilesAreCheckedFromTheirHeader() throws IOException {
        Path f = dir.resolve("huge");
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(3L << 30);
        }
        DataFormatException e = assertThrows(DataFormatException.class, () -> Idx.readImages(f));
        assertTrue(e.getMessage().contains("wrong IDX magic number: found 0x00000000"), e.getMessage());
        // A right header whose size disagrees with the file is refused before the data is allocated.
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(f.toFile(), "rw")) {
            raf.writeInt(Idx.IMAGES_MAGIC);
            raf.writeInt(10000);
            raf.writeInt(280);
            raf.writeInt(280);
        }
        e = assertThrows(DataFormatException.class, () -> Idx.readImages(f));
        assertTrue(e.getMessage().contains("trailing bytes"), e.getMessage());
    }

    /** Gzip inflates only as far as the header announces; headers announcing more than gzip can hold are refused. */
    @Test
    void gzipBombsAreNotInflated() throws IOException {
        // 1 label, then 64 MiB of zeros: a small file that inflates to far more than its header announces.
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (java.util.zip.GZIPOutputStream gz = new java.util.zip.GZIPOutputStream(bytes)) {
            gz.write(ByteBuffer.allocate(9).putInt(Idx.LABELS_MAGIC).putInt(1).put((byte) 4).array());
            byte[] zeros = new byte[1 << 20];
            for (int i = 0; i < 64; i++) {
                gz.write(zeros);
            }
        }
        Path bomb = dir.resolve("bomb.gz");
        Files.write(bomb, bytes.toByteArray());
        assertTrue(Files.size(bomb) < 200_000);
        DataFormatException e = assertThrows(DataFormatException.class, () -> Idx.readLabels(bomb));
        assertTrue(e.getMessage().contains("trailing bytes"), e.getMessage());

        // A header announcing 2 GB of images in a file of a few bytes.
        Path liar = dir.resolve("liar.gz");
        Files.write(liar, Idx.encode(new int[] {0, 0, 0}, new byte[0], true));
        byte[] header = ByteBuffer.allocate(16).putInt(Idx.IMAGES_MAGIC).putInt(20000).putInt(300).putInt(300).array();
        java.io.ByteArrayOutputStream small = new java.io.ByteArrayOutputStream();
        try (java.util.zip.GZIPOutputStream gz = new java.util.zip.GZIPOutputStream(small)) {
            gz.write(header);
        }
        Files.write(liar, small.toByteArray());
        e = assertThrows(DataFormatException.class, () -> Idx.readImages(liar));
        assertTrue(e.getMessage().contains("decompression bomb"), e.getMessage());
    }
}
