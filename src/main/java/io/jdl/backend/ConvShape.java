package io.jdl.backend;

/**
 * The geometry of a 2-d convolution in NCHW: input [n, c, h, w], weight [k, c / groups, r, s], output
 * [n, k, outH, outW]. The constructor refuses what PyTorch refuses (a dilated kernel larger than the
 * padded input, sizes and steps below their minimum, channels not divisible by the groups), computing in
 * 64 bits so that huge paddings, strides and dilations are answered, never overflowed; every output
 * size then fits an {@code int}, and so does every input index a kernel computes from it.
 */
public record ConvShape(int n, int c, int h, int w, int k, int r, int s, int padH, int padW, int strideH, int strideW,
                        int dilationH, int dilationW, int groups) {

    public ConvShape {
        Geometry.atLeast("conv2d", "batch size", n, 0);
        Geometry.atLeast("conv2d", "input channels", c, 1);
        Geometry.atLeast("conv2d", "output channels", k, 1);
        Geometry.atLeast("conv2d", "kernel height", r, 1);
        Geometry.atLeast("conv2d", "kernel width", s, 1);
        Geometry.atLeast("conv2d", "padding", Math.min(padH, padW), 0);
        Geometry.atLeast("conv2d", "stride", Math.min(strideH, strideW), 1);
        Geometry.atLeast("conv2d", "dilation", Math.min(dilationH, dilationW), 1);
        Geometry.atLeast("conv2d", "groups", groups, 1);
        if (c % groups != 0 || k % groups != 0) {
            throw new IllegalArgumentException("conv2d: groups=" + groups + " must divide the input channels (" + c
                    + ") and the output channels (" + k + ")");
        }
        if (!Geometry.fits(h, padH, Geometry.dilatedKernel(r, dilationH), strideH)
                || !Geometry.fits(w, padW, Geometry.dilatedKernel(s, dilationW), strideW)) {
            String call = "conv2d of input [" + n + ", " + c + ", " + h + ", " + w + "] by weight [" + k + ", " + c / groups
                    + ", " + r + ", " + s + "] (stride " + strideH + "x" + strideW + ", padding " + padH + "x" + padW
                    + ", dilation " + dilationH + "x" + dilationW + ")";
            Geometry.checkFits(call, "height", h, padH, Geometry.dilatedKernel(r, dilationH), strideH);
            Geometry.checkFits(call, "width", w, padW, Geometry.dilatedKernel(s, dilationW), strideW);
        }
    }

    public int outH() {
        return (int) Geometry.positions(h, padH, Geometry.dilatedKernel(r, dilationH), strideH);
    }

    public int outW() {
        return (int) Geometry.positions(w, padW, Geometry.dilatedKernel(s, dilationW), strideW);
    }
}
