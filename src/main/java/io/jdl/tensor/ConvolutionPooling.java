package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import io.jdl.backend.Activation;
import io.jdl.backend.ConvShape;
import io.jdl.backend.PoolShape;
import io.jdl.backend.Storage;
import io.jdl.device.DType;
import java.util.function.Consumer;

/** 2-d convolution (cuDNN's cross-correlation) and max / average pooling over [n, c, h, w]. */
final class ConvolutionPooling {
    private ConvolutionPooling() {
    }

    /**
     * 2-d convolution (cross-correlation) of x [n, c, h, w] with weight [k, c / groups, r, s] and an optional
     * bias [k], followed by {@code act} (null for none; {@code param}: leaky ReLU's slope), bias and activation
     * in one pass ({@link BiasActivation}); returns [n, k, outH, outW].
     *
     * <p>Half operands: cuDNN's pseudo-half convolution reads them as they are and stores the product in their
     * dtype, rounded once (float32 accumulation); the backward convolutions likewise. cuDNN cannot store a half
     * convolution in float32, so a bias or activation adds one rounding: one epilogue call reads the rounded
     * product and the bias, adds them and applies the activation in float32 and rounds again ({@link
     * BiasActivation}), as PyTorch's cuDNN convolution rounds its output before adding the bias; the product's
     * gradient is act'·g rounded to the dtype, the bias's the float32 sums of act'·g rounded once.
     */
    static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int stride, int padding, int dilation, int groups,
                         Activation act, float param) {
        Checks.sameDevice("conv2d", x, weight);
        if (bias != null) {
            Checks.sameDevice("conv2d", x, bias);
        }
        Shape shape = x.shape;
        if (shape.rank() != 4 || weight.shape.rank() != 4) {
            throw new IllegalArgumentException("conv2d takes input [n, c, h, w] and weight [k, c/groups, r, s], got shapes "
                    + shape + " and " + weight.shape);
        }
        int k = weight.shape.dim(0), c = shape.dim(1);
        if (groups < 1 || stride < 1 || dilation < 1 || padding < 0 || c % groups != 0 || k % groups != 0
                || weight.shape.dim(1) != c / groups) {
            throw new IllegalArgumentException("conv2d: input " + shape + " and weight " + weight.shape + " do not fit with"
                    + " groups=" + groups + ", stride=" + stride + ", padding=" + padding + ", dilation=" + dilation
                    + " (weight must be [k, c/groups, r, s] with c and k divisible by groups)");
        }
        if (bias != null && (bias.shape.rank() != 1 || bias.shape.dim(0) != k)) {
            throw new IllegalArgumentException("conv2d: bias " + bias.shape + " does not match " + k + " output channels");
        }
        DType d = x.dtype();
        if (bias == null && act != null) {
            return Pointwise.activation(conv2d(x, weight, null, stride, padding, dilation, groups, null, 0f), act, param,
                    d);
        }
        // ConvShape refuses a dilated kernel larger than the padded input, computing in 64 bits.
        ConvShape cs = new ConvShape(shape.dim(0), c, shape.dim(2), shape.dim(3), k, weight.shape.dim(2),
                weight.shape.dim(3), padding, padding, stride, stride, dilation, dilation, groups);
        Tensor y = Conversions.empty(x, Shape.of(cs.n(), k, cs.outH(), cs.outW()), d);
        int hw = cs.outH() * cs.outW();
        if (act == null && (bias == null || d == DType.FLOAT32)) {  // the bias inside the backend's convolution
            x.backend.conv2d(cs, x.dense(), weight.dense(), bias == null ? null : bias.dense(), y.dense());
            return bias == null ? record("conv2d", y, g -> backward(cs, x, weight, null, g), x, weight)
                    : record("conv2d", y, g -> backward(cs, x, weight, bias, g), x, weight, bias);
        }
        x.backend.conv2d(cs, x.dense(), weight.dense(), y.dense());
        BiasActivation epilogue = BiasActivation.apply(y, bias, act, param, cs.n(), k, hw, d);
        // the product's gradient: exact in d for no activation and ReLU (g or 0), else float32 for the bias's sums
        DType gradientType = act == null || act == Activation.RELU ? d : DType.FLOAT32;
        Consumer<Tensor> back = g -> {
            Tensor dy = epilogue.productGradient(g, gradientType);  // [n, k, outH, outW]
            Tensor dyD = dy.dtype() == d ? dy : null;
            try {
                if (d == DType.FLOAT32) {
                    backward(cs, x, weight, bias, dy);
                } else {
                    // a half product: the bias's gradient summed from dy (float32 where act'·g is), rounded once
                    accumulate(bias, () -> {
                        Tensor db = Conversions.empty(x, bias.shape, bias.dtype());
                        x.backend.channelBiasBackward(dy.dense(), db.dense(), cs.n(), k, hw);
                        return db;
                    });
                    dyD = dyD != null ? dyD : Conversions.converted(dy, d);  // the half convolutions' dy, rounded once
                    backward(cs, x, weight, null, dyD);
                }
            } finally {
                if (dyD != null && dyD != dy) {
                    dyD.close();
                }
                if (dy != g) {
                    dy.close();
                }
            }
        };
        return record("conv2d", epilogue.output(), back, epilogue.saved(), x, weight, bias);
    }

    /**
     * dx, dw and db (bias null: none) of y = conv(x, w) + bias from dy, in one backend call for those that need a
     * gradient; dx and dw of x's dtype (float32 accumulation, each result rounded once), db float32.
     */
    private static void backward(ConvShape cs, Tensor x, Tensor weight, Tensor bias, Tensor dy) {
        Tensor dx = null, dw = null, db = null;
        try {
            dx = x.needsGrad() ? Conversions.empty(x, x.shape, x.dtype()) : null;
            dw = weight.needsGrad() ? Conversions.empty(x, weight.shape, x.dtype()) : null;
            db = bias != null && bias.needsGrad() ? x.empty(bias.shape) : null;
            x.backend.conv2dBackward(cs, x.dense(), weight.dense(), dy.dense(), dense(dx), dense(dw), dense(db));
        } catch (RuntimeException | Error e) {
            for (Tensor t : new Tensor[] {dx, dw, db}) {
                if (t != null) {
                    t.close();
                }
            }
            throw e;
        }
        if (dx != null) {
            accumulate(x, dx);
        }
        if (dw != null) {
            accumulate(weight, dw);
        }
        if (db != null) {
            accumulate(bias, db);
        }
    }

    private static Storage dense(Tensor t) {
        return t == null ? null : t.dense();
    }

    /** Max or average pooling with a square window; average counts padding in the divisor (PyTorch's default). */
    static Tensor pool2d(Tensor x, boolean max, int kernel, int stride, int padding) {
        x.checkOpen();
        String name = max ? "maxPool2d" : "avgPool2d";
        Shape shape = x.shape;
        if (shape.rank() != 4) {
            throw new IllegalArgumentException(name + " takes input [n, c, h, w], got shape " + shape);
        }
        if (kernel < 1 || stride < 1 || padding < 0 || 2 * padding > kernel) {
            throw new IllegalArgumentException(name + ": kernel " + kernel + ", stride " + stride + ", padding " + padding
                    + " invalid (need kernel, stride >= 1 and 0 <= padding <= kernel/2)");
        }
        PoolShape ps = new PoolShape(max, shape.dim(0), shape.dim(1), shape.dim(2), shape.dim(3), kernel, kernel, padding,
                padding, stride, stride);
        if (ps.outH() < 1 || ps.outW() < 1) {
            throw new IllegalArgumentException(name + ": input " + shape + " is smaller than the " + kernel + "x" + kernel
                    + " window with padding " + padding);
        }
        Tensor y = x.empty(Shape.of(ps.n(), ps.c(), ps.outH(), ps.outW()));
        x.backend.pool2d(ps, x.dense(), y.dense());
        return record(name, y, g -> accumulate(x, () -> {
            Tensor dx = x.empty(shape);
            x.backend.pool2dBackward(ps, x.dense(), y.dense(), g.dense(), dx.dense());
            return dx;
        }), x);
    }
}
