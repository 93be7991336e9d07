package io.jdl.nn;

import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;

/**
 * Batch norm over the channels of [n, c, h, w] (or [n, c]): weight (γ, ones), bias (β, zeros),
 * buffers running_mean (zeros) and running_var (ones). Training uses batch statistics and updates
 * the running ones with {@code momentum}; evaluation uses the running ones. Like PyTorch it also
 * keeps {@code num_batches_tracked} (as a float32 scalar here), so state dicts load in PyTorch strictly.
 */
public final class BatchNorm2d extends Module {
    private final float momentum, eps;

    public BatchNorm2d(int channels, float momentum, float eps) {
        if (channels < 1 || !(momentum >= 0 && momentum <= 1) || !(eps > 0)) {
            throw new IllegalArgumentException("BatchNorm2d needs channels >= 1, momentum in [0, 1] and eps > 0, got "
                    + channels + ", " + momentum + ", " + eps);
        }
        this.momentum = momentum;
        this.eps = eps;
        registerParameter("weight", Tensor.full(Shape.of(channels), 1f, Device.CPU));
        registerParameter("bias", Tensor.zeros(Shape.of(channels), Device.CPU));
        registerBuffer("running_mean", Tensor.zeros(Shape.of(channels), Device.CPU));
        registerBuffer("running_var", Tensor.full(Shape.of(channels), 1f, Device.CPU));
        registerBuffer("num_batches_tracked", Tensor.zeros(Shape.of(), Device.CPU));
    }

    public BatchNorm2d(int channels) {
        this(channels, 0.1f, 1e-5f);
    }

    @Override
    protected Tensor compute(Tensor x) {
        Tensor y = x.batchNorm2d(param("weight"), param("bias"), buffer("running_mean"), buffer("running_var"),
                isTraining(), momentum, eps);
        if (isTraining()) {
            // Counted from the buffer itself (on its device, no host sync), so a loaded state dict continues its count.
            Tensor count = buffer("num_batches_tracked");
            try (Tensor one = Tensor.full(Shape.of(), 1f, count.device()); Tensor next = count.add(one)) {
                count.copyFrom(next);
            }
        }
        return y;
    }
}
