package io.jdl.nn;

import io.jdl.tensor.Tensor;

/** Max or average 2-d pooling with a square window (stride defaults to the window, as in PyTorch). */
public final class Pool2d extends Module {
    private final boolean max;
    private final int kernel, stride, padding;

    private Pool2d(boolean max, int kernel, int stride, int padding) {
        if (kernel < 1 || stride < 1 || padding < 0 || 2L * padding > kernel) {
            throw new IllegalArgumentException((max ? "MaxPool2d" : "AvgPool2d") + ": kernel " + kernel + ", stride " + stride
                    + ", padding " + padding + " invalid (need kernel, stride >= 1 and 0 <= padding <= kernel/2)");
        }
        this.max = max;
        this.kernel = kernel;
        this.stride = stride;
        this.padding = padding;
    }

    public static Pool2d max(int kernel, int stride, int padding) {
        return new Pool2d(true, kernel, stride, padding);
    }

    public static Pool2d max(int kernel) {
        return max(kernel, kernel, 0);
    }

    public static Pool2d avg(int kernel, int stride, int padding) {
        return new Pool2d(false, kernel, stride, padding);
    }

    public static Pool2d avg(int kernel) {
        return avg(kernel, kernel, 0);
    }

    @Override
    protected Tensor compute(Tensor x) {
        return max ? x.maxPool2d(kernel, stride, padding) : x.avgPool2d(kernel, stride, padding);
    }

    @Override
    public String toString() {
        return (max ? "MaxPool2d(" : "AvgPool2d(") + kernel + ", " + stride + ", " + padding + ")";
    }
}
