package io.jdl.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageFolderTest {
    @TempDir
    Path tmp;

    private static void png(Path file, int type, int rgb, int size) throws IOException {
        BufferedImage img = new BufferedImage(size, size, type);
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                img.setRGB(x, y, rgb);
            }
        }
        Files.createDirectories(file.getParent());
        ImageIO.write(img, "png", file.toFile());
    }

    @Test
    void grayImagesInClassFoldersBecomeOneChannelResized() throws IOException {
        png(tmp.resolve("b/1.png"), BufferedImage.TYPE_BYTE_GRAY, 0xffffff, 8);
        png(tmp.resolve("a/1.png"), BufferedImage.TYPE_BYTE_GRAY, 0x000000, 6);
        png(tmp.resolve("a/2.png"), BufferedImage.TYPE_BYTE_GRAY, 0x000000, 5);
        Files.writeString(tmp.resolve("a/.DS_Store"), "hidden files are skipped");
        Dataset d = ImageFolder.read(tmp, 4);
        assertEquals(List.of("a", "b"), d.classNames());
        assertArrayEquals(new int[] {0, 0, 1}, d.labels());
        assertArrayEquals(new int[] {1, 4, 4}, d.inputShape());
        assertEquals(0, d.pixels()[0]);
        assertEquals((byte) 255, d.pixels()[2 * 16 + 5]);
    }

    @Test
    void colourImagesBecomeThreeChannelPlanes() throws IOException {
        png(tmp.resolve("red/1.png"), BufferedImage.TYPE_INT_RGB, 0xff0000, 3);
        png(tmp.resolve("blue/1.png"), BufferedImage.TYPE_INT_ARGB, 0xff0000ff, 3);
        Dataset d = ImageFolder.read(tmp, 2);
        assertArrayEquals(new int[] {3, 2, 2}, d.inputShape());
        byte[] p = d.pixels(); // image 0 is "blue" (sorted): its blue plane is full, its red one empty
        assertEquals(0, p[0]);
        assertEquals((byte) 255, p[2 * 4]);
        assertEquals((byte) 255, p[12]);
    }

    @Test
    void badFoldersAndFilesAreNamed() throws IOException {
        png(tmp.resolve("a/1.png"), BufferedImage.TYPE_BYTE_GRAY, 0, 4);
        assertTrue(assertThrows(DataFormatException.class, () -> ImageFolder.read(tmp, 4)).getMessage()
                .contains("at least two"));
        Files.createDirectories(tmp.resolve("b"));
        assertEquals(tmp.resolve("b") + ": empty class folder (no image files)",
                assertThrows(DataFormatException.class, () -> ImageFolder.read(tmp, 4)).getMessage());
        Path text = Files.writeString(tmp.resolve("b/notes.png"), "not an image");
        assertTrue(assertThrows(DataFormatException.class, () -> ImageFolder.read(tmp, 4)).getMessage()
                .startsWith(text + ": not an image the JDK can decode"));
        assertThrows(java.nio.file.NotDirectoryException.class, () -> ImageFolder.read(text, 4));
        assertThrows(IllegalArgumentException.class, () -> ImageFolder.read(tmp, 0));
    }
}
