package io.jdl.backend;

/**
 * 2-d pooling over [n, c, h, w] with a {@code kh×kw} window. Average pooling counts padding in the
 * divisor (PyTorch's default {@code count_include_pad=True}); max pooling ignores padding.
 *
 * <p>The constructor refuses what PyTorch refuses: an empty input plane, a window or stride below 1,
 * padding above half the window, a window larger than the padded input. It computes in 64 bits, so that a huge window or
 * padding is an answer at once, never an overflowed size; every output size then fits an {@code int}.
 */
public record PoolShape(boolean max, int n, int c, int h, int w, int kh, int kw, int padH, int padW, int strideH,
                        int strideW) {

    public PoolShape {
        String op = op(max);
        Geometry.atLeast(op, "batch size", n, 0);
        Geometry.atLeast(op, "channels", c, 0);
        // As in PyTorch: a window over an empty plane would hold padding only, and max pooling would have no element.
        Geometry.atLeast(op, "input height", h, 1);
        Geometry.atLeast(op, "input width", w, 1);
        Geometry.atLeast(op, "kernel", Math.min(kh, kw), 1);
        Geometry.atLeast(op, "stride", Math.min(strideH, strideW), 1);
        Geometry.atLeast(op, "padding", Math.min(padH, padW), 0);
        if (2L * padH > kh || 2L * padW > kw) {
            throw new IllegalArgumentException(op + ": padding " + Math.max(padH, padW) + " is more than half the "
                    + kh + "x" + kw + " window");
        }
        if (!Geometry.fits(h, padH, kh, strideH) || !Geometry.fits(w, padW, kw, strideW)) {
            String call = op + " of [" + n + ", " + c + ", " + h + ", " + w + "] with a " + kh + "x" + kw + " window (stride "
                    + strideH + "x" + strideW + ", padding " + padH + "x" + padW + ")";
            Geometry.checkFits(call, "height", h, padH, kh, strideH);
            Geometry.checkFits(call, "width", w, padW, kw, strideW);
        }
    }

    public int outH() {
        return (int) Geometry.positions(h, padH, kh, strideH);
    }

    public int outW() {
        return (int) Geometry.positions(w, padW, kw, strideW);
    }

    private static String op(boolean max) {
        return max ? "maxPool2d" : "avgPool2d";
    }
}
