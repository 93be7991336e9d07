package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import java.util.List;
import java.util.function.Consumer;

/** Batch norm (training and inference) and layer norm, each with its fused backward. */
final class Normalisation {
    private Normalisation() {
    }

    /**
     * Batch norm over the channels of x [n, c, h, w] (or [n, c]). Training normalises with batch statistics
     * and updates {@code runningMean}/{@code runningVar} in place (momentum as in PyTorch; their
     * {@link Tensor#version()} goes up); evaluation uses the running statistics (then the input, γ and β still
     * receive gradients).
     */
    static Tensor batchNorm2d(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                              boolean training, float momentum, float eps) {
        for (Tensor t : new Tensor[] {gamma, beta, runningMean, runningVar}) {
            Checks.sameDevice("batchNorm2d", x, t);
        }
        Shape shape = x.shape;
        if (shape.rank() != 4 && shape.rank() != 2) {
            throw new IllegalArgumentException("batchNorm2d takes input [n, c, h, w] or [n, c], got shape " + shape);
        }
        int n = shape.dim(0), c = shape.dim(1), hw = shape.product(2, shape.rank());
        for (Tensor t : new Tensor[] {gamma, beta, runningMean, runningVar}) {
            if (!t.shape.equals(Shape.of(c))) {
                throw new IllegalArgumentException("batchNorm2d: parameter of shape " + t.shape + " for " + c
                        + " channels (input " + shape + ")");
            }
        }
        if (training && (long) n * hw < 2) {
            throw new IllegalArgumentException("batchNorm2d in training needs more than one value per channel, input "
                    + shape);
        }
        var b = x.backend;
        Tensor y = x.empty(shape);
        if (!training) {
            b.batchNormInference(n, c, hw, x.dense(), gamma.dense(), beta.dense(), runningMean.dense(),
                    runningVar.dense(), y.dense(), eps);
            return record("batchNorm2d", y, g -> {
                try (Tensor zero = x.filled(Shape.of(c), 0f); Tensor one = x.filled(Shape.of(c), 1f)) {
                    // dx = g·γ/√(var+ε): the inference transform itself, with zero mean and shift.
                    accumulate(x, () -> {
                        Tensor dx = x.empty(shape);
                        b.batchNormInference(n, c, hw, g.dense(), gamma.dense(), zero.dense(), zero.dense(),
                                runningVar.dense(), dx.dense(), eps);
                        return dx;
                    });
                    // dγ = Σ g·x̂ with x̂ the transform with γ = 1, β = 0; dβ = Σ g.
                    accumulate(gamma, () -> {
                        Tensor dGamma = x.empty(gamma.shape);
                        try (Tensor xhat = x.empty(shape)) {
                            b.batchNormInference(n, c, hw, x.dense(), one.dense(), zero.dense(),
                                    runningMean.dense(), runningVar.dense(), xhat.dense(), eps);
                            b.mul(xhat.dense(), g.dense(), xhat.dense(), xhat.numel());
                            b.channelBiasBackward(xhat.dense(), dGamma.dense(), n, c, hw);
                        }
                        return dGamma;
                    });
                    accumulate(beta, () -> {
                        Tensor dBeta = x.empty(beta.shape);
                        b.channelBiasBackward(g.dense(), dBeta.dense(), n, c, hw);
                        return dBeta;
                    });
                }
            }, x, gamma, beta);
        }
        Checks.notRecorded("batchNorm2d running statistics", runningMean);
        Checks.notRecorded("batchNorm2d running statistics", runningVar);
        Tensor mean = x.empty(Shape.of(c)), invStd = x.empty(Shape.of(c));
        b.batchNormTrain(n, c, hw, x.dense(), gamma.dense(), beta.dense(), y.dense(),
                runningMean.written("batchNorm2d"), runningVar.written("batchNorm2d"), mean.dense(), invStd.dense(),
                momentum, eps);
        runningMean.bumpVersion();
        runningVar.bumpVersion();
        return record("batchNorm2d", y, g -> {
            Tensor dx = x.empty(shape), dGamma = x.empty(gamma.shape), dBeta = x.empty(beta.shape);
            b.batchNormBackward(n, c, hw, x.dense(), g.dense(), gamma.dense(), mean.dense(), invStd.dense(),
                    dx.dense(), dGamma.dense(), dBeta.dense(), eps);
            accumulate(x, dx);
            accumulate(gamma, dGamma);
            accumulate(beta, dBeta);
        }, List.of(mean, invStd), x, gamma, beta);
    }

    /**
     * Layer norm over the last dimension: (x - mean)/sqrt(var + eps)·gamma + beta with the biased variance,
     * as PyTorch's {@code layer_norm}; {@code gamma} and {@code beta} are [C] (or null: 1 and 0).
     */
    static Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        x.checkOpen();
        if (gamma != null) {
            Checks.sameDevice("layerNorm", x, gamma);
        }
        if (beta != null) {
            Checks.sameDevice("layerNorm", x, beta);
        }
        Shape shape = x.shape;
        if (shape.rank() < 1 || shape.dim(-1) < 1) {
            throw new IllegalArgumentException("layerNorm needs a non-empty last dimension, got shape " + shape);
        }
        int cols = shape.dim(-1), rows = Math.toIntExact(x.numel() / cols);
        for (Tensor p : new Tensor[] {gamma, beta}) {
            if (p != null && !p.shape.equals(Shape.of(cols))) {
                throw new IllegalArgumentException("layerNorm: parameter of shape " + p.shape + " for normalised size "
                        + cols + " (input " + shape + ")");
            }
        }
        if (!(eps > 0)) {
            throw new IllegalArgumentException("layerNorm: eps must be > 0, got " + eps);
        }
        var b = x.backend;
        Tensor y = x.empty(shape), mean = x.empty(Shape.of(rows)), rstd = x.empty(Shape.of(rows));
        b.layerNorm(x.dense(), gamma == null ? null : gamma.dense(), beta == null ? null : beta.dense(), y.dense(),
                mean.dense(), rstd.dense(), rows, cols, eps);
        Consumer<Tensor> back = g -> {
            boolean wantG = gamma != null && gamma.needsGrad(), wantB = beta != null && beta.needsGrad();
            Tensor dx = x.empty(shape), dGamma = wantG ? x.empty(gamma.shape) : null;
            Tensor dBeta = wantB ? x.empty(beta.shape) : null;
            b.layerNormBackward(x.dense(), gamma == null ? null : gamma.dense(), mean.dense(), rstd.dense(),
                    g.dense(), dx.dense(), dGamma == null ? null : dGamma.dense(), dBeta == null ? null : dBeta.dense(),
                    rows, cols);
            accumulate(x, dx);
            if (wantG) {
                accumulate(gamma, dGamma);
            }
            if (wantB) {
                accumulate(beta, dBeta);
            }
        };
        List<Tensor> saved = List.of(mean, rstd);
        Tensor[] inputs = gamma != null && beta != null ? new Tensor[] {x, gamma, beta}
                : gamma != null ? new Tensor[] {x, gamma} : beta != null ? new Tensor[] {x, beta} : new Tensor[] {x};
        return record("layerNorm", y, back, saved, inputs);
    }
}
