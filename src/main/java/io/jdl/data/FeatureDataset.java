package io.jdl.data;

import java.util.Arrays;
import java.util.Objects;

/**
 * An in-memory data set of float inputs (feature vectors, or any fixed shape) with either class labels
 * ({@link #classification}) or float targets ({@link #regression}): the tabular and synthetic data that
 * {@link Dataset}'s byte images do not cover. PyTorch's {@code TensorDataset(features, targets)}.
 *
 * <p>The arrays are used as given, not copied: the caller must not change them afterwards.
 */
public final class FeatureDataset implements DataSource {
    private final float[] inputs;
    private final int[] inputShape;
    private final int inputSize, size;
    private final int[] labels;
    private final int numClasses;
    private final float[] targets;
    private final int[] targetShape;
    private final int targetSize;

    private FeatureDataset(float[] inputs, int[] inputShape, int[] labels, int numClasses, float[] targets,
                           int[] targetShape) {
        this.inputs = Objects.requireNonNull(inputs, "inputs");
        this.inputShape = inputShape.clone();
        this.inputSize = checkedSize("inputShape", inputShape);
        if (inputSize == 0) {
            throw new IllegalArgumentException("inputShape " + Arrays.toString(inputShape) + " has no elements");
        }
        if (inputs.length % inputSize != 0) {
            throw new IllegalArgumentException("inputs has " + inputs.length + " floats, not a whole number of samples of "
                    + Arrays.toString(inputShape) + " (" + inputSize + " floats each)");
        }
        this.size = inputs.length / inputSize;
        this.labels = labels;
        this.numClasses = numClasses;
        this.targets = targets;
        this.targetShape = targetShape == null ? null : targetShape.clone();
        this.targetSize = targetShape == null ? 0 : checkedSize("targetShape", targetShape);
        if (labels != null) {
            if (labels.length != size) {
                throw new IllegalArgumentException(size + " inputs but " + labels.length + " labels");
            }
            if (numClasses < 1) {
                throw new IllegalArgumentException("numClasses must be >= 1, got " + numClasses);
            }
            for (int i = 0; i < labels.length; i++) {
                if (labels[i] < 0 || labels[i] >= numClasses) {
                    throw new IllegalArgumentException("label " + labels[i] + " of sample " + i + " is outside [0, "
                            + numClasses + ")");
                }
            }
        } else if ((long) targetSize * size != targets.length) {
            throw new IllegalArgumentException(size + " inputs need " + (long) targetSize * size + " target floats of "
                    + Arrays.toString(targetShape) + ", got " + targets.length);
        }
    }

    private static int checkedSize(String what, int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException(what + " " + Arrays.toString(shape) + " has a negative size");
            }
            n *= d;
            if (n > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(what + " " + Arrays.toString(shape) + " has over 2^31 - 1 elements");
            }
        }
        return (int) n;
    }

    /**
     * Inputs with class labels.
     *
     * @param inputs     {@code labels.length} inputs of {@code inputShape}, one after another
     * @param inputShape the shape of one input, e.g. {@code {16}}
     * @param labels     the class of each sample, in {@code [0, numClasses)}
     * @throws IllegalArgumentException when the sizes disagree or a label is out of range
     */
    public static FeatureDataset classification(float[] inputs, int[] inputShape, int[] labels, int numClasses) {
        return new FeatureDataset(inputs, inputShape, Objects.requireNonNull(labels, "labels"), numClasses, null, null);
    }

    /**
     * Inputs with float targets.
     *
     * @param targets     one target of {@code targetShape} per input, one after another
     * @param targetShape the shape of one target: {@code {}} for a scalar, {@code {3}} for three outputs
     * @throws IllegalArgumentException when the sizes disagree
     */
    public static FeatureDataset regression(float[] inputs, int[] inputShape, float[] targets, int... targetShape) {
        return new FeatureDataset(inputs, inputShape, null, 0, Objects.requireNonNull(targets, "targets"), targetShape);
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public int[] inputShape() {
        return inputShape.clone();
    }

    @Override
    public int inputSize() {
        return inputSize;
    }

    @Override
    public void input(int i, float[] dst, int offset) {
        System.arraycopy(inputs, Objects.checkIndex(i, size) * inputSize, dst, offset, inputSize);
    }

    @Override
    public boolean hasLabels() {
        return labels != null;
    }

    /** Number of classes (classification only, else 0). */
    public int numClasses() {
        return numClasses;
    }

    @Override
    public int label(int i) {
        if (labels == null) {
            throw new IllegalStateException("a regression data set has float targets, not labels");
        }
        return labels[i];
    }

    @Override
    public int[] targetShape() {
        if (labels != null) {
            throw new IllegalStateException("a classification data set has labels, not float targets");
        }
        return targetShape.clone();
    }

    @Override
    public void target(int i, float[] dst, int offset) {
        if (labels != null) {
            throw new IllegalStateException("a classification data set has labels, not float targets");
        }
        System.arraycopy(targets, Objects.checkIndex(i, size) * targetSize, dst, offset, targetSize);
    }

    @Override
    public String toString() {
        return "FeatureDataset[" + size + " x " + Arrays.toString(inputShape) + (labels != null ? ", " + numClasses
                + " classes]" : " -> " + Arrays.toString(targetShape) + "]");
    }
}
