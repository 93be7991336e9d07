package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

/** Sums and means, over everything or one axis; backward broadcasts the gradient back. */
final class Reductions {
    private Reductions() {
    }

    /** Σ (or the mean) of all elements, shape []. */
    static Tensor sumAll(Tensor x, boolean mean) {
        return reduce(x, mean ? "mean" : "sum", Shape.of(), 1, Math.toIntExact(x.numel()), 1,
                mean ? 1f / x.numel() : 1f);
    }

    /** Σ (or the mean) over {@code axis}, which disappears from the shape. */
    static Tensor sumAxis(Tensor x, int axis, boolean mean) {
        int a = x.shape.axis(axis);
        return reduce(x, mean ? "mean" : "sum", x.shape.without(a), x.shape.product(0, a), x.shape.dim(a),
                x.shape.product(a + 1, x.shape.rank()), mean ? 1f / x.shape.dim(a) : 1f);
    }

    /** factor·Σ over the middle of x viewed as [outer, dim, inner]; backward broadcasts the gradient back. */
    private static Tensor reduce(Tensor x, String op, Shape outShape, int outer, int dim, int inner, float factor) {
        x.checkOpen();
        Tensor out = x.empty(outShape);
        x.backend.sum(x.dense(), out.dense(), outer, dim, inner);
        if (factor != 1f) {
            x.backend.axpby(factor, out.dense(), 0f, out.dense(), out.dense(), out.numel());
        }
        return record(op, out, g -> accumulate(x, () -> {
            Tensor dx = x.empty(x.shape);
            x.backend.broadcast(g.dense(), dx.dense(), outer, dim, inner);
            if (factor != 1f) {
                x.backend.axpby(factor, dx.dense(), 0f, dx.dense(), dx.dense(), dx.numel());
            }
            return dx;
        }), x);
    }

    /** Column sums of g viewed as [rows, cols], shaped {@code shape}: the gradient of a bias. Not recorded. */
    static Tensor sumRows(Tensor g, int rows, int cols, Shape shape) {
        Tensor db = g.empty(shape);
        g.backend.sum(g.dense(), db.dense(), 1, rows, cols);
        return db;
    }
}
