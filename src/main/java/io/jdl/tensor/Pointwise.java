package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import io.jdl.backend.Activation;
import io.jdl.device.DType;
import java.util.List;

/**
 * Elementwise ops: add and sub (with broadcasting), mul, scale, bias, activations, softmax, dropout.
 *
 * <p>Dtypes: each op takes its operands in any float dtype as they are and writes its result in {@code dtype}
 * ({@link DTypeRules#pointwise} decides it) in one backend call, the primitive widening what it reads and rounding
 * what it writes once. Backward gives each input its gradient in the input's dtype, again in one call per gradient:
 * the float32 op's gradient on the widened values, rounded once. The derivatives that read the output (sigmoid's
 * {@code y·(1 - y)}, tanh's {@code 1 - y²}, softmax's and logSoftmax's) read it in float32: a half output's float32
 * values are recomputed from x in the backward (one more call), so the gradients are those of the float32 op, bit
 * for bit, where PyTorch's half kernels read the rounded output.
 */
final class Pointwise {
    private Pointwise() {
    }

    /** a + beta·b (beta is 1 for add, -1 for sub); shapes broadcast, gradients are summed back to each shape. */
    static Tensor add(Tensor a, Tensor b, float beta, DType dtype) {
        String op = beta == 1f ? "add" : "sub";
        Checks.sameDevice(op, a, b);
        Tensor broadcast = broadcasting(op, a, b, false, beta, dtype, (x, y) -> add(x, y, beta, dtype));
        if (broadcast != null) {
            return broadcast;
        }
        Tensor out = Conversions.empty(a, a.shape, dtype);
        a.backend.axpby(1f, a.dense(), beta, b.dense(), out.dense(), a.numel());
        return record(op, out, g -> {
            accumulate(a, () -> scaled(g, 1f, a.dtype()));
            accumulate(b, () -> scaled(g, beta, b.dtype()));
        }, a, b);
    }

    /** Elementwise product, broadcasting. */
    static Tensor mul(Tensor a, Tensor b, DType dtype) {
        Checks.sameDevice("mul", a, b);
        Tensor broadcast = broadcasting("mul", a, b, true, 1f, dtype, (x, y) -> mul(x, y, dtype));
        if (broadcast != null) {
            return broadcast;
        }
        Tensor out = Conversions.empty(a, a.shape, dtype);
        a.backend.mul(a.dense(), b.dense(), out.dense(), a.numel());
        return record("mul", out, g -> {
            accumulate(a, () -> mul(g, b, a.dtype()));
            accumulate(b, () -> mul(g, a, b.dtype()));
        }, a, b);
    }

    /**
     * a + beta·b or a·b when the shapes differ or an operand is a broadcast view: over the broadcast shape, reading
     * the operands in place ({@link BroadcastBinary}); where the broadcast does not merge to the kernel's 4
     * dimensions, {@code op} on both operands expanded to it (views, expand's backward summing back), which
     * takes the dense path and materialises them; half operands are converted to float32 first there (recorded),
     * so that their gradients are summed in float32 and rounded once. Null for equal shapes of dense tensors, or
     * when the operands already have the broadcast shape and the kernel cannot take them (the dense path then).
     */
    private static Tensor broadcasting(String name, Tensor a, Tensor b, boolean multiply, float beta, DType dtype,
                                       java.util.function.BinaryOperator<Tensor> op) {
        boolean sameShape = a.shape.equals(b.shape);
        if (sameShape && a.broadcast == null && b.broadcast == null) {
            return null;
        }
        int[] dims = Broadcast.shape(name + ": shapes", a.shape.dims(), b.shape.dims());
        Tensor direct = BroadcastBinary.apply(name, a, b, dims, multiply, beta, dtype);
        if (direct != null || sameShape) {
            return direct;
        }
        try (TensorScope scope = TensorScope.open()) {
            return scope.keep(op.apply(expanded(a, dims), expanded(b, dims)));
        }
    }

    /** t as a float32 view of shape {@code dims}. */
    private static Tensor expanded(Tensor t, int[] dims) {
        Tensor f = t.dtype() == DType.FLOAT32 ? t : Conversions.to(t, DType.FLOAT32);
        return f.shape.equals(Shape.of(dims)) ? f : f.expand(dims);
    }

    /** Every element times {@code factor}, in {@code dtype}. */
    static Tensor scale(Tensor x, float factor, DType dtype) {
        x.checkOpen();
        Tensor out = scaled(x, factor, dtype);
        return record("scale", out, g -> accumulate(x, () -> scaled(g, factor, x.dtype())), x);
    }

    /** factor·t as a new tensor of {@code dtype}, not recorded: one axpby reading t in its dtype. */
    static Tensor scaled(Tensor t, float factor, DType dtype) {
        Tensor out = Conversions.empty(t, t.shape, dtype);
        t.backend.axpby(factor, t.dense(), 0f, t.dense(), out.dense(), t.numel());
        return out;
    }

