package io.jdl.nn;

import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;

/** 2-d convolution over [n, c, h, w]: weight [out, in/groups, k, k], optional bias [out]. */
public final class Conv2d extends Module {
    private final int stride, padding, dilation, groups;

    public Conv2d(int in, int out, int kernel, int stride, int padding, int dilation, int groups, boolean bias,
                  Random rng) {
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
    public Tensor forward(Tensor x) {
        return x.conv2d(param("weight"), param("bias"), stride, padding, dilation, groups);
    }
}
