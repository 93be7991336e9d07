package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import io.jdl.backend.Activation;
import java.util.List;

/** Elementwise ops: add and sub (with broadcasting), mul, scale, bias, activations, softmax, dropout. */
final class Pointwise {
    private Pointwise() {
    }

    /** a + beta·b (beta is 1 for add, -1 for sub); shapes broadcast, gradients are summed back to each shape. */
    static Tensor add(Tensor a, Tensor b, float beta) {
        String op = beta == 1f ? "add" : "sub";
        Checks.sameDevice(op, a, b);
        Tensor broadcast = broadcasting(op, a, b, false, beta, (x, y) -> add(x, y, beta));
        if (broadcast != null) {
            return broadcast;
        }
        Tensor out = a.empty(a.shape);
        a.backend.axpby(1f, a.dense(), beta, b.dense(), out.dense(), a.numel());
        return record(op, out, g -> {
            accumulate(a, () -> g.scale(1f));
            accumulate(b, () -> g.scale(beta));
        }, a, b);
    }

    /** Elementwise product, broadcasting. */
    static Tensor mul(Tensor a, Tensor b) {
        Checks.sameDevice("mul", a, b);
        Tensor broadcast = broadcasting("mul", a, b, true, 1f, Pointwise::mul);
        if (broadcast != null) {
            return broadcast;
        }
        Tensor out = a.empty(a.shape);
        a.backend.mul(a.dense(), b.dense(), out.dense(), a.numel());
        return record("mul", out, g -> {
            accumulate(a, () -> g.mul(b));
            accumulate(b, () -> g.mul(a));
        }, a, b);
    }

    /**
     * a + beta·b or a·b when the shapes differ or an operand is a broadcast view: over the broadcast shape, reading
     * the operands in place ({@link BroadcastBinary}); where the broadcast does not merge to the kernel's 4
     * dimensions, {@code op} on both operands expanded to it (views, expand's backward summing back), which
     * takes the dense path and materialises them. Null for equal shapes of dense tensors, or when the
     * operands already have the broadcast shape and the kernel cannot take them (the dense path then).
     */
    private static Tensor broadcasting(String name, Tensor a, Tensor b, boolean multiply, float beta,
                                       java.util.function.BinaryOperator<Tensor> op) {
        boolean sameShape = a.shape.equals(b.shape);
        if (sameShape && a.broadcast == null && b.broadcast == null) {
            return null;
        }
        int[] dims = Broadcast.shape(name + ": shapes", a.shape.dims(), b.shape.dims());
        Tensor direct = BroadcastBinary.apply(name, a, b, dims, multiply, beta);
        if (direct != null || sameShape) {
            return direct;
        }
        try (TensorScope scope = TensorScope.open()) {
            Tensor ea = a.shape.equals(Shape.of(dims)) ? a : a.expand(dims);
            Tensor eb = b.shape.equals(Shape.of(dims)) ? b : b.expand(dims);
            return scope.keep(op.apply(ea, eb));
        }
    }

    /** Every element times {@code factor}. */
    static Tensor scale(Tensor x, float factor) {
        x.checkOpen();
        Tensor out = x.empty(x.shape);
        x.backend.axpby(factor, x.dense(), 0f, x.dense(), out.dense(), x.numel());
        return record("scale", out, g -> accumulate(x, () -> g.scale(factor)), x);
    }

    /** x[.., c] + bias[c]: adds a bias of the last dimension's size to every row. */
    static Tensor addBias(Tensor x, Tensor bias) {
        Checks.sameDevice("addBias", x, bias);
        if (x.shape.rank() < 1 || bias.shape.rank() != 1 || bias.shape.dim(0) != x.shape.dim(-1)) {
            throw new IllegalArgumentException("addBias: bias of shape " + bias.shape
                    + " does not match the last dimension of shape " + x.shape);
        }
        int cols = x.shape.dim(-1), rows = cols == 0 ? 0 : Math.toIntExact(x.numel() / cols);
        Tensor out = x.empty(x.shape);
        x.backend.addBias(x.dense(), bias.dense(), out.dense(), rows, cols);
        return record("addBias", out, g -> {
            accumulate(x, g::detach);
            accumulate(bias, () -> Reductions.sumRows(g, rows, cols, bias.shape));
        }, x, bias);
    }

    /** y = act(x); backward from x and y in one kernel. */
    static Tensor activation(Tensor x, Activation act, float param) {
        x.checkOpen();
        Tensor y = x.empty(x.shape);
        x.backend.activation(act, param, x.dense(), y.dense(), x.numel());
        return record(act.name().toLowerCase(java.util.Locale.ROOT), y, g -> accumulate(x, () -> {
            Tensor dx = x.empty(x.shape);
            x.backend.activationBackward(act, param, x.dense(), y.dense(), g.dense(), dx.dense(), x.numel());
            return dx;
        }), x);
    }

    /** Softmax (or log-softmax) over the last dimension; backward from the output. */
    static Tensor softmax(Tensor x, boolean log) {
        x.checkOpen();
        if (x.shape.rank() < 1) {
            throw new IllegalArgumentException("softmax needs at least one dimension, got shape " + x.shape);
        }
        int cols = x.shape.dim(-1), rows = cols == 0 ? 0 : Math.toIntExact(x.numel() / cols);
        Tensor y = x.empty(x.shape);
        x.backend.softmax(log, x.dense(), y.dense(), rows, cols);
        return record(log ? "logSoftmax" : "softmax", y, g -> accumulate(x, () -> {
            Tensor dx = x.empty(x.shape);
            x.backend.softmaxBackward(log, y.dense(), g.dense(), dx.dense(), rows, cols);
            return dx;
        }), x);
    }

    /**
     * Inverted dropout: zeroes each element with probability {@code p} and scales the rest by 1/(1-p),
     * with a mask that depends only on ({@code seed}, element index), identical on CPU and GPU.
     * Returns a copy when {@code training} is false or p is 0 (the {@code Dropout} module returns its input).
     */
    static Tensor dropout(Tensor x, float p, long seed, boolean training) {
        x.checkOpen();
        if (!(p >= 0 && p < 1)) {
            throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        }
        if (!training || p == 0) {
            return scale(x, 1f);
        }
        Tensor y = x.empty(x.shape), mask = x.empty(x.shape);
        x.backend.dropout(x.dense(), y.dense(), mask.dense(), x.numel(), p, seed);
        return record("dropout", y, g -> accumulate(x, () -> g.mul(mask)), List.of(mask), x);
    }
}
