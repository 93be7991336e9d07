package io.jdl.samples;

import io.jdl.data.CsvTable;
import io.jdl.data.DataSource;
import io.jdl.data.Dataset;
import io.jdl.data.FeatureDataset;
import io.jdl.data.ImageFolder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * What {@code baseline --data PATH} trains on: the modality found at PATH, split into training and validation
 * sets by a seeded shuffle, with the inputs normalised by statistics of the training part only (so nothing of
 * the validation set leaks into training).
 */
record BaselineData(Modality modality, DataSource train, DataSource validation, List<String> classNames,
                    float targetMean, float targetStd, float[] channelMean, float[] channelStd) {

    enum Modality { TABLE, IMAGES, TEXT }

    /** The modality of {@code path}: a folder is images, a {@code .csv}/{@code .tsv} file a table, any other file text. */
    static Modality detect(Path path) {
        if (Files.isDirectory(path)) {
            return Modality.IMAGES;
        }
        String name = path.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        return name.endsWith(".csv") || name.endsWith(".tsv") ? Modality.TABLE : Modality.TEXT;
    }

    boolean classification() {
        return !classNames.isEmpty();
    }

    /** A table ({@code target} null: its last column): features standardised to mean 0, std 1 per column; a regression target likewise (undone for RMSE). */
    static BaselineData table(Path file, String target, double validationFraction, long seed) throws IOException {
        CsvTable table = CsvTable.read(file, target);
        int n = table.rows(), d = table.featureNames().size();
        int[][] split = split(n, validationFraction, seed);
        float[] x = table.features().clone();
        for (int c = 0; c < d; c++) {
            double[] ms = meanStd(x, split[0], c, d);
            for (int i = 0; i < n; i++) {
                x[i * d + c] = (float) ((x[i * d + c] - ms[0]) / ms[1]);
            }
        }
        int[] shape = {d};
        if (table.isClassification()) {
            int k = table.classes().size();
            return new BaselineData(Modality.TABLE,
                    FeatureDataset.classification(rows(x, d, split[0]), shape, pick(table.labels(), split[0]), k),
                    FeatureDataset.classification(rows(x, d, split[1]), shape, pick(table.labels(), split[1]), k),
                    table.classes(), 0, 1, null, null);
        }
        double[] ms = meanStd(table.targets(), split[0], 0, 1);
        float[] y = new float[n];
        for (int i = 0; i < n; i++) {
            y[i] = (float) ((table.targets()[i] - ms[0]) / ms[1]);
        }
        return new BaselineData(Modality.TABLE, FeatureDataset.regression(rows(x, d, split[0]), shape, rows(y, 1, split[0]), 1),
                FeatureDataset.regression(rows(x, d, split[1]), shape, rows(y, 1, split[1]), 1), List.of(),
                (float) ms[0], (float) ms[1], null, null);
    }

    /** Images in class folders, resized to {@code size}; the loader normalises with the training part's channel statistics. */
    static BaselineData images(Path root, int size, double validationFraction, long seed) throws IOException {
        Dataset all = ImageFolder.read(root, size);
        int[][] split = split(all.size(), validationFraction, seed);
        Dataset train = images(all, split[0]), validation = images(all, split[1]);
        float[][] stats = train.channelStats();
        return new BaselineData(Modality.IMAGES, train, validation, all.classNames(), 0, 1, stats[0], stats[1]);
    }

    private static Dataset images(Dataset all, int[] idx) {
        int per = all.imageSize();
        byte[] pixels = new byte[idx.length * per];
        for (int k = 0; k < idx.length; k++) {
            System.arraycopy(all.pixels(), idx[k] * per, pixels, k * per, per);
        }
        return new Dataset(pixels, pick(all.labels(), idx), all.channels(), all.height(), all.width(), all.classNames());
    }

    /** {train indices, validation indices}: a seeded shuffle, the last {@code fraction} (at least one sample) for validation. */
    static int[][] split(int n, double fraction, long seed) {
        int validation = Math.max(1, (int) Math.round(n * fraction));
        if (n - validation < 1) {
            throw new IllegalArgumentException(n + " samples are too few to split into training and validation sets");
        }
        int[] idx = java.util.stream.IntStream.range(0, n).toArray();
        Random r = new Random(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1), t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        return new int[][] {java.util.Arrays.copyOf(idx, n - validation), java.util.Arrays.copyOfRange(idx, n - validation, n)};
    }

    /** Mean and standard deviation (1 where a column is constant) of column {@code c} of [n, d] {@code x} over rows {@code idx}. */
    private static double[] meanStd(float[] x, int[] idx, int c, int d) {
        double sum = 0, sq = 0;
        for (int i : idx) {
            sum += x[i * d + c];
        }
        double mean = sum / idx.length;
        for (int i : idx) {
            sq += (x[i * d + c] - mean) * (x[i * d + c] - mean);
        }
        double std = Math.sqrt(sq / idx.length);
        return new double[] {mean, std > 1e-12 ? std : 1};
    }

    private static float[] rows(float[] x, int d, int[] idx) {
        float[] out = new float[idx.length * d];
        for (int k = 0; k < idx.length; k++) {
            System.arraycopy(x, idx[k] * d, out, k * d, d);
        }
        return out;
    }

    private static int[] pick(int[] labels, int[] idx) {
        int[] out = new int[idx.length];
        for (int k = 0; k < idx.length; k++) {
            out[k] = labels[idx[k]];
        }
        return out;
    }
}
