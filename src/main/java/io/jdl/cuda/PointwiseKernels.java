package io.jdl.cuda;

import static io.jdl.cuda.NativeKernels.BLOCK;
import static io.jdl.cuda.NativeKernels.checkCount;
import static io.jdl.cuda.NativeKernels.checkStream;
import static io.jdl.cuda.NativeKernels.elementwiseGrid;
import static io.jdl.cuda.NativeKernels.requireFloats;
import static io.jdl.cuda.MixedPrecisionKernels.Element.F32;

import io.jdl.cuda.KernelLibrary.Kernel;
import io.jdl.cuda.MixedPrecisionKernels.Element;
import java.util.Arrays;
import java.util.Objects;

/**
 * jdl's pointwise kernels: fill, axpby, products, broadcast, row and channel biases, the activations with their
 * backward, the fused bias + activation epilogue of linear layers and convolutions, sums over one axis (including a
 * convolution's bias gradient) and the row softmax with its backward. They replace
 * cuBLAS geam and the legacy cuDNN calls (SetTensor, OpTensor, AddTensor, Activation, ReduceTensor,
 * ConvolutionBackwardBias, SoftmaxForward / Backward), each of which needed tensor descriptors set up per call: one launch, no
 * descriptor, no workspace.
 *
 * <h2>Element types</h2>
 * Every buffer operand has its own element type, {@link Element#F32}, {@link Element#BF16} or {@link Element#F16}
 * (a bf16 input with a float32 one writing float32, a float32 GEMM output with a bf16 bias writing bf16): each
 * element is read widened to float32 (exact), the float32 formula computed, and the result rounded once, to
 * nearest even, into the output's type. So a result is, bit for bit, the all-float32 kernel on the widened inputs
 * followed by one cast of its output, in one launch. The overloads without types are the all-float32 calls.
 * Scalars ({@code alpha}, a fill value, an activation's slope) are float32; so are {@link #mulScalar}'s scalar and
 * dropout's mask ({@link NativeKernels#dropout}).
 *
 * <p>The contract is {@link NativeKernels}'s: each method checks counts, types and buffer sizes, each buffer in
 * bytes of its own type, before queueing (IllegalArgumentException naming the operand), queues one kernel on
 * {@code stream} and returns at once; nothing is queued for zero elements. Outputs may alias inputs of the same
 * type (each element is read, then written, by one thread), except for the sums and the channel-bias gradient,
 * whose output must not overlap the input.
 * Obtained from {@link NativeKernels#pointwise()}; stateless, usable from any thread.
 */
public final class PointwiseKernels {
    private final NativeKernels kernels;

    PointwiseKernels(NativeKernels kernels) {
        this.kernels = kernels;
    }

    /** {@code out[i] = value} for {@code i < n}, all float32. */
    public void fill(Stream stream, DeviceMemory out, long n, float value) {
        fill(stream, out, F32, n, value);
    }

    /** {@code out[i] = value} rounded once to {@code outType}, for {@code i < n}. */
    public void fill(Stream stream, DeviceMemory out, Element outType, long n, float value) {
        checkStream(stream);
        checkCount("n", n);
        requireElements("out", out, outType, n);
        if (n > 0) {
            kernels.launch(Kernel.FILL, stream, elementwiseGrid(n), BLOCK, out.pointer(), n, value, outType.ordinal());
        }
    }

    /** {@code out = alpha * a + beta * b} over {@code n} elements, all float32. */
    public void axpby(Stream stream, float alpha, DeviceMemory a, float beta, DeviceMemory b, DeviceMemory out, long n) {
        axpby(stream, alpha, a, F32, beta, b, F32, out, F32, n);
    }

    /** {@code out = alpha * a + beta * b} over {@code n} elements, each operand of its own type. */
    public void axpby(Stream stream, float alpha, DeviceMemory a, Element aType, float beta, DeviceMemory b,
                      Element bType, DeviceMemory out, Element outType, long n) {
        binary(Kernel.AXPBY, stream, "a", a, aType, "b", b, bType, "out", out, outType, n, alpha, beta);
    }

