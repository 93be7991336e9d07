package io.jdl.cuda;

import static io.jdl.cuda.NativeKernels.BLOCK;
import static io.jdl.cuda.NativeKernels.checkCount;
import static io.jdl.cuda.NativeKernels.checkStream;
import static io.jdl.cuda.NativeKernels.elementwiseGrid;
import static io.jdl.cuda.NativeKernels.requireFloats;

import io.jdl.cuda.KernelLibrary.Kernel;
import java.util.Arrays;
import java.util.Objects;

/**
 * jdl's pointwise kernels: fill, axpby, products, broadcast, row and channel biases, ReLU / sigmoid / tanh
 * with their backward, the fused bias + activation epilogue of linear layers and convolutions, and sums over one axis (including a convolution's bias gradient). They replace
 * cuBLAS geam and the legacy cuDNN calls (SetTensor, OpTensor, AddTensor, Activation, ReduceTensor,
 * ConvolutionBackwardBias), each of which needed tensor descriptors set up per call: one launch, no
 * descriptor, no workspace.
 *
 * <p>The contract is {@link NativeKernels}'s: each method checks counts and buffer sizes before queueing
 * (IllegalArgumentException naming the operand), queues one kernel on {@code stream} and returns at
 * once; nothing is queued for zero elements. Outputs may alias inputs (each element is read, then written,
 * by one thread), except for the sums and the channel-bias gradient, whose output must not overlap the input.
 * Obtained from {@link NativeKernels#pointwise()}; stateless, usable from any thread.
 */
public final class PointwiseKernels {
    private final NativeKernels kernels;

    PointwiseKernels(NativeKernels kernels) {
        this.kernels = kernels;
    }

    /** {@code out[i] = value} for {@code i < n}. */
    public void fill(Stream stream, DeviceMemory out, long n, float value) {
        checkStream(stream);
        checkCount("n", n);
        requireFloats("out", out, n);
        if (n > 0) {
            kernels.launch(Kernel.FILL, stream, elementwiseGrid(n), BLOCK, out.pointer(), n, value);
        }
    }

    /** {@code out = alpha * a + beta * b} over {@code n} elements. */
    public void axpby(Stream stream, float alpha, DeviceMemory a, float beta, DeviceMemory b, DeviceMemory out, long n) {
        elementwise3(Kernel.AXPBY, stream, "a", a, "b", b, "out", out, n, alpha, beta);
    }

    /** {@code out = a * b} over {@code n} elements. */
    public void mul(Stream stream, DeviceMemory a, DeviceMemory b, DeviceMemory out, long n) {
        elementwise3(Kernel.MUL, stream, "a", a, "b", b, "out", out, n);
    }

    /** {@code out = x * s[0]} over {@code n} elements; {@code s} holds one float on the device. */
    public void mulScalar(Stream stream, DeviceMemory x, DeviceMemory s, DeviceMemory out, long n) {
        checkStream(stream);
        checkCount("n", n);
        requireFloats("x", x, n);
        requireFloats("s", s, n > 0 ? 1 : 0);
        requireFloats("out", out, n);
        if (n > 0) {
            kernels.launch(Kernel.MUL_SCALAR, stream, elementwiseGrid(n), BLOCK, x.pointer(), s.pointer(), out.pointer(), n);
        }
    }

    /** For {@code out [outer, dim, inner]}: {@code out[o, d, i] = x[o, i]} ({@code x [outer, inner]}). */
    public void broadcast(Stream stream, DeviceMemory x, DeviceMemory out, int outer, int dim, int inner) {
        checkStream(stream);
        checkCount("outer", outer);
        checkCount("dim", dim);
        checkCount("inner", inner);
        long n = (long) outer * dim * inner;
        requireFloats("x", x, n == 0 ? 0 : (long) outer * inner);
        requireFloats("out", out, n);
        if (n > 0) {
            kernels.launch(Kernel.BROADCAST, stream, elementwiseGrid(n), BLOCK, x.pointer(), out.pointer(), n, dim, inner);
        }
    }