    /** x[.., c] + bias[c]: adds a bias of the last dimension's size to every row. */
    static Tensor addBias(Tensor x, Tensor bias, DType dtype) {
        Checks.sameDevice("addBias", x, bias);
        if (x.shape.rank() < 1 || bias.shape.rank() != 1 || bias.shape.dim(0) != x.shape.dim(-1)) {
            throw new IllegalArgumentException("addBias: bias of shape " + bias.shape
                    + " does not match the last dimension of shape " + x.shape);
        }
        int cols = x.shape.dim(-1), rows = cols == 0 ? 0 : Math.toIntExact(x.numel() / cols);
        Tensor out = Conversions.empty(x, x.shape, dtype);
        x.backend.addBias(x.dense(), bias.dense(), out.dense(), rows, cols);
        return record("addBias", out, g -> {
            accumulate(x, () -> g.dtype() == x.dtype() ? g.detach() : Conversions.converted(g, x.dtype()));
            accumulate(bias, () -> Reductions.sumRows(g, rows, cols, bias.shape, bias.dtype()));
        }, x, bias);
    }

    /** y = act(x) in {@code dtype}; backward from x and y in one kernel, dx in x's dtype. */
    static Tensor activation(Tensor x, Activation act, float param, DType dtype) {
        x.checkOpen();
        Tensor y = Conversions.empty(x, x.shape, dtype);
        x.backend.activation(act, param, x.dense(), y.dense(), x.numel());
        return record(act.name().toLowerCase(java.util.Locale.ROOT), y, g -> accumulate(x, () -> {
            Tensor dx = Conversions.empty(x, x.shape, x.dtype());
            Tensor y32 = fromOutput(act) ? float32Output(y, out -> x.backend.activation(act, param, x.dense(), out,
                    x.numel())) : null;
            try {
                x.backend.activationBackward(act, param, x.dense(), (y32 != null ? y32 : y).dense(), g.dense(),
                        dx.dense(), x.numel());
            } finally {
                closeIfNotNull(y32);
            }
            return dx;
        }), x);
    }

    /** Whether act's derivative reads its output (else its input). */
    static boolean fromOutput(Activation act) {
        return act == Activation.SIGMOID || act == Activation.TANH;
    }

    /**
     * For a derivative that reads the output y of an op: null when y is float32 (read it), else a new float32 tensor
     * (the caller's to close) into which {@code recompute} writes the op's float32 values again, from its inputs as
     * they are, so that the derivative reads what the float32 op would.
     */
    static Tensor float32Output(Tensor y, java.util.function.Consumer<io.jdl.backend.Storage> recompute) {
        if (y.dtype() == DType.FLOAT32) {
            return null;
        }
        Tensor y32 = y.empty(y.shape);
        try {
            recompute.accept(y32.dense());
        } catch (RuntimeException e) {
            y32.close();
            throw e;
        }
        return y32;
    }

    private static void closeIfNotNull(Tensor t) {
        if (t != null) {
            t.close();
        }
    }

    /** Softmax (or log-softmax) over the last dimension, in {@code dtype}; backward from the output. */
    static Tensor softmax(Tensor x, boolean log, DType dtype) {
        x.checkOpen();
        if (x.shape.rank() < 1) {
            throw new IllegalArgumentException("softmax needs at least one dimension, got shape " + x.shape);
        }
        int cols = x.shape.dim(-1), rows = cols == 0 ? 0 : Math.toIntExact(x.numel() / cols);
        Tensor y = Conversions.empty(x, x.shape, dtype);
        x.backend.softmax(log, x.dense(), y.dense(), rows, cols);
        return record(log ? "logSoftmax" : "softmax", y, g -> accumulate(x, () -> {
            Tensor dx = Conversions.empty(x, x.shape, x.dtype());
            Tensor y32 = float32Output(y, out -> x.backend.softmax(log, x.dense(), out, rows, cols));
            try {
                x.backend.softmaxBackward(log, (y32 != null ? y32 : y).dense(), g.dense(), dx.dense(), rows, cols);
            } finally {
                closeIfNotNull(y32);
            }
            return dx;
        }), x);
    }

    /**
     * Inverted dropout: zeroes each element with probability {@code p} and scales the rest by 1/(1-p),
     * with a mask that depends only on ({@code seed}, element index), identical on CPU and GPU. The mask is
     * float32 whatever x's dtype (1/(1-p) would not survive rounding); y has x's dtype.
     * Returns a copy when {@code training} is false or p is 0 (the {@code Dropout} module returns its input).
     */
    static Tensor dropout(Tensor x, float p, long seed, boolean training) {
        x.checkOpen();
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        }
        if (!training || p == 0) {
            return scale(x, 1f, x.dtype());
        }
        Tensor y = Conversions.empty(x, x.shape, x.dtype()), mask = x.empty(x.shape);
        x.backend.dropout(x.dense(), y.dense(), mask.dense(), x.numel(), p, seed);
        return record("dropout", y, g -> accumulate(x, () -> mul(g, mask, x.dtype())), List.of(mask), x);
    }
}