    /** {@code out = a * b} over {@code n} elements, all float32. */
    public void mul(Stream stream, DeviceMemory a, DeviceMemory b, DeviceMemory out, long n) {
        mul(stream, a, F32, b, F32, out, F32, n);
    }

    /** {@code out = a * b} over {@code n} elements, each operand of its own type. */
    public void mul(Stream stream, DeviceMemory a, Element aType, DeviceMemory b, Element bType, DeviceMemory out,
                    Element outType, long n) {
        binary(Kernel.MUL, stream, "a", a, aType, "b", b, bType, "out", out, outType, n);
    }

    /** {@code out = x * s[0]} over {@code n} elements, all float32; {@code s} holds one float on the device. */
    public void mulScalar(Stream stream, DeviceMemory x, DeviceMemory s, DeviceMemory out, long n) {
        mulScalar(stream, x, F32, s, out, F32, n);
    }

    /** {@code out = x * s[0]} over {@code n} elements; {@code s} holds one float32 on the device. */
    public void mulScalar(Stream stream, DeviceMemory x, Element xType, DeviceMemory s, DeviceMemory out,
                          Element outType, long n) {
        checkStream(stream);
        checkCount("n", n);
        requireElements("x", x, xType, n);
        requireFloats("s", s, n > 0 ? 1 : 0);
        requireElements("out", out, outType, n);
        if (n > 0) {
            kernels.launch(Kernel.MUL_SCALAR, stream, elementwiseGrid(n), BLOCK, x.pointer(), s.pointer(), out.pointer(),
                    n, xType.ordinal(), outType.ordinal());
        }
    }

    /** For {@code out [outer, dim, inner]}: {@code out[o, d, i] = x[o, i]} ({@code x [outer, inner]}), all float32. */
    public void broadcast(Stream stream, DeviceMemory x, DeviceMemory out, int outer, int dim, int inner) {
        broadcast(stream, x, F32, out, F32, outer, dim, inner);
    }

    /** For {@code out [outer, dim, inner]}: {@code out[o, d, i] = x[o, i]} ({@code x [outer, inner]}). */
    public void broadcast(Stream stream, DeviceMemory x, Element xType, DeviceMemory out, Element outType, int outer,
                          int dim, int inner) {
        checkStream(stream);
        checkCount("outer", outer);
        checkCount("dim", dim);
        checkCount("inner", inner);
        long n = (long) outer * dim * inner;
        requireElements("x", x, xType, n == 0 ? 0 : (long) outer * inner);
        requireElements("out", out, outType, n);
        if (n > 0) {
            kernels.launch(Kernel.BROADCAST, stream, elementwiseGrid(n), BLOCK, x.pointer(), out.pointer(), n, dim, inner,
                    xType.ordinal(), outType.ordinal());
        }
    }

    /** Dimensions of {@link #broadcastBinary}'s output (callers merge or pad theirs to this many). */
    public static final int BROADCAST_RANK = 4;

    /** {@link #broadcastBinary(Stream, DeviceMemory, Element, int[], DeviceMemory, Element, int[], DeviceMemory, Element, int[], boolean, float, float)}, all float32. */
    public void broadcastBinary(Stream stream, DeviceMemory a, int[] aStrides, DeviceMemory b, int[] bStrides,
                                DeviceMemory out, int[] dims, boolean multiply, float alpha, float beta) {
        broadcastBinary(stream, a, F32, aStrides, b, F32, bStrides, out, F32, dims, multiply, alpha, beta);
    }