    /** Dimensions of {@link #broadcastBinary}'s output (callers merge or pad theirs to this many). */
    public static final int BROADCAST_RANK = 4;

    /**
     * A broadcasting binary op that reads its operands in place (no expanded copy): over out {@code dims} (4
     * dimensions), element {@code (i0, i1, i2, i3)} reads {@code a[Σ i_k·aStrides[k]]} and {@code b[Σ i_k·bStrides[k]]},
     * a stride being 0 where the operand repeats. {@code multiply}: {@code out = a·b}; else
     * {@code out = alpha·a + beta·b}. out must not overlap a or b.
     */
    public void broadcastBinary(Stream stream, DeviceMemory a, int[] aStrides, DeviceMemory b, int[] bStrides,
                                DeviceMemory out, int[] dims, boolean multiply, float alpha, float beta) {
        checkStream(stream);
        checkRank("dims", dims);
        checkRank("aStrides", aStrides);
        checkRank("bStrides", bStrides);
        long n = 1;
        for (int d : dims) {
            checkCount("dims", d);
            n *= d;
        }
        requireFloats("a", a, extent(dims, aStrides));
        requireFloats("b", b, extent(dims, bStrides));
        requireFloats("out", out, n);
        if (n > 0) {
            kernels.launch(Kernel.BROADCAST_BINARY, stream, elementwiseGrid(n), BLOCK, a.pointer(), b.pointer(),
                    out.pointer(), n, dims[1], dims[2], dims[3], aStrides[0], aStrides[1], aStrides[2], aStrides[3],
                    bStrides[0], bStrides[1], bStrides[2], bStrides[3], multiply ? 1 : 0, alpha, beta);
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
     * {@code out[r, k, i] = x[r, k, i] + bias[k]} for x {@code [rows, cols, hw]}: a linear layer's bias with
     * {@code hw = 1}, a convolution's per-channel bias with {@code cols} channels of {@code hw} pixels: the
     * epilogue kernel without an activation.
     */
    public void addBias(Stream stream, DeviceMemory x, DeviceMemory bias, DeviceMemory out, int rows, int cols, int hw) {
        biasActivation(stream, Epilogue.IDENTITY, 0f, x, bias, null, out, rows, cols, hw);
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

    /**
     * For x {@code [rows, cols, hw]} (a linear layer's {@code [rows, features]} with {@code hw = 1}, a convolution's
     * {@code [batch, channels, h·w]}): {@code y = act(x + bias[col])} in one launch; {@code pre}, unless null,
     * receives {@code x + bias}. {@code param} is leaky ReLU's negative slope (unused by the others). {@code pre}
     * and {@code y} may each be {@code x}.
     */
    public void biasActivation(Stream stream, Epilogue act, float param, DeviceMemory x, DeviceMemory bias,
                               DeviceMemory pre, DeviceMemory y, int rows, int cols, int hw) {
        checkStream(stream);
        Objects.requireNonNull(act, "act");
        checkCount("rows", rows);
        checkCount("cols", cols);
        checkCount("hw", hw);
        long n = (long) rows * cols * hw;
        requireFloats("x", x, n);
        requireFloats("bias", bias, n == 0 ? 0 : cols);
        if (pre != null) {
            requireFloats("pre", pre, n);
        }
        requireFloats("y", y, n);
        if (n > 0) {
            kernels.launch(Kernel.BIAS_ACT, stream, elementwiseGrid(n), BLOCK, x.pointer(), bias.pointer(),
                    NativeKernels.pointerOrNull(pre), y.pointer(), n, cols, hw, act.code, param);
        }
    }

    /** The activations these kernels compute (leaky ReLU and GELU are {@link NativeKernels}'). */
    public enum Activation {
        RELU(Kernel.RELU, Kernel.RELU_BACKWARD, false),
        SIGMOID(Kernel.SIGMOID, Kernel.SIGMOID_BACKWARD, true),
        TANH(Kernel.TANH, Kernel.TANH_BACKWARD, true);

        final Kernel forward, backward;
        /** Whether the backward reads the forward output y (else the input x). */
        final boolean fromOutput;

        Activation(Kernel forward, Kernel backward, boolean fromOutput) {
            this.forward = forward;
            this.backward = backward;
            this.fromOutput = fromOutput;
        }
    }

    /** {@code y = act(x)} over {@code n} elements. */
    public void activation(Stream stream, Activation act, DeviceMemory x, DeviceMemory y, long n) {
        checkStream(stream);
        checkCount("n", n);
        requireFloats("x", x, n);
        requireFloats("y", y, n);
        if (n > 0) {
            kernels.launch(act.forward, stream, elementwiseGrid(n), BLOCK, x.pointer(), y.pointer(), n);
        }
    }

    /**
     * {@code dx = act'(x) * dy}: ReLU from the input x ({@code x > 0 ? dy : 0}), sigmoid ({@code dy·y·(1 - y)})
     * and tanh ({@code dy·(1 - y²)}) from the forward output y; the one not read may be null.
     */
    public void activationBackward(Stream stream, Activation act, DeviceMemory x, DeviceMemory y, DeviceMemory dy,
                                   DeviceMemory dx, long n) {
        elementwise3(act.backward, stream, act.fromOutput ? "y" : "x", act.fromOutput ? y : x, "dy", dy, "dx", dx, n);
    }

    /** For x {@code [outer, dim, inner]}: {@code out[o, i] = sum over d of x[o, d, i]} (0 when dim is 0). */
    public void sum(Stream stream, DeviceMemory x, DeviceMemory out, int outer, int dim, int inner) {
        checkStream(stream);
        checkCount("outer", outer);
        checkCount("dim", dim);
        checkCount("inner", inner);
        long results = (long) outer * inner;
        requireFloats("x", x, results * dim);
        requireFloats("out", out, results);
        if (results == 0) {
            return;
        }
        if (inner == 1) {
            // Row sums: a block per row reads the row coalesced (a thread per row would stride by dim).
            kernels.launch(Kernel.SUM_ROWS, stream, outer, BLOCK, x.pointer(), out.pointer(), outer, dim);
        } else {
            kernels.launch(Kernel.SUM_AXIS, stream, elementwiseGrid(results), BLOCK, x.pointer(), out.pointer(), outer,
                    dim, inner);
        }
    }

    /** A convolution's bias gradient: {@code db[k] = sum over n and i of dy[n, k, i]} for dy {@code [batch, channels, hw]}. */
    public void channelBiasBackward(Stream stream, DeviceMemory dy, DeviceMemory db, int batch, int channels, int hw) {
        checkStream(stream);
        checkCount("batch", batch);
        checkCount("channels", channels);
        checkCount("hw", hw);
        requireFloats("dy", dy, (long) batch * channels * hw);
        requireFloats("db", db, channels);
        if (channels > 0) {
            kernels.launch(Kernel.CHANNEL_BIAS_BACKWARD, stream, channels, BLOCK, dy.pointer(), db.pointer(), batch,
                    channels, hw);
        }
    }

    /** One kernel over (a, b, out, n, extra...), all three of n floats; the names are the operands' in messages. */
    private void elementwise3(Kernel kernel, Stream stream, String aName, DeviceMemory a, String bName, DeviceMemory b,
                              String outName, DeviceMemory out, long n, Object... extra) {
        checkStream(stream);
        checkCount("n", n);
        requireFloats(aName, a, n);
        requireFloats(bName, b, n);
        requireFloats(outName, out, n);
        if (n > 0) {
            Object[] args = new Object[4 + extra.length];
            args[0] = a.pointer();
            args[1] = b.pointer();
            args[2] = out.pointer();
            args[3] = n;
            System.arraycopy(extra, 0, args, 4, extra.length);
            kernels.launch(kernel, stream, elementwiseGrid(n), BLOCK, args);
        }
    }
}
