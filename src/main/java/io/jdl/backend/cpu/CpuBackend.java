package io.jdl.backend.cpu;

import io.jdl.backend.Activation;
import io.jdl.backend.Backend;
import io.jdl.backend.ConvShape;
import io.jdl.device.DType;
import io.jdl.device.Device;
import io.jdl.backend.PoolShape;
import io.jdl.backend.MatrixBatch;
import io.jdl.backend.Storage;
import java.util.Arrays;

/**
 * The CPU backend: float32 storage on the Java heap, float64 accumulation in sums. Matrix products and
 * convolutions go through oneDNN where it is installed ({@link NativeMatmul}, {@link NativeConv}; see
 * {@link CpuNative} for the switch); otherwise, and always with {@code -Djdl.cpu.native=off}, they run on
 * pure-Java kernels ({@link CpuMatmul}, {@link CpuConv}, im2col) over a vectorised float32 kernel
 * ({@link CpuGemm}) in short blocks (256 terms, or one image) whose sums are added in float64; those kernels
 * are the oracle the native path is tested against. The backend is the oracle the CUDA backend is tested
 * against, and the default without a GPU. The pointwise primitives ({@link CpuPointwise}) and the products take
 * bfloat16 / float16 operands by widening them, running the float32 kernel and rounding once
 * ({@link CpuHalfOperands}). It holds no mutable state:
 * calls from several threads are safe on distinct storages (a storage itself is confined to one thread).
 */
public final class CpuBackend implements Backend {
    public static final CpuBackend INSTANCE = new CpuBackend();

    private CpuBackend() {
    }

    /**
     * The threads the CPU backend's kernels run on, the calling thread included: the system property
     * {@code jdl.cpu.threads} when set, else {@link Runtime#availableProcessors()}, or what
     * {@link #setThreads(int)} set last. Small loops stay on the calling thread whatever the count.
     */
    public static int threads() {
        return CpuParallel.threads();
    }

    /**
     * Sets the threads the CPU backend's kernels run on (1: everything on the calling thread), for the whole
     * JVM. jdl runs them on its own pool, never on the JDK's common pool; an operation already running
     * finishes on the threads it started with.
     *
     * @throws IllegalArgumentException when {@code threads < 1}
     */
    public static void setThreads(int threads) {
        CpuParallel.setThreads(threads);
    }

    private static float[] data(Storage s) {
        return cpu(s).data();
    }

    @Override
    public Device device() {
        return Device.CPU;
    }

    private static CpuStorage cpu(Storage s) {
        if (!(s instanceof CpuStorage cpu)) {
            throw new IllegalArgumentException("CPU backend got storage on " + s.device());
        }
        return cpu;
    }

    @Override
    public Storage allocate(long numel, DType dtype) {
        if (numel < 0 || numel > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("CPU tensors hold at most " + (Integer.MAX_VALUE - 8) + " elements, asked "
                    + numel);
        }
        return CpuStorage.allocate((int) numel, dtype);
    }

    @Override
    public Storage uploadBytes(byte[] littleEndian, DType dtype) {
        return CpuStorage.ofBytes(littleEndian, dtype);
    }

    @Override
    public byte[] downloadBytes(Storage src, long numel) {
        return CpuCasts.toBytes(cpu(src).array(), src.dtype(), (int) numel);
    }

    @Override
    public void cast(Storage src, Storage dst, long n) {
        CpuCasts.cast(cpu(src).array(), src.dtype(), cpu(dst).array(), dst.dtype(), (int) n);
    }

    @Override
    public Storage upload(float[] data) {
        return new CpuStorage(data.clone());
    }

    @Override
    public float[] download(Storage src, long numel) {
        return Arrays.copyOf(data(src), (int) numel);
    }

    @Override
    public void fill(Storage out, float value) {
        CpuPointwise.fill(out, value);
    }