    /**
     * A broadcasting binary op that reads its operands in place (no expanded copy): over out {@code dims} (4
     * dimensions), element {@code (i0, i1, i2, i3)} reads {@code a[Σ i_k·aStrides[k]]} and {@code b[Σ i_k·bStrides[k]]},
     * a stride being 0 where the operand repeats. {@code multiply}: {@code out = a·b}; else
     * {@code out = alpha·a + beta·b}. out must not overlap a or b.
     */
    public void broadcastBinary(Stream stream, DeviceMemory a, Element aType, int[] aStrides, DeviceMemory b,
                                Element bType, int[] bStrides, DeviceMemory out, Element outType, int[] dims,
                                boolean multiply, float alpha, float beta) {
        checkStream(stream);
        checkRank("dims", dims);
        checkRank("aStrides", aStrides);
        checkRank("bStrides", bStrides);
        long n = 1;
        for (int d : dims) {
            checkCount("dims", d);
            n *= d;
        }
        requireElements("a", a, aType, extent(dims, aStrides));
        requireElements("b", b, bType, extent(dims, bStrides));
        requireElements("out", out, outType, n);
        if (n > 0) {
            kernels.launch(Kernel.BROADCAST_BINARY, stream, elementwiseGrid(n), BLOCK, a.pointer(), b.pointer(),
                    out.pointer(), n, dims[1], dims[2], dims[3], aStrides[0], aStrides[1], aStrides[2], aStrides[3],
                    bStrides[0], bStrides[1], bStrides[2], bStrides[3], multiply ? 1 : 0, alpha, beta, aType.ordinal(),
                    bType.ordinal(), outType.ordinal());
        }
    }

    private static void checkRank(String name, int[] values) {
        Objects.requireNonNull(values, name);
        if (values.length != BROADCAST_RANK) {
            throw new IllegalArgumentException(name + " must have " + BROADCAST_RANK + " entries, got " + values.length);
        }
    }

    /** Elements an operand with these strides spans over dims (0 when dims hold no element). */
    private static long extent(int[] dims, int[] strides) {
        long last = 0;
        for (int k = 0; k < BROADCAST_RANK; k++) {
            if (dims[k] == 0) {
                return 0;
            }
            if (strides[k] < 0) {
                throw new IllegalArgumentException("strides must be >= 0, got " + Arrays.toString(strides));
            }
            last += (long) (dims[k] - 1) * strides[k];
        }
        return last + 1;
    }

    /**
     * {@code out[r, k, i] = x[r, k, i] + bias[k]} for x {@code [rows, cols, hw]}, all float32: a linear layer's bias
     * with {@code hw = 1}, a convolution's per-channel bias with {@code cols} channels of {@code hw} pixels: the
     * epilogue kernel without an activation.
     */
    public void addBias(Stream stream, DeviceMemory x, DeviceMemory bias, DeviceMemory out, int rows, int cols, int hw) {
        biasActivation(stream, Epilogue.IDENTITY, 0f, x, F32, bias, F32, null, F32, out, F32, rows, cols, hw);
    }

    /**
     * The activation of {@link #biasActivation}, with its code in jdl_kernels.cu (JDL_ACT_*): every
     * activation jdl has, computed by the same formulas as the one-activation kernels.
     */
    public enum Epilogue {
        IDENTITY(0), RELU(1), LEAKY_RELU(2), SIGMOID(3), TANH(4), GELU(5);

        final int code;

        Epilogue(int code) {
            this.code = code;
        }
    }

    /** {@link #biasActivation(Stream, Epilogue, float, DeviceMemory, Element, DeviceMemory, Element, DeviceMemory, Element, DeviceMemory, Element, int, int, int)}, all float32. */
    public void biasActivation(Stream stream, Epilogue act, float param, DeviceMemory x, DeviceMemory bias,
                               DeviceMemory pre, DeviceMemory y, int rows, int cols, int hw) {
        biasActivation(stream, act, param, x, F32, bias, F32, pre, F32, y, F32, rows, cols, hw);
    }

