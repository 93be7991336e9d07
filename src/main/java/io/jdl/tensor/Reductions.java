package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import io.jdl.device.DType;

/**
 * Sums and means, over everything or one axis; backward broadcasts the gradient back. Half inputs are read as they
 * are and the result is written in {@code dtype} (see {@link DTypeRules#pointwise}): the sum is float32 and rounded
 * once, a mean's scaling too (the sum then waits in a float32 scratch).
 */
final class Reductions {
    private Reductions() {
    }

    /** Σ (or the mean) of all elements, shape [], in {@code dtype}. */
    static Tensor sumAll(Tensor x, boolean mean, DType dtype) {
        return reduce(x, mean ? "mean" : "sum", Shape.of(), 1, Math.toIntExact(x.numel()), 1,
                mean ? 1f / x.numel() : 1f, dtype);
    }

    /** Σ (or the mean) over {@code axis}, which disappears from the shape, in {@code dtype}. */
    static Tensor sumAxis(Tensor x, int axis, boolean mean, DType dtype) {
        int a = x.shape.axis(axis);
        return reduce(x, mean ? "mean" : "sum", x.shape.without(a), x.shape.product(0, a), x.shape.dim(a),
                x.shape.product(a + 1, x.shape.rank()), mean ? 1f / x.shape.dim(a) : 1f, dtype);
    }

    /** factor·Σ over the middle of x viewed as [outer, dim, inner]; backward broadcasts the gradient back. */
    private static Tensor reduce(Tensor x, String op, Shape outShape, int outer, int dim, int inner, float factor,
                                 DType dtype) {
        x.checkOpen();
        Tensor out = Conversions.empty(x, outShape, dtype);
        if (factor == 1f) {
            x.backend.sum(x.dense(), out.dense(), outer, dim, inner);
        } else {
            // the sum stays float32 until scaled: a half result is rounded once
            Tensor sum = dtype == DType.FLOAT32 ? out : x.empty(outShape);
            try {
                x.backend.sum(x.dense(), sum.dense(), outer, dim, inner);
                x.backend.axpby(factor, sum.dense(), 0f, sum.dense(), out.dense(), out.numel());
            } finally {
                if (sum != out) {
                    sum.close();
                }
            }
        }
        return record(op, out, g -> accumulate(x, () -> {
            Tensor dx = Conversions.empty(x, x.shape, x.dtype());
            if (factor == 1f) {
                x.backend.broadcast(g.dense(), dx.dense(), outer, dim, inner);
                return dx;
            }
            // factor·g in float32 (out's size), then repeated into dx: each element rounded once, as factor·g
            // repeated in float32 and rounded
            try (Tensor scaledG = Pointwise.scaled(g, factor, DType.FLOAT32)) {
                x.backend.broadcast(scaledG.dense(), dx.dense(), outer, dim, inner);
            }
            return dx;
        }), x);
    }

    /** Column sums of g viewed as [rows, cols], shaped {@code shape}, in {@code dtype}: the gradient of a bias. Not recorded. */
    static Tensor sumRows(Tensor g, int rows, int cols, Shape shape, DType dtype) {
        Tensor db = Conversions.empty(g, shape, dtype);
        g.backend.sum(g.dense(), db.dense(), 1, rows, cols);
        return db;
    }
}
