package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import io.jdl.backend.Activation;
import io.jdl.device.DType;
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
        Tensor out = Conversions.empty(a, rank == 3 ? Shape.of(batch, m, n) : Shape.of(m, n), a.dtype());
        a.backend.matmul(transA, transB, batch, m, n, k, a.dense(), b.dense(), out.dense());
        return record("matmul", out, g -> {
            // C = op(A)·op(B): dop(A) = dC·op(B)ᵀ, dop(B) = op(A)ᵀ·dC, transposed back where A or B was.
            accumulate(a, () -> transA ? b.matmul(g, transB, true) : g.matmul(b, false, !transB));
            accumulate(b, () -> transB ? g.matmul(a, true, transA) : a.matmul(g, !transA, false));
        }, a, b);
    }

    /**
     * act(x·Wᵀ + b), PyTorch's linear followed by an activation: x is [.., in], {@code weight} [out, in],
     * {@code bias} [out] or null, {@code act} null for none ({@code param}: leaky ReLU's slope), all of one float
     * dtype. Bias and activation are one pass ({@link BiasActivation}). Backward: dY = act'·g, then dX = dY·W,
     * dW = dYᵀ·X, db = column sums of dY, all as GEMMs on the GPU.
     *
     * <p>Half operands: the products read them as they are (cublasGemmEx, float32 accumulation). Without bias and
     * activation the product is stored in the half dtype, rounded once. With either, the product is stored in
     * float32 (cublasGemmEx's float32 C) and one epilogue call reads it with the half bias, adds bias and
     * activation in float32 and writes the half output, rounded once: the float32 op on the widened inputs, rounded
     * once, bit for bit (PyTorch rounds after the product's bias and again after a separate activation). For no
     * activation and ReLU the gradient dY of the product is the half gradient or 0, exact in the half dtype, so it
     * is computed in it and the backward products stay half; for the other activations dY is float32 and they run
     * in float32 on widened x and W, keeping the numbers exact.
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
        DType d = x.dtype();
        boolean halfGradient = act == null || act == Activation.RELU;  // act'·g is g or 0
        boolean productInDType = d == DType.FLOAT32 || bias == null && act == null;
        return linear(x, weight, bias, act, param, productInDType ? d : DType.FLOAT32, halfGradient);
    }

    /**
     * {@link #linear(Tensor, Tensor, Tensor, Activation, float)} with the product stored in {@code productType}
     * (x's dtype, or float32 for half x), the output in x's dtype; {@code halfGradient}: whether the gradient of the
     * product is exact in x's dtype (then computed in it).
     */
    private static Tensor linear(Tensor x, Tensor weight, Tensor bias, Activation act, float param, DType productType,
                                 boolean halfGradient) {
        if (bias == null && act != null) {
            return Pointwise.activation(linear(x, weight, null, null, 0f, productType, halfGradient), act, param,
                    x.dtype());
        }
        Shape s = x.shape;
        int in = weight.shape.dim(1), outF = weight.shape.dim(0), rows = Math.toIntExact(x.numel() / Math.max(1, in));
        int[] dims = s.dims();
        dims[dims.length - 1] = outF;
        Tensor y = Conversions.empty(x, Shape.of(dims), productType);
        x.backend.matmul(false, true, 1, rows, outF, in, x.dense(), weight.dense(), y.dense());
        BiasActivation epilogue = bias == null ? null
                : BiasActivation.apply(y, bias, act, param, rows, outF, 1, x.dtype());
        DType gradientType = halfGradient ? x.dtype() : productType;
        Consumer<Tensor> back = g -> {
            Tensor dy = epilogue == null ? g : epilogue.productGradient(g, gradientType);  // [.., out]
            // the backward products' operands, of one dtype: dy, x and W as they are, or made to match
            Tensor dyOp = dy, xOp = x, wOp = weight;
            try {
                if (dy.dtype() != x.dtype()) {
                    if (halfGradient) {
                        dyOp = Conversions.converted(dy, x.dtype());  // exact: dy is g or 0
                    } else {
                        xOp = Conversions.converted(x, dy.dtype());
                        wOp = Conversions.converted(weight, dy.dtype());
                    }
                }
                Tensor dyG = dyOp, xG = xOp, wG = wOp;
                accumulate(x, () -> {
                    Tensor dx = Conversions.empty(x, s, dyG.dtype());
                    x.backend.matmul(false, false, 1, rows, in, outF, dyG.dense(), wG.dense(), dx.dense());
                    return dx;
                });
                accumulate(weight, () -> {
                    Tensor dw = Conversions.empty(x, weight.shape, dyG.dtype());
                    x.backend.matmul(true, false, 1, outF, in, rows, dyG.dense(), xG.dense(), dw.dense());
                    return dw;
                });
                if (bias != null) {
                    accumulate(bias, () -> Reductions.sumRows(dy, rows, outF, bias.shape, bias.dtype()));
                }
            } finally {
                closeIfNew(dyOp, dy);
                closeIfNew(xOp, x);
                closeIfNew(wOp, weight);
                closeIfNew(dy, g);
            }
        };
        return bias == null ? record("linear", y, back, x, weight)
                : record("linear", epilogue.output(), back, epilogue.saved(), x, weight, bias);
    }

    /** Closes {@code t} unless it is {@code original} (a temporary made from it). */
    private static void closeIfNew(Tensor t, Tensor original) {
        if (t != original) {
            t.close();
        }
    }
}