    /**
     * For x {@code [rows, cols, hw]} (a linear layer's {@code [rows, features]} with {@code hw = 1}, a convolution's
     * {@code [batch, channels, h·w]}): {@code y = act(x + bias[col])} in one launch; {@code pre}, unless null,
     * receives {@code x + bias}. {@code param} is leaky ReLU's negative slope (unused by the others). {@code pre}
     * and {@code y} may each be {@code x} when of its type. The activation reads the float32 sum, so {@code pre}
     * and {@code y} are each rounded once ({@code preType} is ignored when {@code pre} is null).
     */
    public void biasActivation(Stream stream, Epilogue act, float param, DeviceMemory x, Element xType,
                               DeviceMemory bias, Element biasType, DeviceMemory pre, Element preType, DeviceMemory y,
                               Element yType, int rows, int cols, int hw) {
        checkStream(stream);
        Objects.requireNonNull(act, "act");
        checkCount("rows", rows);
        checkCount("cols", cols);
        checkCount("hw", hw);
        long n = (long) rows * cols * hw;
        requireElements("x", x, xType, n);
        requireElements("bias", bias, biasType, n == 0 ? 0 : cols);
        if (pre != null) {
            requireElements("pre", pre, preType, n);
        }
        requireElements("y", y, yType, n);
        if (n > 0) {
            kernels.launch(Kernel.BIAS_ACT, stream, elementwiseGrid(n), BLOCK, x.pointer(), bias.pointer(),
                    NativeKernels.pointerOrNull(pre), y.pointer(), n, cols, hw, act.code, param, xType.ordinal(),
                    biasType.ordinal(), pre == null ? F32.ordinal() : preType.ordinal(), yType.ordinal());
        }
    }

    /** The activations with a kernel each way (leaky ReLU takes its slope as a parameter). */
    public enum Activation {
        RELU(Kernel.RELU, Kernel.RELU_BACKWARD, false),
        LEAKY_RELU(Kernel.LEAKY_RELU, Kernel.LEAKY_RELU_BACKWARD, false),
        SIGMOID(Kernel.SIGMOID, Kernel.SIGMOID_BACKWARD, true),
        TANH(Kernel.TANH, Kernel.TANH_BACKWARD, true),
        GELU(Kernel.GELU, Kernel.GELU_BACKWARD, false);

        final Kernel forward, backward;
        private final boolean fromOutput;

        Activation(Kernel forward, Kernel backward, boolean fromOutput) {
            this.forward = forward;
            this.backward = backward;
            this.fromOutput = fromOutput;
        }

        /** Whether the backward reads the forward output y (sigmoid, tanh), else the input x. */
        public boolean backwardReadsOutput() {
            return fromOutput;
        }
    }

    /** {@code y = act(x)} over {@code n} elements, all float32 (leaky ReLU with slope 0). */
    public void activation(Stream stream, Activation act, DeviceMemory x, DeviceMemory y, long n) {
        activation(stream, act, 0f, x, F32, y, F32, n);
    }

    /** {@code y = act(x)} over {@code n} elements; {@code param} is leaky ReLU's negative slope (unused by the others). */
    public void activation(Stream stream, Activation act, float param, DeviceMemory x, Element xType, DeviceMemory y,
                           Element yType, long n) {
        checkStream(stream);
        Objects.requireNonNull(act, "act");
        checkCount("n", n);
        requireElements("x", x, xType, n);
        requireElements("y", y, yType, n);
        if (n > 0) {
            Object[] args = act == Activation.LEAKY_RELU
                    ? new Object[] {x.pointer(), y.pointer(), n, param, xType.ordinal(), yType.ordinal()}
                    : new Object[] {x.pointer(), y.pointer(), n, xType.ordinal(), yType.ordinal()};
            kernels.launch(act.forward, stream, elementwiseGrid(n), BLOCK, args);
        }
    }

    /**
     * {@code dx = act'(x) * dy}, all float32: ReLU from the input x ({@code x > 0 ? dy : 0}), sigmoid
     * ({@code dy·y·(1 - y)}) and tanh ({@code dy·(1 - y²)}) from the forward output y; the one not read may be null.
     */
    public void activationBackward(Stream stream, Activation act, DeviceMemory x, DeviceMemory y, DeviceMemory dy,
                                   DeviceMemory dx, long n) {
        DeviceMemory from = act.fromOutput ? y : x;
        activationBackward(stream, act, 0f, from, F32, dy, F32, dx, F32, n);
    }

