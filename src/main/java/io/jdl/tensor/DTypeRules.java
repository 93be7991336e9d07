package io.jdl.tensor;

import io.jdl.device.DType;
import java.util.function.BiFunction;
import java.util.function.BinaryOperator;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * Which dtypes each op takes, and how ops run on bfloat16 / float16: the arithmetic of PyTorch's half kernels, each
 * element widened to float32, computed in float32 and rounded once (to nearest even) into the result's dtype, the
 * same on the CPU and on a GPU. Three ways to get it:
 * <ul>
 *   <li>the pointwise ops ({@link #pointwise}: add, sub, mul, scale, addBias, the activations, dropout, softmax,
 *       logSoftmax, sum, mean, gradient accumulation) hand the half tensors to their backend primitives, which take
 *       every float dtype per operand (see {@code Backend}): one call, no float32 copies; their gradients come
 *       back in each input's dtype from the same primitives;</li>
 *   <li>the matrix products and convolutions ({@link #lowPrecision}) likewise hand half data to cublasGemmEx and
 *       cuDNN's pseudo-half convolutions;</li>
 *   <li>every other op ({@link #unary}, {@link #promoted}, {@link #same}, {@link #normalised}) converts its half
 *       inputs to float32 (exactly), runs the float32 op and rounds the result, the conversions recorded so that
 *       gradients flow back in the inputs' dtypes.</li>
 * </ul>
 * Float32 inputs take the float32 op directly, with nothing added.
 *
 * <p>Under an {@link Autocast} scope the ops of its lists change dtype first: those of the lower-precision list
 * round their float inputs to the autocast dtype, those of the float32 list give float32 results.
 *
 * <p>Integer and bool tensors are data (indices, masks, counters): the arithmetic ops refuse them, naming the op, the
 * argument and the dtype; views, {@code to(...)}, {@code copyFrom}, {@code fill} and {@code detach} take them.
 */
final class DTypeRules {
    /** Argument names of the ops, for messages. */
    static final String[] MATMUL_ARGS = {"this", "other"}, WEIGHTED_ARGS = {"input", "weight", "bias"},
            NORM_ARGS = {"input", "gamma", "beta"}, RUNNING_ARGS = {"runningMean", "runningVar"},
            ATTENTION_ARGS = {"q", "k", "v", "keyPaddingMask"}, SELF_ATTENTION_ARGS = {"qkv", "keyPaddingMask"},
            PARAM_ARGS = {"param"}, STATE_ARGS = {"a gradient or optimizer state"};

    private DTypeRules() {
    }

    /** An op of one tensor; the result has x's float dtype (float32 for autocast's float32 list). */
    static Tensor unary(String op, Tensor x, UnaryOperator<Tensor> f32op) {
        if (x == null || x.dtype() == DType.FLOAT32) {
            return f32op.apply(x);
        }
        requireFloat(op, "x", x);
        return inFloat32(resultDType(op, x.dtype()), new Tensor[] {x}, t -> f32op.apply(t[0]));
    }

    /** A pointwise op of two tensors given the dtype of its result. */
    @FunctionalInterface
    interface Binary {
        Tensor apply(Tensor a, Tensor b, DType result);
    }

    /**
     * A pointwise op of one float tensor, run on x as it is: {@code halfOp} gets the result's dtype, x's (float32
     * for autocast's float32 list: a bfloat16 softmax then reads bfloat16 and writes float32 in one call).
     */
    static Tensor pointwise(String op, Tensor x, BiFunction<Tensor, DType, Tensor> halfOp) {
        requireFloat(op, "x", x);
        return halfOp.apply(x, resultDType(op, x.dtype()));
    }

    /**
     * A pointwise op of two float tensors, run on them as they are, with PyTorch's type promotion: the same dtype
     * stays, float32 with a half gives float32, bfloat16 with float16 gives float32 (float32 for autocast's float32
     * list). A null operand reaches {@code halfOp}, whose checks name it.
     */
    static Tensor pointwise(String op, Tensor a, Tensor b, Binary halfOp) {
        if (a == null || b == null) {
            return halfOp.apply(a, b, DType.FLOAT32);
        }
        requireFloat(op, "a", a);
        requireFloat(op, "b", b);
        return halfOp.apply(a, b, resultDType(op, a.dtype() == b.dtype() ? a.dtype() : DType.FLOAT32));
    }

    /** {@code natural}, or float32 for an op of autocast's float32 list while autocast is on. */
    private static DType resultDType(String op, DType natural) {
        return Autocast.current() != null && Autocast.FLOAT32.contains(op) ? DType.FLOAT32 : natural;
    }

    /** The arguments, float ones rounded to the autocast dtype when {@code op} is on autocast's lower-precision list. */
    private static Tensor[] autocast(String op, String[] names, Tensor[] args) {
        DType low = Autocast.current();
        if (low == null || !Autocast.LOWER_PRECISION.contains(op)) {
            return args;
        }
        Tensor[] cast = args.clone();
        for (int i = 0; i < args.length; i++) {
            if (args[i] != null && args[i].dtype() != low) {
                requireFloat(op, names[i], args[i]);
                cast[i] = Conversions.to(args[i], low);
            }
        }
        return cast;
    }

    /**
     * An elementwise op of two tensors with PyTorch's type promotion between float dtypes: the same dtype stays,
     * float32 with a half gives float32, bfloat16 with float16 gives float32.
     */
    static Tensor promoted(String op, Tensor a, Tensor b, BinaryOperator<Tensor> f32op) {
        if (a == null || b == null || a.dtype() == DType.FLOAT32 && b.dtype() == DType.FLOAT32) {
            return f32op.apply(a, b);
        }
        requireFloat(op, "a", a);
        requireFloat(op, "b", b);
        DType result = resultDType(op, a.dtype() == b.dtype() ? a.dtype() : DType.FLOAT32);
        return inFloat32(result, new Tensor[] {a, b}, t -> f32op.apply(t[0], t[1]));
    }

    /**
     * An op whose tensor arguments (nulls skipped) must all have one float dtype, as PyTorch's matmul, linear,
     * convolutions and norms require outside autocast ("expected both to have the same dtype"). {@code names} null
     * names them {@code parts[i]}.
     */
    static Tensor same(String op, String[] names, Tensor[] given, Function<Tensor[], Tensor> f32op) {
        if (given == null) {
            return f32op.apply(null);
        }
        Tensor[] args = autocast(op, names, given);
        DType common = commonDType(op, names, args);
        if (common == null || common == DType.FLOAT32) {
            return f32op.apply(args);
        }
        return inFloat32(common, args, f32op);
    }

    /**
     * matmul, linear and conv2d: the dtype rule of {@link #same} (one float dtype; autocast's rounding first), but
     * half operands reach {@code op} as they are, with nothing widened in memory: its backend products take half
     * data with float32 accumulation (cublasGemmEx, cuDNN's pseudo-half convolutions; the CPU reference widens,
     * runs its float32 kernel and rounds once). The numbers are those of the float32 op on the widened inputs,
     * rounded once, as for every other op here; {@code ConvolutionPooling.conv2d} says where a convolution's bias
     * adds one rounding.
     */
    static Tensor lowPrecision(String op, String[] names, Tensor[] given, Function<Tensor[], Tensor> halfOp) {
        Tensor[] args = autocast(op, names, given);
        commonDType(op, names, args);
        return halfOp.apply(args);
    }

    /** The one float dtype of the non-null {@code args} (null when all are null), else a message naming the odd one. */
    private static DType commonDType(String op, String[] names, Tensor[] args) {
        DType common = null;
        for (int i = 0; i < args.length; i++) {
            if (args[i] == null) {
                continue;
            }
            String name = names == null ? "parts[" + i + "]" : names[i];
            requireFloat(op, name, args[i]);
            if (common == null) {
                common = args[i].dtype();
            } else if (args[i].dtype() != common) {
                throw new IllegalArgumentException(op + ": expected every tensor argument to have the same dtype, but "
                        + "the first is " + common + " and " + name + " is " + args[i].dtype() + " (convert one with"
                        + " to(DType))");
            }
        }
        return common;
    }

    /**
     * A normalisation: the input's float dtype decides the result (float32 for autocast's float32 list), and the
     * parameters (nulls skipped) are float32 or the input's dtype, as PyTorch's mixed-dtype layer and batch norms.
     */
    static Tensor normalised(String op, String[] names, Tensor[] args, Function<Tensor[], Tensor> f32op) {
        Tensor x = args[0];
        boolean allFloat32 = true;
        for (int i = 0; i < args.length; i++) {
            if (args[i] != null) {
                requireFloat(op, names[i], args[i]);
                if (i > 0 && x != null && args[i].dtype() != DType.FLOAT32 && args[i].dtype() != x.dtype()) {
                    throw new IllegalArgumentException(op + ": " + names[i] + " is " + args[i].dtype() + " but "
                            + names[0] + " is " + x.dtype() + "; the parameters must be FLOAT32 or the input's dtype");
                }
                allFloat32 &= args[i].dtype() == DType.FLOAT32;
            }
        }
        return allFloat32 || x == null ? f32op.apply(args) : inFloat32(resultDType(op, x.dtype()), args, f32op);
    }

    /**
     * Attention over q, k, v of one float dtype (rounded to the autocast dtype under autocast) and a float32 key
     * mask. {@code op} gets them in that dtype: float32 runs as given; a half dtype runs through the backend's
     * fused attention where it has one, else in float32 with the output rounded to the dtype (the weights, when
     * asked for, stay float32) — {@link ScaledDotProductAttention} decides.
     */
    static Attention attention(String op, String[] names, Tensor[] given, Function<Tensor[], Attention> attentionOp) {
        int last = given.length - 1; // the 0/1 key mask: float32, never rounded
        requireFloat32(op, new String[] {names[last]}, given[last]);
        DType common = Autocast.LOWER_PRECISION.contains(op) ? Autocast.current() : null;
        for (int i = 0; i < last; i++) {
            if (given[i] != null) {
                requireFloat(op, names[i], given[i]);
                if (Autocast.current() == null && common != null && given[i].dtype() != common) {
                    throw new IllegalArgumentException(op + ": expected q, k and v to have the same dtype, but "
                            + names[i] + " is " + given[i].dtype() + " and the others " + common);
                }
                common = Autocast.current() != null ? common : given[i].dtype();
            }
        }
        if (common == null || common == DType.FLOAT32) {
            return attentionOp.apply(given);
        }
        try (TensorScope scope = TensorScope.open()) {
            Tensor[] rounded = given.clone();
            for (int i = 0; i < last; i++) {
                boolean keep = given[i] == null || given[i].dtype() == common;
                rounded[i] = keep ? given[i] : Conversions.to(given[i], common);
            }
            Attention a = attentionOp.apply(rounded);
            return new Attention(scope.keep(a.output()), a.weights() == null ? null : scope.keep(a.weights()));
        }
    }

    /** Throws unless every tensor of {@code ts} (nulls skipped, named by {@code names}) is float32: ops with no half path yet. */
    static void requireFloat32(String op, String[] names, Tensor... ts) {
        for (int i = 0; i < ts.length; i++) {
            if (ts[i] != null && ts[i].dtype() != DType.FLOAT32) {
                throw new IllegalArgumentException(op + ": " + names[i] + " is " + ts[i].dtype() + " but " + op
                        + " takes float32 tensors only (convert with to(DType.FLOAT32))");
            }
        }
    }

    /** Throws unless {@code t} has a float dtype. */
    static void requireFloat(String op, String name, Tensor t) {
        if (!t.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException(op + ": " + name + " is " + t.dtype() + ", an integer/bool dtype; " + op
                    + " takes float32, bfloat16 or float16 tensors (convert with to(DType))");
        }
    }

    /** f32op on the arguments converted to float32, its result rounded to {@code result}. */
    private static Tensor inFloat32(DType result, Tensor[] args, Function<Tensor[], Tensor> f32op) {
        Tensor[] f32 = new Tensor[args.length];
        for (int i = 0; i < args.length; i++) {
            f32[i] = args[i] == null || args[i].dtype() == DType.FLOAT32 ? args[i] : Conversions.to(args[i], DType.FLOAT32);
        }
        Tensor out = f32op.apply(f32);
        return result == DType.FLOAT32 ? out : Conversions.to(out, result);
    }
}
