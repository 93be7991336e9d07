package io.jdl.tensor;

import io.jdl.backend.Activation;
import io.jdl.device.DType;
import java.util.List;

/**
 * The epilogue of a linear layer or a convolution: {@code out = act(y + bias)} over the product y
 * {@code [n, c, hw]} (a linear layer's {@code [rows, features]} with {@code hw = 1}), bias broadcast over rows or
 * pixels, in one backend call (one kernel on CUDA, where adding the bias and the activation took two).
 *
 * <p>What the backward keeps: ReLU, sigmoid and tanh differentiate from their output, so the epilogue runs in
 * place over y and nothing more is kept; leaky ReLU (its slope may be negative) and GELU need the pre-activation
 * {@code y + bias}, written into y, which the graph node keeps ({@link #saved()}) beside a new output. Without an
 * activation it is the bias alone, in place. Results equal the unfused ops' bit for bit (same formulas).
 */
final class BiasActivation {
    private final Activation act;
    private final float param;
    /** y + bias, kept for the backward of leaky ReLU and GELU; else null. */
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
     * kept pre-activation). {@code act} null: the bias alone; {@code param}: leaky ReLU's slope.
     */
    static BiasActivation apply(Tensor y, Tensor bias, Activation act, float param, int n, int c, int hw) {
        var b = y.backend;
        if (act == null) {
            if (hw == 1) {
                b.addBias(y.dense(), bias.dense(), y.dense(), n, c);  // the row bias (parallel rows on the CPU)
            } else {
                b.addChannelBias(y.dense(), bias.dense(), y.dense(), n, c, hw);
            }
            return new BiasActivation(null, 0f, null, y);
        }
        if (!needsInput(act)) {
            b.biasActivation(act, param, y.dense(), bias.dense(), null, y.dense(), n, c, hw);
            return new BiasActivation(act, param, null, y);
        }
        Tensor out = y.empty(y.shape);
        b.biasActivation(act, param, y.dense(), bias.dense(), y.dense(), out.dense(), n, c, hw);
        return new BiasActivation(act, param, y, out);
    }

    /**
     * The epilogue over a half product {@code y} [n, c, hw] (a convolution's, which cuDNN stores in the half dtype)
     * and a bias of y's dtype, as a recorded op: y and the bias widened to float32, bias and activation added in
     * float32, the result rounded once to y's dtype. Its backward gives y the gradient act'·g rounded to y's dtype
     * (exact for no activation and ReLU) and the bias its float32 column sums, rounded once. The float32 tensors the
     * activation's derivative reads are kept by the node.
     */
    static Tensor onHalfProduct(String op, Tensor y, Tensor bias, Activation act, float param, int n, int c, int hw) {
        Tensor y32 = Conversions.converted(y, DType.FLOAT32);
        BiasActivation e;
        try (Tensor bias32 = Conversions.converted(bias, DType.FLOAT32)) {
            e = apply(y32, bias32, act, param, n, c, hw);
        } catch (RuntimeException ex) {
            y32.close();
            throw ex;
        }
        Tensor out = Conversions.converted(e.out, y.dtype());
        List<Tensor> saved = act == null ? List.of() : e.pre == null ? List.of(e.out) : List.of(e.pre, e.out);
        if (act == null) {
            e.out.close();  // the derivative is 1: nothing to keep
        }
        return Graph.record(op, out, g -> {
            try (Tensor g32 = Conversions.converted(g, DType.FLOAT32)) {
                Tensor dy = e.productGradient(g32);  // [n, c, hw], float32
                try {
                    Graph.accumulate(y, () -> Conversions.converted(dy, y.dtype()));
                    Graph.accumulate(bias, () -> {
                        Tensor db = Conversions.empty(dy, bias.shape, DType.FLOAT32);
                        dy.backend.channelBiasBackward(dy.dense(), db.dense(), n, c, hw);
                        return db;
                    });
                } finally {
                    if (dy != g32) {
                        dy.close();
                    }
                }
            }
        }, saved, y, bias);
    }

    /** Whether act's derivative needs its input (else it follows from the output alone). */
    private static boolean needsInput(Activation act) {
        return act == Activation.LEAKY_RELU || act == Activation.GELU;
    }

    Tensor output() {
        return out;
    }

    /** The tensors the graph node must keep for {@link #productGradient}. */
    List<Tensor> saved() {
        return pre == null ? List.of() : List.of(pre);
    }

    /**
     * The gradient of the product y from the output's gradient g: g itself without an activation, else a new
     * tensor act'·g (ReLU's derivative from the output: out > 0 exactly where y + bias > 0, NaN giving 0 both ways).
     */
    Tensor productGradient(Tensor g) {
        if (act == null) {
            return g;
        }
        Tensor d = g.empty(g.shape);
        try {
            g.backend.activationBackward(act, param, pre != null ? pre.dense() : out.dense(), out.dense(), g.dense(),
                    d.dense(), n);
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
        return d;
    }
}