    /**
     * {@code dx = act'(·) * dy} from {@code from}: the forward output y for sigmoid ({@code dy·y·(1 - y)}) and tanh
     * ({@code dy·(1 - y²)}), else the input x (ReLU {@code x <= 0 ? 0 : dy}, leaky ReLU, GELU); {@code param} is
     * leaky ReLU's slope.
     */
    public void activationBackward(Stream stream, Activation act, float param, DeviceMemory from, Element fromType,
                                   DeviceMemory dy, Element dyType, DeviceMemory dx, Element dxType, long n) {
        String fromName = act.fromOutput ? "y" : "x";
        if (act == Activation.LEAKY_RELU) {
            binary(act.backward, stream, fromName, from, fromType, "dy", dy, dyType, "dx", dx, dxType, n, param);
        } else {
            binary(act.backward, stream, fromName, from, fromType, "dy", dy, dyType, "dx", dx, dxType, n);
        }
    }

    /** {@link #sum(Stream, DeviceMemory, Element, DeviceMemory, Element, int, int, int)}, all float32. */
    public void sum(Stream stream, DeviceMemory x, DeviceMemory out, int outer, int dim, int inner) {
        sum(stream, x, F32, out, F32, outer, dim, inner);
    }

    /**
     * For x {@code [outer, dim, inner]}: {@code out[o, i] = sum over d of x[o, d, i]} (0 when dim is 0), summed in
     * float32 and rounded once to {@code outType}.
     */
    public void sum(Stream stream, DeviceMemory x, Element xType, DeviceMemory out, Element outType, int outer, int dim,
                    int inner) {
        checkStream(stream);
        checkCount("outer", outer);
        checkCount("dim", dim);
        checkCount("inner", inner);
        long results = (long) outer * inner;
        requireElements("x", x, xType, results * dim);
        requireElements("out", out, outType, results);
        if (results == 0) {
            return;
        }
        if (inner == 1) {
            // Row sums: a block per row reads the row coalesced (a thread per row would stride by dim).
            kernels.launch(Kernel.SUM_ROWS, stream, outer, BLOCK, x.pointer(), out.pointer(), outer, dim,
                    xType.ordinal(), outType.ordinal());
        } else {
            kernels.launch(Kernel.SUM_AXIS, stream, elementwiseGrid(results), BLOCK, x.pointer(), out.pointer(), outer,
                    dim, inner, xType.ordinal(), outType.ordinal());
        }
    }

    /** {@link #channelBiasBackward(Stream, DeviceMemory, Element, DeviceMemory, Element, int, int, int)}, all float32. */
    public void channelBiasBackward(Stream stream, DeviceMemory dy, DeviceMemory db, int batch, int channels, int hw) {
        channelBiasBackward(stream, dy, F32, db, F32, batch, channels, hw);
    }

    /**
     * A convolution's bias gradient: {@code db[k] = sum over n and i of dy[n, k, i]} for dy {@code [batch, channels,
     * hw]}, summed in float32 and rounded once to {@code dbType}.
     */
    public void channelBiasBackward(Stream stream, DeviceMemory dy, Element dyType, DeviceMemory db, Element dbType,
                                    int batch, int channels, int hw) {
        checkStream(stream);
        checkCount("batch", batch);
        checkCount("channels", channels);
        checkCount("hw", hw);
        requireElements("dy", dy, dyType, (long) batch * channels * hw);
        requireElements("db", db, dbType, channels);
        if (channels > 0) {
            kernels.launch(Kernel.CHANNEL_BIAS_BACKWARD, stream, channels, BLOCK, dy.pointer(), db.pointer(), batch,
                    channels, hw, dyType.ordinal(), dbType.ordinal());
        }
    }

