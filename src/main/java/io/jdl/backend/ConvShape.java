package io.jdl.backend;

/**
 * The geometry of a 2-d convolution in NCHW: input [n, c, h, w], weight [k, c / groups, r, s], output
 * [n, k, outH, outW]. Validated by the tensor layer before it reaches a backend.
 */
public record ConvShape(int n, int c, int h, int w, int k, int r, int s, int padH, int padW, int strideH, int strideW,
                        int dilationH, int dilationW, int groups) {

    public int outH() {
        return (h + 2 * padH - dilationH * (r - 1) - 1) / strideH + 1;
    }

    public int outW() {
        return (w + 2 * padW - dilationW * (s - 1) - 1) / strideW + 1;
    }
}