    @Override
    public void matmul(boolean transA, boolean transB, int batch, int m, int n, int k, Storage as, Storage bs, Storage cs) {
        CpuHalfOperands.checkProduct(as, bs, cs);
        try (CpuHalfOperands f = new CpuHalfOperands("matmul")) {
            float[] a = f.read(as), b = f.read(bs), c = f.read(cs);
            if (!NativeMatmul.matmul(transA, transB, batch, m, n, k, a, b, c)) {
                CpuMatmul.matmul(transA, transB, batch, m, n, k, a, b, c);
            }
            f.write(c, cs);
        }
    }

    @Override
    public void matmul(boolean transA, boolean transB, int outer, int inner, int m, int n, int k, MatrixBatch a,
                       MatrixBatch b, MatrixBatch c) {
        CpuHalfOperands.checkProduct(a.storage(), b.storage(), c.storage());
        try (CpuHalfOperands f = new CpuHalfOperands("matmul")) {
            float[] ad = f.read(a.storage()), bd = f.read(b.storage()), cd = f.read(c.storage());
            if (!NativeMatmul.matmul(transA, transB, outer, inner, m, n, k, ad, a, bd, b, cd, c)) {
                CpuMatmul.matmul(transA, transB, outer, inner, m, n, k,
                        ad, a.offset(), a.rowStride(), a.outerStride(), a.innerStride(),
                        bd, b.offset(), b.rowStride(), b.outerStride(), b.innerStride(),
                        cd, c.offset(), c.rowStride(), c.outerStride(), c.innerStride());
            }
            f.write(cd, c.storage());
        }
    }

    @Override
    public void axpby(float alpha, Storage a, float beta, Storage b, Storage out, long n) {
        CpuPointwise.axpby(alpha, a, beta, b, out, n);
    }

    @Override
    public void mul(Storage a, Storage b, Storage out, long n) {
        CpuPointwise.mul(a, b, out, n);
    }

    @Override
    public void addBias(Storage x, Storage bias, Storage out, int rows, int cols) {
        CpuPointwise.addBias(x, bias, out, rows, cols);
    }

    @Override
    public void sum(Storage x, Storage out, int outer, int dim, int inner) {
        CpuPointwise.sum(x, out, outer, dim, inner);
    }

    // ---- data movement ----

    @Override
    public void copy(Storage src, Storage dst, long n) {
        System.arraycopy(data(src), 0, data(dst), 0, (int) n);
    }

    @Override
    public void broadcastBinary(boolean multiply, float alpha, float beta, Storage a, int[] aStrides, Storage b,
                                int[] bStrides, Storage out, int[] dims) {
        CpuPointwise.broadcastBinary(multiply, alpha, beta, a, aStrides, b, bStrides, out, dims);
    }

    @Override
    public void broadcast(Storage x, Storage out, int outer, int dim, int inner) {
        CpuPointwise.broadcast(x, out, outer, dim, inner);
    }

    @Override
    public void mulScalar(Storage x, Storage s, Storage out, long n) {
        CpuPointwise.mulScalar(x, s, out, n);
    }

    @Override
    public void permute(Storage xs, Storage outs, int[] dims, int[] perm) {
        float[] x = data(xs), out = data(outs);
        int rank = dims.length;
        int[] xStride = new int[rank];
        for (int i = rank - 1, st = 1; i >= 0; i--) {
            xStride[i] = st;
            st *= dims[i];
        }
        // Walk out in row-major order with an odometer over its dims, tracking the matching x offset.
        int[] outDims = new int[rank], step = new int[rank], idx = new int[rank];
        for (int i = 0; i < rank; i++) {
            outDims[i] = dims[perm[i]];
            step[i] = xStride[perm[i]];
        }
        int xi = 0;
        for (int o = 0; o < out.length; o++) {
            out[o] = x[xi];
            for (int a = rank - 1; a >= 0; a--) {
                if (++idx[a] < outDims[a]) {
                    xi += step[a];
                    break;
                }
                xi -= step[a] * (outDims[a] - 1);
                idx[a] = 0;
            }
        }
    }

