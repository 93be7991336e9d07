package io.jdl.data;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * An in-memory labelled image data set (a {@link DataSource} of {@code [C, H, W]} inputs in [0, 1]): {@code size()} images of {@code channels x height x width}
 * unsigned-byte pixels (0..255) and one class label per image.
 *
 * <p>Pixels stay as bytes (a quarter of the memory of floats); the {@link DataLoader} converts a batch at a
 * time to floats in [0, 1], normalises and augments it. The arrays given to the constructor are used as they
 * are, not copied: the caller must not change them afterwards. {@link #pixels()} and {@link #labels()}
 * return those arrays (no copy, for speed): treat them as read-only.
 */
public final class Dataset implements DataSource {
    private final byte[] pixels;
    private final int[] labels;
    private final int channels, height, width;
    private final List<String> classNames;

    /**
     * @param pixels     {@code labels.length * channels * height * width} bytes, image after image, each in
     *                   channel, row, column order
     * @param labels     class of each image, each in {@code [0, classNames.size())}
     * @param classNames the name of each class
     * @throws IllegalArgumentException if the sizes disagree or a label is out of range
     */
    public Dataset(byte[] pixels, int[] labels, int channels, int height, int width, List<String> classNames) {
        this.pixels = Objects.requireNonNull(pixels, "pixels");
        this.labels = Objects.requireNonNull(labels, "labels");
        this.classNames = List.copyOf(classNames);
        if (channels <= 0 || height <= 0 || width <= 0) {
            throw new IllegalArgumentException("image shape must be positive: " + channels + "x" + height + "x" + width);
        }
        this.channels = channels;
        this.height = height;
        this.width = width;
        long need = (long) labels.length * channels * height * width;
        if (need != pixels.length) {
            throw new IllegalArgumentException(labels.length + " labels of " + channels + "x" + height + "x" + width
                    + " images need " + need + " pixel bytes, got " + pixels.length);
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= this.classNames.size()) {
                throw new IllegalArgumentException("label " + labels[i] + " of sample " + i + " is outside [0, "
                        + this.classNames.size() + ")");
            }
        }
    }

    @Override
    public int size() {
        return labels.length;
    }

    public int channels() {
        return channels;
    }

    public int height() {
        return height;
    }

    public int width() {
        return width;
    }

    /** Values per image: channels * height * width. */
    public int imageSize() {
        return channels * height * width;
    }

    public int numClasses() {
        return classNames.size();
    }

    public List<String> classNames() {
        return classNames;
    }

    /** The class of sample {@code i}. */
    @Override
    public int label(int i) {
        return labels[i];
    }

    /** The label array itself (not a copy): read-only. */
    public int[] labels() {
        return labels;
    }

    /** The pixel array itself (not a copy): read-only. */
    public byte[] pixels() {
        return pixels;
    }

    @Override
    public int[] inputShape() {
        return new int[] {channels, height, width};
    }

    @Override
    public int inputSize() {
        return imageSize();
    }

    /** Image {@code i} with pixels scaled to [0, 1]. */
    @Override
    public void input(int i, float[] dst, int offset) {
        int n = imageSize();
        int base = Math.multiplyExact(Objects.checkIndex(i, size()), n);
        for (int k = 0; k < n; k++) {
            dst[offset + k] = (pixels[base + k] & 0xff) / 255f;
        }
    }

    @Override
    public boolean hasLabels() {
        return true;
    }

    /** Images have class labels, not float targets. */
    @Override
    public int[] targetShape() {
        throw new IllegalStateException("an image Dataset has class labels, not float targets");
    }

    /** Images have class labels, not float targets. */
    @Override
    public void target(int i, float[] dst, int offset) {
        throw new IllegalStateException("an image Dataset has class labels, not float targets");
    }

    /** Image {@code i} as floats in [0, 1] (a new array). */
    public float[] image(int i) {
        float[] out = new float[imageSize()];
        input(i, out, 0);
        return out;
    }

    /** Samples {@code [from, to)} as a new data set (copies). */
    public Dataset subset(int from, int to) {
        Objects.checkFromToIndex(from, to, size());
        int n = imageSize();
        return new Dataset(Arrays.copyOfRange(pixels, from * n, to * n), Arrays.copyOfRange(labels, from, to),
                channels, height, width, classNames);
    }

    /** Per-channel mean and standard deviation of the pixel values scaled to [0, 1]; arrays of length channels. */
    public float[][] channelStats() {
        double[] sum = new double[channels], sq = new double[channels];
        int plane = height * width;
        for (int i = 0; i < size(); i++) {
            for (int c = 0; c < channels; c++) {
                int base = (i * channels + c) * plane;
                long s = 0, s2 = 0;
                for (int k = 0; k < plane; k++) {
                    int v = pixels[base + k] & 0xff;
                    s += v;
                    s2 += (long) v * v;
                }
                sum[c] += s;
                sq[c] += s2;
            }
        }
        float[] mean = new float[channels], std = new float[channels];
        double count = (double) size() * plane;
        for (int c = 0; c < channels; c++) {
            double m = sum[c] / count / 255.0;
            double var = sq[c] / count / (255.0 * 255.0) - m * m;
            mean[c] = (float) m;
            std[c] = (float) Math.sqrt(Math.max(var, 0));
        }
        return new float[][] {mean, std};
    }

    @Override
    public String toString() {
        return "Dataset[" + size() + " x " + channels + "x" + height + "x" + width + ", " + numClasses() + " classes]";
    }
}
