package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import java.util.List;

/** Loss functions, each a scalar: softmax cross-entropy and mean squared error. */
final class Losses {
    /** PyTorch's default {@code ignore_index}: a target equal to it contributes nothing. */
    static final int DEFAULT_IGNORE_INDEX = -100;

    private Losses() {
    }

    /**
     * Mean cross-entropy of logits [rows, classes] (or [.., classes]: the class axis is the <b>last</b> one,
     * where PyTorch's {@code cross_entropy} takes [N, C, ..] with classes second) against integer class
     * targets, averaged over the rows whose target is not {@code ignoreIndex} (0 when every row is ignored).
     */
    static Tensor crossEntropy(Tensor x, int[] targets, int ignoreIndex) {
        x.checkOpen();
        Shape shape = x.shape;
        if (shape.rank() < 2) {
            throw new IllegalArgumentException("crossEntropy needs logits of rank >= 2 ([rows, classes]), got shape "
                    + shape);
        }
        int classes = shape.dim(-1), rows = Math.toIntExact(x.numel() / Math.max(1, classes));
        if (Checks.notNull("crossEntropy", "targets", targets).length != rows) {
            throw new IllegalArgumentException("crossEntropy: " + targets.length + " targets for logits of shape "
                    + shape + " (" + rows + " rows)");
        }
        int count = 0;
        for (int i = 0; i < rows; i++) {
            int t = targets[i];
            if (t == ignoreIndex) {
                continue;
            }
            if (t < 0 || t >= classes) {
                throw new IllegalArgumentException("crossEntropy: target " + t + " at row " + i + " is outside [0, "
                        + classes + ") for " + classes + " classes (logits " + shape + ", ignore index " + ignoreIndex
                        + ")");
            }
            count++;
        }
        int[] tg = targets.clone();
        float scale = count == 0 ? 0f : 1f / count;
        var b = x.backend;
        // One launch each way on CUDA: the forward writes the mean and saves each row's log-sum-exp [rows]; the
        // backward rebuilds softmax from it and applies g (a device scalar) in the same pass.
        Tensor out = x.empty(Shape.of());
        Tensor logSumExp = null;
        try {
            logSumExp = x.empty(Shape.of(rows));
            b.crossEntropy(x.dense(), tg, logSumExp.dense(), out.dense(), rows, classes, ignoreIndex, scale);
        } catch (RuntimeException e) {
            out.close();
            if (logSumExp != null) {
                logSumExp.close();
            }
            throw e;
        }
        Tensor lse = logSumExp;
        return record("crossEntropy", out, g -> accumulate(x, () -> {
            Tensor d = x.empty(shape);
            try {
                b.crossEntropyBackward(x.dense(), tg, lse.dense(), g.dense(), d.dense(), rows, classes, ignoreIndex,
                        scale);
            } catch (RuntimeException e) {
                d.close();
                throw e;
            }
            return d;
        }), List.of(lse), x);
    }

    /** Mean squared error mean((x - target)²), a scalar. */
    static Tensor mse(Tensor x, Tensor target) {
        Checks.sameShape("mse", x, target);
        var b = x.backend;
        long n = x.numel();
        Tensor diff = x.empty(x.shape);
        b.axpby(1f, x.dense(), -1f, target.dense(), diff.dense(), n);
        Tensor out = x.empty(Shape.of());
        try (Tensor sq = x.empty(x.shape)) {
            b.mul(diff.dense(), diff.dense(), sq.dense(), n);
            b.sum(sq.dense(), out.dense(), 1, Math.toIntExact(n), 1);
            b.axpby(1f / n, out.dense(), 0f, out.dense(), out.dense(), 1);
        }
        return record("mse", out, g -> {
            // d/dx = 2/n·(x - t)·g; d/dt is its negative.
            Tensor dx = x.empty(x.shape);
            b.mulScalar(diff.dense(), g.dense(), dx.dense(), n);
            b.axpby(2f / n, dx.dense(), 0f, dx.dense(), dx.dense(), n);
            accumulate(target, () -> dx.scale(-1f));
            accumulate(x, dx);
        }, List.of(diff), x, target);
    }
}