    @Override
    public void copySlice(Storage blocks, Storage wholes, int outer, int size, int inner, int total, int offset,
                          boolean intoSlice) {
        float[] block = data(blocks), whole = data(wholes);
        for (int o = 0; o < outer; o++) {
            int b = o * size * inner, w = (o * total + offset) * inner;
            if (intoSlice) {
                System.arraycopy(block, b, whole, w, size * inner);
            } else {
                System.arraycopy(whole, w, block, b, size * inner);
            }
        }
    }

    // ---- activations and losses ----

    @Override
    public void biasActivation(Activation act, float param, Storage x, Storage bias, Storage pre, Storage y, int n,
                               int c, int hw) {
        CpuPointwise.biasActivation(act, param, x, bias, pre, y, n, c, hw);
    }

    @Override
    public void activation(Activation act, float param, Storage x, Storage y, long n) {
        CpuPointwise.activation(act, param, x, y, n);
    }

    @Override
    public void activationBackward(Activation act, float param, Storage x, Storage y, Storage dy, Storage dx, long n) {
        CpuPointwise.activationBackward(act, param, x, y, dy, dx, n);
    }

    @Override
    public void softmax(boolean log, Storage x, Storage y, int rows, int cols) {
        CpuPointwise.softmax(log, x, y, rows, cols);
    }

    @Override
    public void softmaxBackward(boolean log, Storage y, Storage dy, Storage dx, int rows, int cols) {
        CpuPointwise.softmaxBackward(log, y, dy, dx, rows, cols);
    }

    @Override
    public void crossEntropy(Storage ls, int[] targets, Storage lses, Storage losses, int rows, int classes,
                             int ignoreIndex, float scale) {
        float[] logits = data(ls), lse = data(lses);
        double sum = 0;
        for (int r = 0; r < rows; r++) {
            if (targets[r] == ignoreIndex) {
                lse[r] = 0;
                continue;
            }
            double rowLse = logSumExp(logits, r * classes, classes);
            lse[r] = (float) rowLse;
            sum += rowLse - logits[r * classes + targets[r]];
        }
        data(losses)[0] = (float) (scale * sum);
    }

    private static double logSumExp(float[] x, int off, int n) {
        double max = CpuPointwise.rowMax(x, off, n);
        return max + Math.log(CpuPointwise.sumExp(x, off, n, max));
    }

    @Override
    public void crossEntropyBackward(Storage ls, int[] targets, Storage lses, Storage gradOut, Storage ds, int rows,
                                     int classes, int ignoreIndex, float scale) {
        float[] logits = data(ls), lse = data(lses), d = data(ds);
        double g = rows == 0 ? 0 : (double) data(gradOut)[0] * scale;
        for (int r = 0; r < rows; r++) {
            int off = r * classes;
            if (targets[r] == ignoreIndex) {
                Arrays.fill(d, off, off + classes, 0f);
                continue;
            }
            for (int j = 0; j < classes; j++) {
                d[off + j] = (float) (g * (Math.exp(logits[off + j] - lse[r]) - (j == targets[r] ? 1 : 0)));
            }
        }
    }

    // ---- convolution: oneDNN (NativeConv) where present, else im2col and float32 matrix products (CpuConv) ----

    @Override
    public void conv2d(ConvShape s, Storage xs, Storage ws, Storage ys) {
        conv2d(s, xs, ws, null, ys);
    }

    @Override
    public void conv2d(ConvShape s, Storage xs, Storage ws, Storage bs, Storage ys) {
        float[] bias = bs == null ? null : data(bs);
        convolution(xs, ws, ys, (x, w, y) -> {
            if (!NativeConv.forward(s, x, w, bias, y)) {
                CpuConv.forward(s, x, w, y);
                if (bias != null) {
                    CpuBroadcastSums.addChannelBias(y, bias, y, s.n(), s.k(), s.outH() * s.outW());
                }
            }
        });
    }

    @Override
    public void conv2dBackwardData(ConvShape s, Storage ws, Storage dys, Storage dxs) {
        conv2dBackward(s, null, ws, dys, dxs, null, null);
    }

