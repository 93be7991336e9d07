package io.jdl.data;

/**
 * What a {@link DataLoader} batches: {@code size()} samples, each an input of {@link #inputShape()} floats and
 * either a class label or a float target of {@link #targetShape()}. PyTorch's map-style {@code Dataset}.
 *
 * <p>Implementations: {@link Dataset} (images of byte pixels with class labels) and {@link FeatureDataset}
 * (float features with class labels or float regression targets). A source is read from the loader's
 * background thread while the caller trains: its data must not change while a loader iterates it.
 */
public interface DataSource {
    /** Number of samples. */
    int size();

    /** The shape of one input, e.g. {@code [C, H, W]} for images, {@code [F]} for a feature vector. */
    int[] inputShape();

    /** Floats per input: the product of {@link #inputShape()}. */
    int inputSize();

    /** Writes input {@code i} ({@link #inputSize()} floats, row-major) into {@code dst} from {@code offset}. */
    void input(int i, float[] dst, int offset);

    /** Whether targets are class labels ({@link #label}) rather than float values ({@link #target}). */
    boolean hasLabels();

    /** The class of sample {@code i}; only when {@link #hasLabels()}. */
    int label(int i);

    /** The shape of one float target ({@code []} for a scalar); only when not {@link #hasLabels()}. */
    int[] targetShape();

    /** Writes the float target of sample {@code i} into {@code dst} from {@code offset}; only when not {@link #hasLabels()}. */
    void target(int i, float[] dst, int offset);
}
