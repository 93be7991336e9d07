package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import io.jdl.backend.Activation;
import java.util.Arrays;
import java.util.function.Consumer;

/** Matrix products: matmul (batched, broadcasting as {@code torch.matmul}) and linear. */
final class LinearAlgebra {
    private LinearAlgebra() {
    }

    /**
     * op(a)·op(b), where op transposes the last two dimensions when asked: a is [.., m, k] ([.., k, m] when
     * {@code transA}), b [.., k, n] ([.., n, k] when {@code transB}). The leading (batch) dimensions broadcast;
     * two dense 2-d or 3-d operands with equal batch run as one (batched) GEMM, [.., m, k]·[k, n] as one GEMM
     * over all rows, the rest read their operands in place over the broadcast batch ({@link BroadcastMatmul}).
     */
    static Tensor matmul(Tensor a, Tensor b, boolean transA, boolean transB) {
        Checks.sameDevice("matmul", a, b);
        int ra = a.shape.rank(), rb = b.shape.rank();
        if (ra < 2 || rb < 2) {
            throw new IllegalArgumentException("matmul takes tensors of rank >= 2 ([.., m, k] and [.., k, n]), got "
                    + "shapes " + a.shape + " and " + b.shape);
        }
        int k = transA ? a.shape.dim(-2) : a.shape.dim(-1);
        int k2 = transB ? b.shape.dim(-1) : b.shape.dim(-2);
        if (k != k2) {
            throw new IllegalArgumentException("matmul inner dimensions differ: shapes " + a.shape + (transA ? "ᵀ" : "")
                    + " and " + b.shape + (transB ? "ᵀ" : "") + " (" + k + " vs " + k2 + ")");
        }
        boolean dense = a.broadcast == null && b.broadcast == null;
        if (dense && ra == rb && (ra == 2 || ra == 3 && a.shape.dim(0) == b.shape.dim(0))) {
            return batched(a, b, transA, transB);
        }
        int[] batchA = Arrays.copyOf(a.shape.dims(), ra - 2), batchB = Arrays.copyOf(b.shape.dims(), rb - 2);
        int[] batch = Broadcast.shape("matmul batch dimensions of " + a.shape + " and " + b.shape, batchA, batchB);
        if (rb == 2 && !transA && a.broadcast == null && Arrays.equals(batchA, batch)) {
            // [.., m, k]·[k, n]: one GEMM over all rows, as a linear layer does.
            int[] outDims = a.shape.dims();
            outDims[ra - 1] = transB ? b.shape.dim(0) : b.shape.dim(1);
            // Intermediates closed here, not by a scope: backward() runs this too, where no scope adopts them.
            try (Tensor rows = a.reshape(-1, k); Tensor y = batched(rows, b, false, transB)) {
                return y.reshape(outDims);
            }
        }
        return BroadcastMatmul.matmul(a, b, batch, transA, transB);
    }

    /** Two 2-d operands, or two 3-d operands with the same batch: one (strided-batched) GEMM. */
    private static Tensor batched(Tensor a, Tensor b, boolean transA, boolean transB) {
        int rank = a.shape.rank(), batch = rank == 3 ? a.shape.dim(0) : 1;
        int m = transA ? a.shape.dim(-1) : a.shape.dim(-2), k = transA ? a.shape.dim(-2) : a.shape.dim(-1);
        int n = transB ? b.shape.dim(-2) : b.shape.dim(-1);
        Tensor out = a.empty(rank == 3 ? Shape.of(batch, m, n) : Shape.of(m, n));
        a.backend.matmul(transA, transB, batch, m, n, k, a.dense(), b.dense(), out.dense());
        return record("matmul", out, g -> {
            // C = op(A)·op(B): dop(A) = dC·op(B)ᵀ, dop(B) = op(A)ᵀ·dC, transposed back where A or B was.
            accumulate(a, () -> transA ? b.matmul(g, transB, true) : g.matmul(b, false, !transB));
            accumulate(b, () -> transB ? g.matmul(a, true, transA) : a.matmul(g, !transA, false));
        }, a, b);
    }

    /**
     * act(x·Wᵀ + b), PyTorch's linear followed by an activation: x is [.., in], {@code weight} [out, in],
     * {@code bias} [out] or null, {@code act} null for none ({@code param}: leaky ReLU's slope). Bias and
     * activation are one pass ({@link BiasActivation}). Backward: dY = act'·g, then dX = dY·W, dW = dYᵀ·X,
     * db = column sums of dY, all as GEMMs on the GPU.
     */
    static Tensor linear(Tensor x, Tensor weight, Tensor bias, Activation act, float param) {
        Checks.sameDevice("linear", x, weight);
        if (bias != null) {
            Checks.sameDevice("linear", x, bias);
        }
        Shape s = x.shape;
        if (s.rank() < 1 || weight.shape.rank() != 2 || weight.shape.dim(1) != s.dim(-1)
                || (bias != null && (bias.shape.rank() != 1 || bias.shape.dim(0) != weight.shape.dim(0)))) {
            throw new IllegalArgumentException("linear: input " + s + ", weight " + weight.shape + " and bias "
                    + (bias == null ? "none" : bias.shape) + " do not fit ([.., in], [out, in], [out])");
        }
        if (bias == null && act != null) {
            return Pointwise.activation(linear(x, weight, null, null, 0f), act, param);
        }
        int in = weight.shape.dim(1), outF = weight.shape.dim(0), rows = Math.toIntExact(x.numel() / Math.max(1, in));
        int[] dims = s.dims();
        dims[dims.length - 1] = outF;
        Tensor y = x.empty(Shape.of(dims));
        x.backend.matmul(false, true, 1, rows, outF, in, x.dense(), weight.dense(), y.dense());
        BiasActivation epilogue = bias == null ? null : BiasActivation.apply(y, bias, act, param, rows, outF, 1);
        Consumer<Tensor> back = g -> {
            Tensor dy = epilogue == null ? g : epilogue.productGradient(g);  // [.., out]
            try {
                accumulate(x, () -> {
                    Tensor dx = x.empty(s);
                    x.backend.matmul(false, false, 1, rows, in, outF, dy.dense(), weight.dense(), dx.dense());
                    return dx;
                });
                accumulate(weight, () -> {
                    Tensor dw = x.empty(weight.shape);
                    x.backend.matmul(true, false, 1, outF, in, rows, dy.dense(), x.dense(), dw.dense());
                    return dw;
                });
                if (bias != null) {
                    accumulate(bias, () -> Reductions.sumRows(dy, rows, outF, bias.shape));
                }
            } finally {
                if (dy != g) {
                    dy.close();
                }
            }
        };
        return bias == null ? record("linear", y, back, x, weight)
                : record("linear", epilogue.output(), back, epilogue.saved(), x, weight, bias);
    }
}