    @Override
    public void conv2dBackwardFilter(ConvShape s, Storage xs, Storage dys, Storage dws) {
        conv2dBackward(s, xs, null, dys, null, dws, null);
    }

    @Override
    public void conv2dBackward(ConvShape s, Storage xs, Storage ws, Storage dys, Storage dxs, Storage dws, Storage dbs) {
        if (dxs != null) {
            CpuHalfOperands.checkConvolution(ws, dys, dxs);
        }
        if (dws != null) {
            CpuHalfOperands.checkConvolution(xs, dys, dws);
        }
        float[] db = dbs == null ? null : data(dbs);
        try (CpuHalfOperands f = new CpuHalfOperands("conv2dBackward")) {
            float[] dy = f.read(dys), x = dws == null ? null : f.read(xs), w = dxs == null ? null : f.read(ws);
            float[] dx = dxs == null ? null : f.read(dxs), dw = dws == null ? null : f.read(dws);
            int done = NativeConv.backward(s, x, w, dy, dx, dw, db);
            if (dx != null && (done & NativeConv.DX) == 0) {
                CpuConv.backwardData(s, w, dy, dx);
            }
            if (dw != null && (done & NativeConv.DW) == 0) {
                CpuConv.backwardFilter(s, x, dy, dw);
            }
            if (db != null && (done & NativeConv.DB) == 0) {
                CpuBroadcastSums.channelBiasBackward(dy, db, s.n(), s.k(), s.outH() * s.outW());
            }
            if (dx != null) {
                f.write(dx, dxs);
            }
            if (dw != null) {
                f.write(dw, dws);
            }
        }
    }

    /** One direction of a convolution on float32 arrays: two inputs, the output written whole. */
    private interface ConvDirection {
        void run(float[] a, float[] b, float[] out);
    }

    /** Runs {@code direction} on the operands as float32 (half ones widened, a half output rounded once). */
    private static void convolution(Storage as, Storage bs, Storage outs, ConvDirection direction) {
        CpuHalfOperands.checkConvolution(as, bs, outs);
        try (CpuHalfOperands f = new CpuHalfOperands("conv2d")) {
            float[] out = f.read(outs);
            direction.run(f.read(as), f.read(bs), out);
            f.write(out, outs);
        }
    }

    @Override
    public void addChannelBias(Storage x, Storage bias, Storage out, int n, int c, int hw) {
        CpuPointwise.addChannelBias(x, bias, out, n, c, hw);
    }

    @Override
    public void channelBiasBackward(Storage dy, Storage db, int n, int c, int hw) {
        CpuPointwise.channelBiasBackward(dy, db, n, c, hw);
    }

    // ---- pooling ----

    @Override
    public void pool2d(PoolShape s, Storage xs, Storage ys) {
        CpuPool.forward(s, data(xs), data(ys));
    }

    @Override
    public void pool2dBackward(PoolShape s, Storage xs, Storage ys, Storage dys, Storage dxs) {
        CpuPool.backward(s, data(xs), data(dys), data(dxs));
    }

    // ---- batch norm ----

    @Override
    public void batchNormTrain(int n, int c, int hw, Storage xs, Storage gs, Storage bs, Storage ys, Storage rms,
                               Storage rvs, Storage sms, Storage sis, float momentum, float eps) {
        CpuBatchNorm.train(n, c, hw, data(xs), data(gs), data(bs), data(ys), data(rms), data(rvs), data(sms), data(sis),
                momentum, eps);
    }

    @Override
    public void batchNormInference(int n, int c, int hw, Storage xs, Storage gs, Storage bs, Storage rms, Storage rvs,
                                   Storage ys, float eps) {
        float[] x = data(xs), gamma = data(gs), beta = data(bs), y = data(ys), mean = data(rms), var = data(rvs);
        for (int i = 0; i < n * c; i++) {
            int ch = i % c;
            double inv = 1 / Math.sqrt(var[ch] + (double) eps);
            for (int p = i * hw; p < (i + 1) * hw; p++) {
                y[p] = (float) ((x[p] - mean[ch]) * inv * gamma[ch] + beta[ch]);
            }
        }
    }

