package io.jdl.nn;

import io.jdl.tensor.FusedActivation;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;

/**
 * 2-d convolution over [n, c, h, w]: weight [out, in/groups, k, k], optional bias [out].
 * {@link #forward(Tensor, FusedActivation)} applies an activation in the bias pass ({@link Sequential} does so
 * for a Conv2d directly followed by an activation module).
 */
public final class Conv2d extends Module implements ActivationFusing {
    private final int stride, padding, dilation, groups;

    public Conv2d(int in, int out, int kernel, int stride, int padding, int dilation, int groups, boolean bias,
                  Random rng) {
        if (in < 1 || out < 1 || kernel < 1 || stride < 1 || padding < 0 || dilation < 1 || groups < 1) {
            throw new IllegalArgumentException("Conv2d: need in, out, kernel, stride, dilation, groups >= 1 and padding >= 0;"
                    + " got in=" + in + ", out=" + out + ", kernel=" + kernel + ", stride=" + stride + ", padding=" + padding
                    + ", dilation=" + dilation + ", groups=" + groups);
        }
        if (in % groups != 0 || out % groups != 0) {
            throw new IllegalArgumentException("Conv2d: channels " + in + " -> " + out + " not divisible by groups "
                    + groups);
        }
        this.stride = stride;
        this.padding = padding;
        this.dilation = dilation;
        this.groups = groups;
        int fanIn = in / groups * kernel * kernel;
        registerParameter("weight", Init.kaimingUniform(rng, Shape.of(out, in / groups, kernel, kernel), fanIn));
        if (bias) {
            registerParameter("bias", Init.pytorchDefault(rng, Shape.of(out), fanIn));
        }
    }

    /** Stride 1, dilation 1, one group, with bias. */
    public Conv2d(int in, int out, int kernel, int padding, Random rng) {
        this(in, out, kernel, 1, padding, 1, 1, true, rng);
    }

    @Override
    protected Tensor compute(Tensor x) {
        return x.conv2d(param("weight"), param("bias"), stride, padding, dilation, groups);
    }

    @Override
    public Tensor forward(Tensor x, FusedActivation act) {
        return scoped(() -> x.conv2d(param("weight"), param("bias"), stride, padding, dilation, groups, act));
    }
}
