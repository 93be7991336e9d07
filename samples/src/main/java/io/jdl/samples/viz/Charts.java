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
     * A line chart of one or more series (for example training loss per step and test loss per epoch on a
     * common step axis). Empty series are skipped; a chart with no points still gets an empty plot. The legend
     * sits below the plot, where it hides no point.
     *
     * @throws IOException when the file cannot be written
     */
    public static void lines(Path png, String title, String xLabel, String yLabel, List<Series> series) throws IOException {
        write(png, BitmapEncoder.getBufferedImage(chart(title, xLabel, yLabel, series)));
    }

    private static XYChart chart(String title, String xLabel, String yLabel, List<Series> series) {
        XYChart chart = new XYChartBuilder().width(800).height(500).title(title).xAxisTitle(xLabel).yAxisTitle(yLabel).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        chart.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
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
        return chart;
    }

    /**
     * Points drawn as unconnected markers (one colour per series, e.g. per class) with {@code lines} drawn over
     * them without markers (e.g. a decision boundary).
     *
     * @throws IOException when the file cannot be written
     */
    public static void scatter(Path png, String title, String xLabel, String yLabel, List<Series> points, List<Series> lines)
            throws IOException {
        XYChart chart = chart(title, xLabel, yLabel, List.of());
        chart.removeSeries("(no data)");
        for (Series s : points) {
            XYSeries xy = chart.addSeries(s.name(), s.x(), s.y());
            xy.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
            xy.setMarker(SeriesMarkers.CIRCLE);
        }
        for (Series s : lines) {
            chart.addSeries(s.name(), s.x(), s.y()).setMarker(SeriesMarkers.NONE);
        }
        write(png, BitmapEncoder.getBufferedImage(chart));
    }

    /**
     * The usual pair of pictures for a classifier: {@code loss.png} (training loss and test loss against the
     * optimizer step where each was measured) and {@code accuracy.png} (train and test accuracy against the
     * epoch, fractional where a run stopped inside one, on a 0..1-style axis that starts at epoch 0 so that a
     * single evaluation still reads as a point on a scale).
     */
    public static void lossAndAccuracy(Path dir, Series trainLoss, Series testLoss, Series trainAccuracy,
                                       Series testAccuracy) throws IOException {
        lines(dir.resolve("loss.png"), "Loss", "optimizer step", "cross-entropy loss", List.of(trainLoss, testLoss));
        XYChart accuracy = chart("Accuracy", "epoch", "accuracy", List.of(trainAccuracy, testAccuracy));
        double lowest = 1, last = 1;
        for (Series s : List.of(trainAccuracy, testAccuracy)) {
            for (int i = 0; i < s.y().length; i++) {
                lowest = Double.isFinite(s.y()[i]) ? Math.min(lowest, s.y()[i]) : lowest;
                last = Math.max(last, s.x()[i]);
            }
        }
        accuracy.getStyler().setYAxisMin(Math.max(0, Math.floor(lowest * 10 - 0.5) / 10));
        accuracy.getStyler().setYAxisMax(1.0);
        accuracy.getStyler().setYAxisDecimalPattern("0.00");
        accuracy.getStyler().setXAxisMin(0.0);
        accuracy.getStyler().setXAxisMax(Math.ceil(last));
        write(dir.resolve("accuracy.png"), BitmapEncoder.getBufferedImage(accuracy));
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
     * its own minimum..maximum (kernels differ in scale), enlarged to at least 64 pixels a side with a 4-pixel
     * gap, under {@code title}.
     */
    public static void imageGrid(Path png, String title, float[] data, int count, int channels, int height, int width)
            throws IOException {
        if ((long) count * channels * height * width != data.length) {
            throw new IllegalArgumentException(count + "x" + channels + "x" + height + "x" + width + " images need "
                    + ((long) count * channels * height * width) + " values, got " + data.length);
        }
        if (count <= 0 || height <= 0 || width <= 0) {
            throw new IllegalArgumentException("count, height and width must be > 0");
        }
        int cols = (int) Math.ceil(Math.sqrt(count)), rows = (count + cols - 1) / cols, gap = 4, top = 36;
        int scale = Math.max(1, (64 + Math.max(height, width) - 1) / Math.max(height, width));
        int tw = width * scale, th = height * scale;
        int w = Math.max(360, cols * (tw + gap) + gap);
        BufferedImage img = new BufferedImage(w, top + rows * (th + gap) + gap, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(img);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        center(g, title, w / 2, 22);
        g.dispose();
        int left = (w - (cols * (tw + gap) + gap)) / 2;
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
            int x0 = left + gap + (n % cols) * (tw + gap), y0 = top + gap + (n / cols) * (th + gap);
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
     * What a heatmap shows: {@code values} ({@code rows x cols}, row-major), for example one attention head's
     * weights with queries as rows and keys as columns; axis titles say which is which. Labels (may be null)
     * are drawn when the cells are large enough, a space as {@code ␣} and a newline as {@code ↵}.
     */
    public record Heatmap(String title, float[] values, int rows, int cols, List<String> rowLabels,
                          List<String> colLabels, String rowAxis, String colAxis) {
        public Heatmap {
            if ((long) rows * cols != values.length || rows <= 0 || cols <= 0) {
                throw new IllegalArgumentException(rows + "x" + cols + " heatmap needs " + ((long) rows * cols)
                        + " values, got " + values.length);
            }
        }
    }

    /** A grey image drawn beside a heatmap (the input the map belongs to), {@code [height, width]} row-major. */
    public record Inset(String caption, float[] pixels, int height, int width) {
        public Inset {
            if ((long) height * width != pixels.length) {
                throw new IllegalArgumentException(height + "x" + width + " image needs " + ((long) height * width)
                        + " values, got " + pixels.length);
            }
        }
    }

    /**
     * Draws {@code map} with a colour bar (dark blue at the minimum to yellow at the maximum) and, when
     * {@code inset} is not null, that image to the right of it.
     */
    public static void heatmap(Path png, Heatmap map, Inset inset) throws IOException {
        int rows = map.rows(), cols = map.cols();
        boolean labelled = map.rowLabels() != null || map.colLabels() != null;
        int cell = labelled && Math.max(rows, cols) <= 64 ? Math.max(14, Math.min(32, 896 / Math.max(rows, cols)))
                : Math.max(2, Math.min(32, 640 / Math.max(rows, cols)));
        int insetScale = inset == null ? 0 : Math.max(1, 168 / Math.max(inset.height(), inset.width()));
        int insetWidth = inset == null ? 0 : Math.max(inset.width() * insetScale, 170) + 30;
        int left = 90, top = 50, bar = 80, bottom = 70;
        int w = left + cols * cell + bar + insetWidth, h = top + Math.max(rows * cell, inset == null ? 0 : 230) + bottom;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(img);
        float[] values = map.values();
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
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        center(g, map.title(), w / 2, 24);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, Math.max(9, Math.min(13, cell - 2))));
        FontMetrics fm = g.getFontMetrics();
        if (map.rowLabels() != null && cell >= 9) {
            for (int r = 0; r < Math.min(rows, map.rowLabels().size()); r++) {
                String s = visible(map.rowLabels().get(r));
                g.drawString(s, left - 4 - fm.stringWidth(s), top + r * cell + cell / 2 + fm.getAscent() / 2 - 1);
            }
        }
        if (map.colLabels() != null && cell >= 9) {
            for (int c = 0; c < Math.min(cols, map.colLabels().size()); c++) {
                center(g, visible(map.colLabels().get(c)), left + c * cell + cell / 2, top + rows * cell + fm.getAscent() + 2);
            }
        }
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
        center(g, map.colAxis(), left + cols * cell / 2, top + rows * cell + 45);
        Graphics2D r = (Graphics2D) g.create();
        r.translate(20, top + rows * cell / 2);
        r.rotate(-Math.PI / 2);
        center(r, map.rowAxis(), 0, 0);
        r.dispose();
        int bx = left + cols * cell + 15, bh = rows * cell;
        for (int y = 0; y < bh; y++) {
            g.setColor(viridis(1 - y / (double) Math.max(1, bh - 1)));
            g.drawLine(bx, top + y, bx + 12, top + y);
        }
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        g.drawString(String.format("%.3g", max), bx + 15, top + g.getFontMetrics().getAscent());
        g.drawString(String.format("%.3g", min), bx + 15, top + bh);
        if (inset != null) {
            drawInset(g, inset, insetScale, left + cols * cell + bar + 15, top);
        }
        g.dispose();
        write(png, img);
    }

    private static void drawInset(Graphics2D g, Inset inset, int scale, int x0, int y0) {
        float min = Float.POSITIVE_INFINITY, max = Float.NEGATIVE_INFINITY;
        for (float v : inset.pixels()) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        float range = max > min ? max - min : 1f;
        for (int y = 0; y < inset.height(); y++) {
            for (int x = 0; x < inset.width(); x++) {
                int v = byteOf((inset.pixels()[y * inset.width() + x] - min) / range);
                g.setColor(new Color(v, v, v));
                g.fillRect(x0 + x * scale, y0 + y * scale, scale, scale);
            }
        }
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        center(g, inset.caption(), x0 + inset.width() * scale / 2, y0 + inset.height() * scale + 18);
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

    /** {@code label} with a space shown as ␣ and a newline as ↵, so that both can be seen. */
    public static String visible(String label) {
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
