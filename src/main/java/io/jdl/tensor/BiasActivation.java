package io.jdl.tensor;

import io.jdl.backend.Activation;
import io.jdl.device.DType;
import java.util.List;

/**
 * The epilogue of a linear layer or a convolution: {@code out = act(y + bias)} over the product y
 * {@code [n, c, hw]} (a linear layer's {@code [rows, features]} with {@code hw = 1}), bias broadcast over rows or
 * pixels, in one backend call (one kernel on CUDA, where adding the bias and the activation took two).
 *
 * <p>Dtypes: the product y is float32 (a float32 op, or a half linear's float32 GEMM result) or half (a half
 * convolution's, which cuDNN stores rounded); the bias has the input's dtype; the output is written in the op's
 * dtype. The primitive widens what it reads, keeps y + bias in float32 through the activation and rounds the
 * output once: a half linear is the float32 op on the widened inputs rounded once, bit for bit.
 *
 * <p>What the backward keeps: the pre-activation {@code y + bias} in float32 where the derivative needs it, written
 * over a float32 y or into a new float32 tensor beside a half y, which the graph node keeps ({@link #saved()}):
 * for leaky ReLU (whose slope may be negative) and GELU, and for every activation of a half output, whose rounding
 * would change the derivative (ReLU's at a tiny positive flushed to 0; sigmoid's and tanh's, which read the output:
 * their float32 output is recomputed from the kept pre-activation in the backward, one more call). Otherwise the
 * derivative follows from the float32 output (ReLU: out > 0 exactly where y + bias > 0, NaN giving 0 both ways),
 * and the epilogue runs in place over y. Results and gradients equal the unfused float32 ops' (on the widened
 * values, each stored value rounded once) bit for bit.
 */
final class BiasActivation {
    private final Activation act;
    private final float param;
    /** y + bias in float32, kept for the backward (see the class comment); else null. */
    private final Tensor pre;
    private final Tensor out;
    private final long n;

    private BiasActivation(Activation act, float param, Tensor pre, Tensor out) {
        this.act = act;
        this.param = param;
        this.pre = pre;
        this.out = out;
        this.n = out.numel();
    }

    /**
     * Applies the epilogue to the product {@code y} [n, c, hw], which it takes over (y becomes the output or the
     * kept pre-activation, or is closed), writing the output in {@code dtype}. {@code act} null: the bias alone;
     * {@code param}: leaky ReLU's slope.
     */
    static BiasActivation apply(Tensor y, Tensor bias, Activation act, float param, int n, int c, int hw,
                                DType dtype) {
        var b = y.backend;
        boolean keepPre = act == Activation.LEAKY_RELU || act == Activation.GELU || act != null && dtype != DType.FLOAT32;
        Tensor pre = !keepPre ? null : y.dtype() == DType.FLOAT32 ? y : Conversions.empty(y, y.shape, DType.FLOAT32);
        Tensor out = pre != y && y.dtype() == dtype ? y : null;
        try {
            out = out != null ? out : Conversions.empty(y, y.shape, dtype);
            if (act == null) {
                if (hw == 1) {
                    b.addBias(y.dense(), bias.dense(), out.dense(), n, c);  // the row bias (parallel rows on the CPU)
                } else {
                    b.addChannelBias(y.dense(), bias.dense(), out.dense(), n, c, hw);
                }
            } else {
                b.biasActivation(act, param, y.dense(), bias.dense(), pre == null ? null : pre.dense(), out.dense(), n,
                        c, hw);
            }
        } catch (RuntimeException e) {
            closeUnless(pre, y);
            closeUnless(out, y);
            throw e;
        }
        if (y != out && y != pre) {
            y.close();  // a float32 product rounded into a half output: nothing reads it any more
        }
        return new BiasActivation(act, param, pre, out);
    }

    private static void closeUnless(Tensor t, Tensor y) {
        if (t != null && t != y) {
            t.close();
        }
    }

    Tensor output() {
        return out;
    }

    /** The tensors the graph node must keep for {@link #productGradient}. */
    List<Tensor> saved() {
        return pre == null ? List.of() : List.of(pre);
    }

    /**
     * The gradient of the product y from the output's gradient g, in {@code dtype}: g itself when it has the dtype
     * and there is no activation, else a new tensor act'·g (one backend call, rounded once).
     */
    Tensor productGradient(Tensor g, DType dtype) {
        if (act == null && g.dtype() == dtype) {
            return g;
        }
        Tensor d = Conversions.empty(g, g.shape, dtype), out32 = null;
        try {
            if (act == null) {
                g.backend.cast(g.dense(), d.dense(), n);
            } else {
                if (Pointwise.fromOutput(act)) {
                    out32 = Pointwise.float32Output(out, o -> g.backend.activation(act, param, pre.dense(), o, n));
                }
                g.backend.activationBackward(act, param, pre != null ? pre.dense() : out.dense(),
                        (out32 != null ? out32 : out).dense(), g.dense(), d.dense(), n);
            }
        } catch (RuntimeException e) {
            d.close();
            throw e;
        } finally {
            if (out32 != null) {
                out32.close();
            }
        }
        return d;
    }
}
