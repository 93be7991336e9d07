package io.jdl.samples.viz;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Objects;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * PNG pictures for the samples: training curves (XChart line charts), a confusion matrix, a grid of small
 * images (the first convolution layer's kernels) and a heatmap (an attention map). Curves go through XChart;
 * the pixel pictures are drawn with {@code java.awt} on a {@link BufferedImage} and written with
 * {@link ImageIO}. Everything works headless ({@code -Djava.awt.headless=true} is set when no display exists).
 *
 * <p>Each method writes a temporary file next to the target and renames it, so a reader never sees half a
 * PNG. Parent directories are created. Arrays passed in are only read.
 */
public final class Charts {
    static {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    private Charts() {
    }

    /** One line of a chart: y against x (same length), drawn with {@code name} in the legend. */
    public record Series(String name, double[] x, double[] y) {
        public Series {
            Objects.requireNonNull(name, "name");
            if (x.length != y.length) {
                throw new IllegalArgumentException("series " + name + ": " + x.length + " x values but " + y.length + " y values");
            }
        }

        /** y against 1, 2, 3, ... (epochs, for example). */
        public static Series of(String name, double[] y) {
            double[] x = new double[y.length];
            for (int i = 0; i < x.length; i++) {
                x[i] = i + 1;
            }
            return new Series(name, x, y);
        }
    }

    /**
     * A line chart of one or more series (for example training loss per step and validation loss per epoch on
     * a common step axis). Empty series are skipped; a chart with no points still gets an empty plot.
     *
     * @throws IOException when the file cannot be written
     */
    public static void lines(Path png, String title, String xLabel, String yLabel, List<Series> series) throws IOException {
        XYChart chart = new XYChartBuilder().width(800).height(500).title(title).xAxisTitle(xLabel).yAxisTitle(yLabel).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setPlotGridLinesVisible(true);
        chart.getStyler().setAntiAlias(true);
        boolean any = false;
        for (Series s : series) {
            if (s.x().length == 0) {
                continue;
            }
            XYSeries xy = chart.addSeries(s.name(), s.x(), s.y());
            xy.setMarker(s.x().length > 60 ? SeriesMarkers.NONE : SeriesMarkers.CIRCLE);
            any = true;
        }
        if (!any) {
            chart.addSeries("(no data)", new double[] {0}, new double[] {0}).setMarker(SeriesMarkers.NONE);
        }
        write(png, BitmapEncoder.getBufferedImage(chart));
    }

    /**
     * The usual pair of pictures for a classifier: {@code loss.png} (training loss per step, evaluation loss
     * per epoch placed at the step where the epoch ended) and {@code accuracy.png} (accuracy per epoch).
     *
     * @param stepLoss      training loss at each logged step (x = 1, 2, ...)
     * @param stepsPerEpoch steps between the entries of {@code epochLoss}, to place them on the step axis
     * @param epochLoss     evaluation loss per epoch (may be empty)
     * @param trainAccuracy training accuracy per epoch (may be empty)
     * @param testAccuracy  evaluation accuracy per epoch (may be empty)
     */
    public static void lossAndAccuracy(Path dir, double[] stepLoss, int stepsPerEpoch, double[] epochLoss,
            double[] trainAccuracy, double[] testAccuracy) throws IOException {
        double[] ex = new double[epochLoss.length];
        for (int i = 0; i < ex.length; i++) {
            ex[i] = (double) (i + 1) * stepsPerEpoch;
        }
        lines(dir.resolve("loss.png"), "Loss", "step", "loss",
                List.of(Series.of("train (per step)", stepLoss), new Series("eval (per epoch)", ex, epochLoss)));
        lines(dir.resolve("accuracy.png"), "Accuracy", "epoch", "accuracy",
                List.of(Series.of("train", trainAccuracy), Series.of("test", testAccuracy)));
    }

    /**
     * A confusion matrix: {@code counts[actual][predicted]}, cells shaded by their share of the actual class,
     * with the count written in each cell, class names on both axes and the overall accuracy in the title.
     */
    public static void confusionMatrix(Path png, int[][] counts, List<String> classNames) throws IOException {
        int k = counts.length;
        if (classNames.size() != k) {
            throw new IllegalArgumentException(k + " rows but " + classNames.size() + " class names");
        }
        long total = 0, correct = 0;
        for (int i = 0; i < k; i++) {
            if (counts[i].length != k) {
                throw new IllegalArgumentException("row " + i + " has " + counts[i].length + " columns, expected " + k);
            }
            for (int j = 0; j < k; j++) {
                total += counts[i][j];
            }
            correct += counts[i][i];
        }
        int cell = 56, left = 130, top = 60, bottom = 120, right = 70;
        int w = left + k * cell + right, h = top + k * cell + bottom;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(img);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        center(g, String.format("Confusion matrix (accuracy %.2f%%)", total == 0 ? 0 : 100.0 * correct / total), w / 2, 25);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        for (int i = 0; i < k; i++) {
            long rowSum = 0;
            for (int j = 0; j < k; j++) {
                rowSum += counts[i][j];
            }
            for (int j = 0; j < k; j++) {
                double share = rowSum == 0 ? 0 : counts[i][j] / (double) rowSum;
                g.setColor(blues(share));
                int x = left + j * cell, y = top + i * cell;
                g.fillRect(x, y, cell, cell);
                g.setColor(share > 0.5 ? Color.WHITE : Color.BLACK);
                center(g, Integer.toString(counts[i][j]), x + cell / 2, y + cell / 2 + 4);
            }
            g.setColor(Color.BLACK);
            String name = classNames.get(i);
            g.drawString(name, left - 8 - g.getFontMetrics().stringWidth(name), top + i * cell + cell / 2 + 4);
        }
        for (int j = 0; j < k; j++) {
            Graphics2D r = (Graphics2D) g.create();
            r.translate(left + j * cell + cell / 2 + 4, top + k * cell + 8);
            r.rotate(Math.PI / 4);
            r.drawString(classNames.get(j), 0, 0);
            r.dispose();
        }
        g.setColor(Color.GRAY);
        g.drawRect(left, top, k * cell, k * cell);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 12));
        center(g, "predicted", left + k * cell / 2, h - 10);
        Graphics2D r = (Graphics2D) g.create();
        r.translate(14, top + k * cell / 2);
        r.rotate(-Math.PI / 2);
        center(r, "actual", 0, 0);
        r.dispose();
        g.dispose();
        write(png, img);
    }

    /**
     * A grid of small images, for example convolution kernels {@code [count, channels, height, width]}:
     * 3-channel images are drawn in colour, others as the mean over channels in grey. Each tile is scaled to
     * its own minimum..maximum (kernels differ in scale), enlarged {@code scale} times, with a 2-pixel gap.
     */
    public static void imageGrid(Path png, float[] data, int count, int channels, int height, int width, int scale)
            throws IOException {
        if ((long) count * channels * height * width != data.length) {
            throw new IllegalArgumentException(count + "x" + channels + "x" + height + "x" + width + " images need "
                    + ((long) count * channels * height * width) + " values, got " + data.length);
        }
        if (count <= 0 || scale <= 0) {
            throw new IllegalArgumentException("count and scale must be > 0");
        }
        int cols = (int) Math.ceil(Math.sqrt(count)), rows = (count + cols - 1) / cols, gap = 2;
        int tw = width * scale, th = height * scale;
        BufferedImage img = new BufferedImage(cols * (tw + gap) + gap, rows * (th + gap) + gap, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        g.dispose();
        int plane = height * width, size = channels * plane;
        for (int n = 0; n < count; n++) {
            float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
            for (int k = 0; k < size; k++) {
                float v = data[n * size + k];
                if (Float.isFinite(v)) {
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
            }
            float range = max > min ? max - min : 1f;
            int x0 = gap + (n % cols) * (tw + gap), y0 = gap + (n / cols) * (th + gap);
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    int rgb;
                    if (channels == 3) {
                        int[] c = new int[3];
                        for (int ch = 0; ch < 3; ch++) {
                            c[ch] = byteOf((data[n * size + ch * plane + y * width + x] - min) / range);
                        }
                        rgb = c[0] << 16 | c[1] << 8 | c[2];
                    } else {
                        float s = 0;
                        for (int ch = 0; ch < channels; ch++) {
                            s += data[n * size + ch * plane + y * width + x];
                        }
                        int v = byteOf((s / channels - min) / range);
                        rgb = v << 16 | v << 8 | v;
                    }
                    for (int dy = 0; dy < scale; dy++) {
                        for (int dx = 0; dx < scale; dx++) {
                            img.setRGB(x0 + x * scale + dx, y0 + y * scale + dy, rgb);
                        }
                    }
                }
            }
        }
        write(png, img);
    }

    /**
     * A heatmap of {@code values} ({@code rows x cols}, row-major), for example attention weights of one head:
     * rows are queries and columns keys. Colours run from dark blue (minimum) to yellow (maximum) with a colour
     * bar; labels (may be null) are drawn when they fit, a space as {@code ␣} so that it shows.
     */
    public static void heatmap(Path png, String title, float[] values, int rows, int cols, List<String> rowLabels,
            List<String> colLabels) throws IOException {
        if ((long) rows * cols != values.length || rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException(rows + "x" + cols + " heatmap needs " + ((long) rows * cols) + " values, got "
                    + values.length);
        }
        int cell = Math.max(2, Math.min(32, 640 / Math.max(rows, cols)));
        int left = 70, top = 45, bar = 70, bottom = 60;
        int w = left + cols * cell + bar, h = top + rows * cell + bottom;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(img);
        float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
        for (float v : values) {
            if (Float.isFinite(v)) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
        }
        if (!(max > min)) {
            max = min + 1;
        }
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                g.setColor(viridis((values[r * cols + c] - min) / (max - min)));
                g.fillRect(left + c * cell, top + r * cell, cell, cell);
            }
        }
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        center(g, title, w / 2, 22);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, Math.max(8, Math.min(11, cell - 1))));
        FontMetrics fm = g.getFontMetrics();
        if (rowLabels != null && cell >= 9) {
            for (int r = 0; r < Math.min(rows, rowLabels.size()); r++) {
                String s = visible(rowLabels.get(r));
                g.drawString(s, left - 4 - fm.stringWidth(s), top + r * cell + cell / 2 + fm.getAscent() / 2 - 1);
            }
        }
        if (colLabels != null && cell >= 9) {
            for (int c = 0; c < Math.min(cols, colLabels.size()); c++) {
                center(g, visible(colLabels.get(c)), left + c * cell + cell / 2, top + rows * cell + fm.getAscent() + 2);
            }
        }
        int bx = left + cols * cell + 15, bh = rows * cell;
        for (int y = 0; y < bh; y++) {
            g.setColor(viridis(1 - y / (double) Math.max(1, bh - 1)));
            g.drawLine(bx, top + y, bx + 12, top + y);
        }
        g.setColor(Color.BLACK);
        g.drawString(String.format("%.3g", max), bx + 15, top + fm.getAscent());
        g.drawString(String.format("%.3g", min), bx + 15, top + bh);
        g.dispose();
        write(png, img);
    }

    // ---- helpers ----

    private static Graphics2D canvas(BufferedImage img) {
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        g.setStroke(new BasicStroke(1f));
        g.setColor(Color.BLACK);
        return g;
    }

    private static void center(Graphics2D g, String s, int x, int y) {
        g.drawString(s, x - g.getFontMetrics().stringWidth(s) / 2, y);
    }

    private static String visible(String label) {
        return label.equals(" ") ? "\u2423" : label.equals("\n") ? "\u21b5" : label;
    }

    private static int byteOf(double v) {
        return (int) Math.round(Math.max(0, Math.min(1, Double.isFinite(v) ? v : 0)) * 255);
    }

    /** White to dark blue. */
    static Color blues(double t) {
        t = Math.max(0, Math.min(1, t));
        return new Color((int) (247 - t * (247 - 8)), (int) (251 - t * (251 - 48)), (int) (255 - t * (255 - 107)));
    }

    /** An approximation of matplotlib's viridis: dark purple, blue, green, yellow. */
    static Color viridis(double t) {
        double[][] stops = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
        t = Math.max(0, Math.min(1, Double.isFinite(t) ? t : 0)) * (stops.length - 1);
        int i = Math.min((int) t, stops.length - 2);
        double f = t - i;
        return new Color((int) Math.round(stops[i][0] + f * (stops[i + 1][0] - stops[i][0])),
                (int) Math.round(stops[i][1] + f * (stops[i + 1][1] - stops[i][1])),
                (int) Math.round(stops[i][2] + f * (stops[i + 1][2] - stops[i][2])));
    }

    private static void write(Path png, BufferedImage img) throws IOException {
        Path abs = png.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName() + ".", ".tmp");
        try {
            if (!ImageIO.write(img, "png", tmp.toFile())) {
                throw new IOException("no PNG writer in this JDK");
            }
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