    /**
     * Row softmax of x {@code [rows, cols]} ({@code log}: log-softmax), one block per row: {@code y = exp(x - m) / s}
     * or {@code (x - m) - log(s)}, m the row's maximum, s the sum of {@code exp(x - m)}, in float32 and rounded once
     * to {@code yType}. y may be x when of its type.
     */
    public void softmax(Stream stream, boolean log, DeviceMemory x, Element xType, DeviceMemory y, Element yType,
                        int rows, int cols) {
        checkStream(stream);
        checkCount("rows", rows);
        checkCount("cols", cols);
        long n = (long) rows * cols;
        requireElements("x", x, xType, n);
        requireElements("y", y, yType, n);
        if (n > 0) {
            kernels.launch(Kernel.SOFTMAX_ROWS, stream, rows, BLOCK, x.pointer(), y.pointer(), rows, cols, log ? 1 : 0,
                    xType.ordinal(), yType.ordinal());
        }
    }

    /**
     * The backward of {@link #softmax} from its output y and dy {@code [rows, cols]}: {@code dx = y·(dy - Σ dy·y)}, or
     * for log-softmax {@code dx = dy - exp(y)·Σ dy} (sums over the row). dx may be y or dy when of its type.
     */
    public void softmaxBackward(Stream stream, boolean log, DeviceMemory y, Element yType, DeviceMemory dy,
                                Element dyType, DeviceMemory dx, Element dxType, int rows, int cols) {
        checkStream(stream);
        checkCount("rows", rows);
        checkCount("cols", cols);
        long n = (long) rows * cols;
        requireElements("y", y, yType, n);
        requireElements("dy", dy, dyType, n);
        requireElements("dx", dx, dxType, n);
        if (n > 0) {
            kernels.launch(Kernel.SOFTMAX_BACKWARD_ROWS, stream, rows, BLOCK, y.pointer(), dy.pointer(), dx.pointer(),
                    rows, cols, log ? 1 : 0, yType.ordinal(), dyType.ordinal(), dxType.ordinal());
        }
    }

    /**
     * Checks that {@code buffer} holds {@code count} elements of {@code type}, a float type (pointwise operands are
     * float32, bfloat16 or float16): IllegalArgumentException naming the operand otherwise.
     */
    static void requireElements(String name, DeviceMemory buffer, Element type, long count) {
        Objects.requireNonNull(type, name + " element type");
        if (type != Element.F32 && type != Element.BF16 && type != Element.F16) {
            throw new IllegalArgumentException(name + " is " + type + ", but pointwise kernels take F32, BF16 or F16");
        }
        String typeName = switch (type) {
            case F32 -> "float32";
            case BF16 -> "bfloat16";
            default -> "float16";
        };
        NativeKernels.requireBytes(name, buffer, count, type.bytes(), typeName);
    }

    /**
     * One kernel over (a, b, out, n, extra..., aType, bType, outType), each of n elements of its type; the names are
     * the operands' in messages.
     */
    private void binary(Kernel kernel, Stream stream, String aName, DeviceMemory a, Element aType, String bName,
                        DeviceMemory b, Element bType, String outName, DeviceMemory out, Element outType, long n,
                        Object... extra) {
        checkStream(stream);
        checkCount("n", n);
        requireElements(aName, a, aType, n);
        requireElements(bName, b, bType, n);
        requireElements(outName, out, outType, n);
        if (n > 0) {
            Object[] args = new Object[7 + extra.length];
            args[0] = a.pointer();
            args[1] = b.pointer();
            args[2] = out.pointer();
            args[3] = n;
            System.arraycopy(extra, 0, args, 4, extra.length);
            args[4 + extra.length] = aType.ordinal();
            args[5 + extra.length] = bType.ordinal();
            args[6 + extra.length] = outType.ordinal();
            kernels.launch(kernel, stream, elementwiseGrid(n), BLOCK, args);
        }
    }
}
