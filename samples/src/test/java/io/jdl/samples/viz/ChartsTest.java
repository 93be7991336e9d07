package io.jdl.samples.viz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChartsTest {
    @TempDir
    Path dir;

    static BufferedImage readPng(Path p) throws IOException {
        assertTrue(Files.size(p) > 0, p + " is not empty");
        BufferedImage img = ImageIO.read(p.toFile());
        assertNotNull(img, p + " is a readable PNG");
        return img;
    }

    /** Not a blank picture: at least two distinct colours. */
    static void assertDrawn(BufferedImage img) {
        int first = img.getRGB(0, 0);
        boolean other = false;
        for (int y = 0; y < img.getHeight() && !other; y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                if (img.getRGB(x, y) != first) {
                    other = true;
                    break;
                }
            }
        }
        assertTrue(other, "image has content");
    }

    @Test
    void curves() throws IOException {
        double[] loss = new double[200];
        for (int i = 0; i < loss.length; i++) {
            loss[i] = 2.3 * Math.exp(-i / 50.0) + 0.05 * Math.sin(i);
        }
        double[] evalSteps = {40, 80, 120, 160, 200}, epochs = {1, 2, 3, 4, 5};
        Charts.lossAndAccuracy(dir.resolve("out"), Charts.Series.of("train", loss),
                new Charts.Series("test", evalSteps, new double[] {1.0, 0.6, 0.5, 0.45, 0.4}),
                new Charts.Series("train", epochs, new double[] {0.7, 0.8, 0.85, 0.87, 0.88}),
                new Charts.Series("test", epochs, new double[] {0.72, 0.81, 0.84, 0.86, 0.87}));
        BufferedImage l = readPng(dir.resolve("out/loss.png"));
        assertEquals(800, l.getWidth());
        assertDrawn(l);
        assertDrawn(readPng(dir.resolve("out/accuracy.png")));
        // empty series still produce a picture
        Charts.lines(dir.resolve("empty.png"), "t", "x", "y", List.of(Charts.Series.of("none", new double[0])));
        readPng(dir.resolve("empty.png"));
        try (Stream<Path> files = Files.list(dir.resolve("out"))) {
            assertEquals(2, files.count(), "no temporary files left");
        }
    }

    @Test
    void confusionMatrix() throws IOException {
        List<String> names = List.of("T-shirt/top", "Trouser", "Pullover");
        int[][] counts = {{90, 5, 5}, {1, 98, 1}, {10, 0, 90}};
        Path p = dir.resolve("confusion.png");
        Charts.confusionMatrix(p, counts, names);
        BufferedImage img = readPng(p);
        assertDrawn(img);
        // the diagonal cell of a 98% row is dark, an off-diagonal 1% cell is light
        int diag = img.getRGB(130 + 56 + 5, 60 + 56 + 5) & 0xff;
        int off = img.getRGB(130 + 5, 60 + 56 + 5) & 0xff;
        assertTrue(diag < off, "diagonal darker");
        assertThrows(IllegalArgumentException.class, () -> Charts.confusionMatrix(p, counts, List.of("a")));
    }

    @Test
    void imageGridOfKernels() throws IOException {
        int count = 16, k = 5;
        float[] w = new float[count * k * k];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) Math.sin(i * 0.37);
        }
        Path p = dir.resolve("kernels.png");
        Charts.imageGrid(p, "16 kernels", w, count, 1, k, k);
        BufferedImage img = readPng(p);
        // 4 x 4 tiles of 5 px enlarged 13 times (at least 64 px), 4 px gaps, in a picture 360 px wide for the title
        assertEquals(360, img.getWidth());
        assertEquals(36 + 4 * (k * 13 + 4) + 4, img.getHeight());
        assertDrawn(img);
        Charts.imageGrid(dir.resolve("rgb.png"), "rgb", new float[2 * 3 * 4], 2, 3, 2, 2);
        assertEquals(360, readPng(dir.resolve("rgb.png")).getWidth(), "small grids still leave room for the title");
        assertThrows(IllegalArgumentException.class, () -> Charts.imageGrid(p, "bad", w, 3, 1, k, k));
    }

    @Test
    void attentionHeatmap() throws IOException {
        int t = 12;
        float[] att = new float[t * t];
        for (int q = 0; q < t; q++) {
            for (int kk = 0; kk <= q; kk++) {
                att[q * t + kk] = 1f / (q + 1); // causal, uniform
            }
        }
        List<String> chars = "hello world!".chars().mapToObj(c -> Character.toString(c)).toList();
        Path p = dir.resolve("attention.png");
        Charts.heatmap(p, new Charts.Heatmap("layer 0 head 0", att, t, t, chars, chars, "query", "key"), null);
        BufferedImage img = readPng(p);
        assertDrawn(img);
        assertTrue(img.getWidth() >= 12 * 32, "labelled cells are large enough to read: " + img.getWidth());
        assertNotEquals(Charts.viridis(0), Charts.viridis(1));
        Charts.heatmap(dir.resolve("big.png"), new Charts.Heatmap("big", new float[300 * 300], 300, 300, null, null, "q", "k"),
                new Charts.Inset("the input", new float[28 * 28], 28, 28));
        readPng(dir.resolve("big.png"));
        assertThrows(IllegalArgumentException.class, () -> new Charts.Heatmap("bad", new float[3], 2, 2, null, null, "q", "k"));
    }
}