    @Override
    public void batchNormBackward(int n, int c, int hw, Storage xs, Storage dys, Storage gs, Storage sms, Storage sis,
                                  Storage dxs, Storage dgs, Storage dbs, float eps) {
        CpuBatchNorm.backward(n, c, hw, data(xs), data(dys), data(gs), data(sms), data(sis), data(dxs), data(dgs),
                data(dbs));
    }

    @Override
    public void dropout(Storage x, Storage y, Storage mask, long n, float p, long seed) {
        CpuPointwise.dropout(x, y, mask, n, p, seed);
    }

    // ---- optimizers ----

    @Override
    public void sgdStep(Storage ps, Storage gs, Storage bufs, long n, float lr, float momentum, float dampening,
                        float weightDecay, boolean nesterov, boolean firstStep) {
        CpuOptimizers.sgd(data(ps), data(gs), momentum != 0 ? data(bufs) : null, n, lr, momentum, dampening,
                weightDecay, nesterov, firstStep);
    }

    @Override
    public void ampUnscale(Storage gs, long n, float invScale, Storage flag) {
        float[] grad = data(gs);
        boolean nonFinite = false;
        for (int i = 0; i < n; i++) {
            nonFinite |= !Float.isFinite(grad[i]);
            grad[i] = invScale == 1f ? grad[i] : grad[i] * invScale; // as PyTorch: a scale of 1 leaves every bit
        }
        if (nonFinite) {
            data(flag)[0] = 1f;
        }
    }

    @Override
    public void adamStep(Storage ps, Storage gs, Storage ms, Storage vs, long n, float lr, float beta1, float beta2,
                         float eps, float weightDecay, boolean decoupled, int step) {
        CpuOptimizers.adam(data(ps), data(gs), data(ms), data(vs), n, lr, beta1, beta2, eps, weightDecay, decoupled,
                step);
    }

    // ---- transformer operations (CpuTransformerKernels) ----

    @Override
    public void embedding(Storage weight, int[] ids, Storage out, int dim) {
        CpuTransformerKernels.embedding(data(weight), ids, data(out), dim);
    }

    @Override
    public void embeddingBackward(Storage dOut, int[] ids, Storage dWeight, int vocab, int dim) {
        CpuTransformerKernels.embeddingBackward(data(dOut), ids, data(dWeight), dim);
    }

    @Override
    public void layerNorm(Storage x, Storage gamma, Storage beta, Storage y, Storage mean, Storage rstd, int rows,
                          int cols, float eps) {
        CpuTransformerKernels.layerNorm(data(x), gamma == null ? null : data(gamma), beta == null ? null : data(beta),
                data(y), data(mean), data(rstd), rows, cols, eps);
    }

    @Override
    public void layerNormBackward(Storage x, Storage gamma, Storage mean, Storage rstd, Storage dy, Storage dx,
                                  Storage dGamma, Storage dBeta, int rows, int cols) {
        CpuTransformerKernels.layerNormBackward(data(x), gamma == null ? null : data(gamma), data(mean), data(rstd),
                data(dy), data(dx), dGamma == null ? null : data(dGamma), dBeta == null ? null : data(dBeta), rows, cols);
    }

    @Override
    public void attentionSoftmax(Storage scores, Storage keyMask, Storage probs, int batch, int heads, int tq, int tk,
                                 float scale, boolean causal) {
        CpuTransformerKernels.attentionSoftmax(data(scores), keyMask == null ? null : data(keyMask), data(probs), batch,
                heads, tq, tk, scale, causal);
    }

    @Override
    public void attentionSoftmaxBackward(Storage p, Storage dp, Storage dScores, int rows, int cols, float scale) {
        CpuTransformerKernels.attentionSoftmaxBackward(data(p), data(dp), data(dScores), rows, cols, scale);
    }
}
