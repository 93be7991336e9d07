package io.jdl.backend;

/**
 * 2-d pooling over [n, c, h, w] with a {@code kh×kw} window. Average pooling counts padding in the
 * divisor (PyTorch's default {@code count_include_pad=True}); max pooling ignores padding.
 */
public record PoolShape(boolean max, int n, int c, int h, int w, int kh, int kw, int padH, int padW, int strideH,
                        int strideW) {

    public int outH() {
        return (h + 2 * padH - kh) / strideH + 1;
    }

    public int outW() {
        return (w + 2 * padW - kw) / strideW + 1;
    }
}
