package io.jdl.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jdl.backend.DropoutMask;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every kernel in {@link NativeKernels} against a plain Java computation (in double) on random data.
 * Skipped, with the reason, where no CUDA device is usable.
 */
@Tag("gpu")
class NativeKernelsGpuTest {
    static final double TOLERANCE = 1e-5;  // |gpu - reference| <= TOLERANCE * max(1, |reference|)

    static CachingAllocator allocator;
    static Stream stream;
    static NativeKernels kernels;

    final List<DeviceMemory> buffers = new ArrayList<>();
    final Random random = new Random(20261123);

    /** Per test, so that each one is reported as skipped with the reason (a class-level skip is not). */
    @BeforeEach
    void needsGpu() {
        assumeTrue(CudaDevice.isAvailable(), () -> "no CUDA device: " + CudaDevice.unavailableReason());
        setUpOnce();
    }

    static synchronized void setUpOnce() {
        if (kernels == null) {
            CudaDevice.get(0).makeCurrent();
            allocator = new CachingAllocator();
            stream = Stream.create();
            kernels = NativeKernels.get();
        }
    }

    @AfterAll
    static void tearDown() {
        if (stream != null) {
            stream.close();
        }
        if (allocator != null) {
            allocator.close();
        }
    }

    @AfterEach
    void freeBuffers() {
        if (stream != null) {
            stream.synchronize();
        }
        buffers.forEach(DeviceMemory::close);
        buffers.clear();
    }

    // ---------------------------------------------------------------------------------------------
    // Host <-> device helpers

    DeviceMemory upload(float[] values) {
        DeviceMemory d = allocator.allocate((long) values.length * Float.BYTES);
        buffers.add(d);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocateFrom(ValueLayout.JAVA_FLOAT, values);
            stream.copyToDevice(host, 0, d, 0, host.byteSize());
            stream.synchronize();
        }
        return d;
    }

    DeviceMemory upload(int[] values) {
        DeviceMemory d = allocator.allocate((long) values.length * Integer.BYTES);
        buffers.add(d);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocateFrom(ValueLayout.JAVA_INT, values);
            stream.copyToDevice(host, 0, d, 0, host.byteSize());
            stream.synchronize();
        }
        return d;
    }

    /** n floats of NaN, so that an element a kernel forgot to write shows. */
    DeviceMemory garbage(int n) {
        DeviceMemory d = allocator.allocate((long) n * Float.BYTES);
        buffers.add(d);
        stream.memset(d, 0, 0xFF, (long) n * Float.BYTES);  // 0xFFFFFFFF is a NaN
        return d;
    }

    DeviceMemory zeros(int n) {
        DeviceMemory d = allocator.allocate((long) n * Float.BYTES);
        buffers.add(d);
        stream.memset(d, 0, 0, (long) n * Float.BYTES);
        return d;
    }

    /** Waits for the stream, then copies the first n floats back. */
    float[] download(DeviceMemory d, int n) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(ValueLayout.JAVA_FLOAT, n);
            stream.copyToHost(d, 0, host, 0, (long) n * Float.BYTES);
            stream.synchronize();
            return host.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    float[] randomFloats(int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (random.nextGaussian() * scale);
        }
        return a;
    }

    static void assertClose(String what, double[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            double a = actual[i];
            if (!(Math.abs(a - e) <= TOLERANCE * Math.max(1, Math.abs(e)))) {
                fail(what + "[" + i + "]: expected " + e + ", GPU gave " + a);
            }
        }
    }

    static void assertBitsEqual(String what, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                fail(what + "[" + i + "]: expected " + expected[i] + ", GPU gave " + actual[i]);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Reference maths

    /**
     * erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_k 2^k x^(2k+1) / (1 * 3 * ... * (2k+1)): every term positive, so
     * no cancellation, and accurate to about double rounding.
     */
    static double erf(double x) {
        if (Math.abs(x) > 6) {
            return Math.signum(x);  // erfc(6) < 3e-17
        }
        double term = x;
        double sum = x;
        for (int k = 1; k < 1000 && Math.abs(term) > 1e-17 * Math.abs(sum); k++) {
            term *= 2 * x * x / (2 * k + 1);
            sum += term;
        }
        return 2 / Math.sqrt(Math.PI) * Math.exp(-x * x) * sum;
    }

    // ---------------------------------------------------------------------------------------------
    // Activations

    static final int N = 100_003;  // not a multiple of the block size

    @Test
    void leakyRelu() {
        float slope = 0.01f;
        float[] x = randomFloats(N, 2);
        float[] dy = randomFloats(N, 1);
        DeviceMemory y = garbage(N);
        DeviceMemory dx = garbage(N);
        kernels.leakyRelu(stream, upload(x), y, N, slope);
        kernels.leakyReluBackward(stream, upload(x), upload(dy), dx, N, slope);
        float[] ey = new float[N];
        float[] edx = new float[N];
        for (int i = 0; i < N; i++) {
            ey[i] = x[i] > 0 ? x[i] : slope * x[i];
            edx[i] = x[i] > 0 ? dy[i] : slope * dy[i];
        }
        assertBitsEqual("leakyRelu y", ey, download(y, N));
        assertBitsEqual("leakyRelu dx", edx, download(dx, N));
    }

    @Test
    void gelu() {
        float[] x = randomFloats(N, 3);
        float[] dy = randomFloats(N, 1);
        DeviceMemory y = garbage(N);
        DeviceMemory dx = garbage(N);
        kernels.gelu(stream, upload(x), y, N);
        kernels.geluBackward(stream, upload(x), upload(dy), dx, N);
        double[] ey = new double[N];
        double[] edx = new double[N];
        for (int i = 0; i < N; i++) {
            double v = x[i];
            double cdf = 0.5 * (1 + erf(v / Math.sqrt(2)));
            double pdf = Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);
            ey[i] = v * cdf;
            edx[i] = dy[i] * (cdf + v * pdf);
        }
        assertClose("gelu y", ey, download(y, N));
        assertClose("gelu dx", edx, download(dx, N));
    }

    @Test
    void referenceErfIsRight() {
        assertEquals(0.8427007929497149, erf(1), 1e-15);
        assertEquals(-0.9953222650189527, erf(-2), 1e-15);
        assertEquals(0.9999999845827421, erf(4), 1e-15);
        assertEquals(-1.0, erf(-5.9), 1e-14);
        assertEquals(1.0, erf(7), 0);
    }

    // ---------------------------------------------------------------------------------------------
    // Softmax cross-entropy

    /** Rows x classes: a block per row, and (3000 rows) more rows than blocks, so that blocks take several. */
    @ParameterizedTest
    @CsvSource({"37, 1", "37, 10", "37, 256", "37, 1000", "37, 5003", "3000, 10"})
    void crossEntropy(int rows, int classes) {
        int ignore = -100;
        float[] logits = randomFloats(rows * classes, 4);
        logits[3] = 80f;  // large logits must not overflow: the row max is subtracted
        int[] targets = new int[rows];
        int counted = 0;
        for (int r = 0; r < rows; r++) {
            targets[r] = r % 5 == 2 ? ignore : random.nextInt(classes);
            counted += targets[r] == ignore ? 0 : 1;
        }
        float scale = 1f / counted;
        float gradOut = 0.75f;
        DeviceMemory lse = garbage(rows);
        DeviceMemory loss = garbage(1);
        DeviceMemory dLogits = garbage(rows * classes);
        DeviceMemory targetsOnDevice = upload(targets);
        try (LossKernels.Workspace w = LossKernels.Workspace.allocate(allocator, stream)) {
            for (int twice = 0; twice < 2; twice++) {  // the ticket is 0 again after a launch
                kernels.losses().crossEntropy(stream, w, upload(logits), targetsOnDevice, lse, loss, rows, classes,
                        ignore, scale);
            }
            kernels.losses().crossEntropyBackward(stream, upload(logits), targetsOnDevice, lse,
                    upload(new float[] {gradOut}), dLogits, rows, classes, ignore, scale);

            double[] eLoss = new double[1];
            double[] eLse = new double[rows];
            double[] eGrad = new double[rows * classes];
            for (int r = 0; r < rows; r++) {
                if (targets[r] == ignore) {
                    continue;  // log-sum-exp 0, gradient row 0
                }
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < classes; j++) {
                    max = Math.max(max, logits[r * classes + j]);
                }
                double sum = 0;
                for (int j = 0; j < classes; j++) {
                    sum += Math.exp(logits[r * classes + j] - max);
                }
                eLse[r] = Math.log(sum) + max;
                eLoss[0] += scale * (eLse[r] - logits[r * classes + targets[r]]);
                for (int j = 0; j < classes; j++) {
                    double p = Math.exp(logits[r * classes + j] - max) / sum;
                    eGrad[r * classes + j] = gradOut * scale * (p - (j == targets[r] ? 1 : 0));
                }
            }
            assertClose("loss", eLoss, download(loss, 1));
            assertClose("logSumExp", eLse, download(lse, rows));
            assertClose("dLogits", eGrad, download(dLogits, rows * classes));

            // In place: dLogits == logits.
            DeviceMemory inPlace = upload(logits);
            kernels.losses().crossEntropyBackward(stream, inPlace, targetsOnDevice, lse, upload(new float[] {gradOut}),
                    inPlace, rows, classes, ignore, scale);
            assertClose("dLogits in place", eGrad, download(inPlace, rows * classes));
        }
    }

    @Test
    void crossEntropyGivesNaNForAnOutOfRangeTarget() {
        int classes = 10;
        float[] logits = randomFloats(2 * classes, 1);
        DeviceMemory loss = garbage(1);
        DeviceMemory lse = garbage(2);
        DeviceMemory grad = zeros(2 * classes);
        DeviceMemory targets = upload(new int[] {3, classes});
        try (LossKernels.Workspace w = LossKernels.Workspace.allocate(allocator, stream)) {
            kernels.losses().crossEntropy(stream, w, upload(logits), targets, lse, loss, 2, classes, -1, 0.5f);
            kernels.losses().crossEntropyBackward(stream, upload(logits), targets, lse, upload(new float[] {1f}), grad, 2,
                    classes, -1, 0.5f);
            float[] g = download(grad, 2 * classes);
            assertTrue(Float.isNaN(download(loss, 1)[0]));
            assertTrue(Float.isFinite(g[0]) && Float.isNaN(g[classes]));
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Optimisers

    @ParameterizedTest
    @ValueSource(strings = {"plain", "momentum", "nesterov", "decay"})
    void sgdStep(String variant) {
        int n = 10_007;
        float lr = 0.1f;
        float momentum = variant.equals("plain") ? 0f : 0.9f;
        float dampening = variant.equals("momentum") ? 0.1f : 0f;
        float weightDecay = variant.equals("decay") || variant.equals("nesterov") ? 0.01f : 0f;
        boolean nesterov = variant.equals("nesterov");
        float[] param = randomFloats(n, 1);
        double[] eParam = new double[n];
        double[] eBuf = new double[n];
        for (int i = 0; i < n; i++) {
            eParam[i] = param[i];
        }
        DeviceMemory p = upload(param);
        DeviceMemory buf = momentum != 0 ? garbage(n) : null;  // the first step must not read it
        for (int step = 1; step <= 3; step++) {
            float[] grad = randomFloats(n, 1);
            kernels.sgdStep(stream, p, upload(grad), buf, n, lr, momentum, dampening, weightDecay, nesterov, step == 1);
            for (int i = 0; i < n; i++) {
                double g = grad[i] + weightDecay * eParam[i];
                if (momentum != 0) {
                    eBuf[i] = step == 1 ? g : momentum * eBuf[i] + (1 - dampening) * g;
                    g = nesterov ? g + momentum * eBuf[i] : eBuf[i];
                }
                eParam[i] -= lr * g;
            }
            assertClose("param after step " + step, eParam, download(p, n));
            if (buf != null) {
                assertClose("momentum buffer after step " + step, eBuf, download(buf, n));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void adamStep(boolean decoupled) {
        int n = 10_007;
        float lr = 1e-2f;
        float beta1 = 0.9f;
        float beta2 = 0.999f;
        float eps = 1e-8f;
        float weightDecay = 0.05f;
        float[] param = randomFloats(n, 1);
        double[] eParam = new double[n];
        double[] eM = new double[n];
        double[] eV = new double[n];
        for (int i = 0; i < n; i++) {
            eParam[i] = param[i];
        }
        DeviceMemory p = upload(param);
        DeviceMemory m = zeros(n);
        DeviceMemory v = zeros(n);
        for (int step = 1; step <= 4; step++) {
            float[] grad = randomFloats(n, 1);
            kernels.adamStep(stream, p, upload(grad), m, v, n, lr, beta1, beta2, eps, weightDecay, decoupled, step);
            double bc1 = 1 - Math.pow(beta1, step);
            double bc2 = 1 - Math.pow(beta2, step);
            for (int i = 0; i < n; i++) {
                double g = grad[i];
                if (decoupled) {
                    eParam[i] *= 1 - (double) lr * weightDecay;
                } else {
                    g += weightDecay * eParam[i];
                }
                eM[i] = beta1 * eM[i] + (1 - (double) beta1) * g;
                eV[i] = beta2 * eV[i] + (1 - (double) beta2) * g * g;
                eParam[i] -= lr / bc1 * eM[i] / (Math.sqrt(eV[i]) / Math.sqrt(bc2) + eps);
            }
            assertClose("m after step " + step, eM, download(m, n));
            assertClose("v after step " + step, eV, download(v, n));
            assertClose("param after step " + step, eParam, download(p, n));
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Dropout

    @ParameterizedTest
    @ValueSource(floats = {0f, 0.1f, 0.5f, 0.9f, 1f})
    void dropoutMaskIsBitIdenticalToDropoutKeep(float p) {
        long seed = random.nextLong();
        float[] x = randomFloats(N, 1);
        DeviceMemory y = garbage(N);
        DeviceMemory mask = garbage(N);
        kernels.dropout(stream, upload(x), y, mask, N, p, seed);
        float scale = 1f / (1f - p);
        float[] eMask = new float[N];
        float[] eY = new float[N];
        for (int i = 0; i < N; i++) {
            eMask[i] = DropoutMask.keep(seed, i, p) ? scale : 0f;
            eY[i] = x[i] * eMask[i];
        }
        assertBitsEqual("mask", eMask, download(mask, N));
        assertBitsEqual("y", eY, download(y, N));
    }

    // ---------------------------------------------------------------------------------------------
    // Embedding backward

    @Test
    void embeddingBackwardAccumulatesRepeatedIds() {
        int vocab = 50;
        int dim = 33;
        int n = 1000;
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = random.nextInt(vocab);
        }
        ids[7] = vocab;  // out of range: skipped
        ids[8] = -1;     // out of range: skipped
        float[] dOut = randomFloats(n * dim, 1);
        DeviceMemory dWeight = zeros(vocab * dim);
        kernels.embeddingBackward(stream, upload(dOut), upload(ids), dWeight, n, dim);
        double[] expected = new double[vocab * dim];
        for (int i = 0; i < n; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                continue;
            }
            for (int j = 0; j < dim; j++) {
                expected[ids[i] * dim + j] += dOut[i * dim + j];
            }
        }
        assertClose("dWeight", expected, download(dWeight, vocab * dim));
    }

    @Test
    void embeddingForwardGathersRows() {
        int vocab = 37;
        int dim = 19;
        int n = 1001;
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = random.nextInt(vocab);
        }
        ids[3] = vocab;  // out of range: a row of zeros
        float[] w = randomFloats(vocab * dim, 1);
        DeviceMemory out = garbage(n * dim);
        kernels.embeddingForward(stream, upload(w), upload(ids), out, n, dim);
        double[] expected = new double[n * dim];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < dim && ids[i] < vocab; j++) {
                expected[i * dim + j] = w[ids[i] * dim + j];
            }
        }
        assertClose("out", expected, download(out, n * dim));
    }

    // ---------------------------------------------------------------------------------------------
    // Attention softmax

    @Test
    void attentionSoftmaxMatchesReferenceWithMasks() {
        for (int tk : new int[] {1, 7, 33, 300, 1024}) {
            for (boolean causal : new boolean[] {false, true}) {
                for (boolean withMask : new boolean[] {false, true}) {
                    int batch = 2;
                    int heads = 3;
                    int tq = Math.min(tk, 40);
                    int rows = batch * heads * tq;
                    float scale = 0.3f;
                    float[] sc = randomFloats(rows * tk, 3);
                    float[] dp = randomFloats(rows * tk, 1);
                    float[] mask = new float[batch * tk];
                    for (int i = 0; i < mask.length; i++) {
                        mask[i] = !withMask || random.nextInt(3) != 0 ? 1f : 0f;
                    }
                    if (withMask) {
                        for (int j = 0; j < tk; j++) {
                            mask[j] = 0f;  // batch 0: every key padded -> rows of zeros
                        }
                    }
                    DeviceMemory p = garbage(rows * tk);
                    DeviceMemory ds = garbage(rows * tk);
                    kernels.attentionSoftmax(stream, upload(sc), withMask ? upload(mask) : null, p, batch, heads, tq, tk,
                            scale, causal);
                    float[] pGpu = download(p, rows * tk);
                    kernels.attentionSoftmaxBackward(stream, p, upload(dp), ds, rows, tk, scale);
                    double[] eP = new double[rows * tk];
                    double[] eDs = new double[rows * tk];
                    for (int r = 0; r < rows; r++) {
                        int i = r % tq;
                        int b = r / (heads * tq);
                        double m = Double.NEGATIVE_INFINITY;
                        double z = 0;
                        double dot = 0;
                        for (int j = 0; j < tk; j++) {
                            if (!(causal && j > i) && mask[b * tk + j] != 0f) {
                                m = Math.max(m, scale * (double) sc[r * tk + j]);
                            }
                        }
                        for (int j = 0; j < tk; j++) {
                            if (!(causal && j > i) && mask[b * tk + j] != 0f) {
                                z += Math.exp(scale * (double) sc[r * tk + j] - m);
                            }
                        }
                        for (int j = 0; j < tk; j++) {
                            boolean ok = !(causal && j > i) && mask[b * tk + j] != 0f;
                            eP[r * tk + j] = ok ? Math.exp(scale * (double) sc[r * tk + j] - m) / z : 0;
                            dot += dp[r * tk + j] * (double) pGpu[r * tk + j];
                        }
                        for (int j = 0; j < tk; j++) {
                            eDs[r * tk + j] = scale * (double) pGpu[r * tk + j] * (dp[r * tk + j] - dot);
                        }
                    }
                    String what = " tk=" + tk + " causal=" + causal + " mask=" + withMask;
                    assertClose("probs" + what, eP, pGpu);
                    assertClose("dScores" + what, eDs, download(ds, rows * tk));
                    // In place, as Tensor.attention uses both kernels.
                    DeviceMemory inPlace = upload(sc);
                    kernels.attentionSoftmax(stream, inPlace, withMask ? upload(mask) : null, inPlace, batch, heads, tq,
                            tk, scale, causal);
                    assertClose("probs in place" + what, eP, download(inPlace, rows * tk));
                    DeviceMemory dpInPlace = upload(dp);
                    kernels.attentionSoftmaxBackward(stream, p, dpInPlace, dpInPlace, rows, tk, scale);
                    assertClose("dScores in place" + what, eDs, download(dpInPlace, rows * tk));
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Layer norm

    @ParameterizedTest
    @ValueSource(ints = {1, 10, 256, 768, 1000})
    void layerNorm(int cols) {
        int rows = 19;
        float eps = 1e-5f;
        float[] x = randomFloats(rows * cols, 2);
        for (int i = 0; i < x.length; i++) {
            x[i] += 3;  // an offset, so that the mean matters
        }
        float[] gamma = randomFloats(cols, 1);
        float[] beta = randomFloats(cols, 1);
        float[] dy = randomFloats(rows * cols, 1);

        double[] eMean = new double[rows];
        double[] eRstd = new double[rows];
        double[] eY = new double[rows * cols];
        double[] eYPlain = new double[rows * cols];
        double[] eDx = new double[rows * cols];
        double[] eDxPlain = new double[rows * cols];
        double[] eDGamma = new double[cols];
        double[] eDBeta = new double[cols];
        for (int r = 0; r < rows; r++) {
            double mean = 0;
            for (int j = 0; j < cols; j++) {
                mean += x[r * cols + j];
            }
            mean /= cols;
            double var = 0;
            for (int j = 0; j < cols; j++) {
                double d = x[r * cols + j] - mean;
                var += d * d;
            }
            var /= cols;
            double rstd = 1 / Math.sqrt(var + eps);
            eMean[r] = mean;
            eRstd[r] = rstd;
            double sumG = 0;
            double sumGX = 0;
            double sumGPlain = 0;
            double sumGXPlain = 0;
            for (int j = 0; j < cols; j++) {
                int k = r * cols + j;
                double xhat = (x[k] - mean) * rstd;
                eY[k] = xhat * gamma[j] + beta[j];
                eYPlain[k] = xhat;
                double g = dy[k] * gamma[j];
                sumG += g;
                sumGX += g * xhat;
                sumGPlain += dy[k];
                sumGXPlain += dy[k] * xhat;
                eDGamma[j] += dy[k] * xhat;
                eDBeta[j] += dy[k];
            }
            for (int j = 0; j < cols; j++) {
                int k = r * cols + j;
                double xhat = (x[k] - mean) * rstd;
                eDx[k] = rstd * (dy[k] * gamma[j] - sumG / cols - xhat * sumGX / cols);
                eDxPlain[k] = rstd * (dy[k] - sumGPlain / cols - xhat * sumGXPlain / cols);
            }
        }

        DeviceMemory dX = upload(x);
        DeviceMemory dGammaIn = upload(gamma);
        DeviceMemory y = garbage(rows * cols);
        DeviceMemory mean = garbage(rows);
        DeviceMemory rstd = garbage(rows);
        kernels.layerNorm(stream, dX, dGammaIn, upload(beta), y, mean, rstd, rows, cols, eps);
        assertClose("mean", eMean, download(mean, rows));
        // rstd can be large (1/sqrt(eps) for a constant row): compare relatively.
        assertClose("rstd", eRstd, download(rstd, rows));
        assertClose("y", eY, download(y, rows * cols));

        DeviceMemory dx = garbage(rows * cols);
        DeviceMemory dGamma = garbage(cols);
        DeviceMemory dBeta = garbage(cols);
        kernels.layerNormBackward(stream, dX, dGammaIn, mean, rstd, upload(dy), dx, dGamma, dBeta, rows, cols);
        assertClose("dx", eDx, download(dx, rows * cols));
        assertClose("dGamma", eDGamma, download(dGamma, cols));
        assertClose("dBeta", eDBeta, download(dBeta, cols));

        // Without gamma and beta, in place (y == x, dx == dy), without the column sums.
        DeviceMemory yInPlace = upload(x);
        kernels.layerNorm(stream, yInPlace, null, null, yInPlace, mean, rstd, rows, cols, eps);
        assertClose("y without gamma/beta, in place", eYPlain, download(yInPlace, rows * cols));
        DeviceMemory dyInPlace = upload(dy);
        kernels.layerNormBackward(stream, dX, null, mean, rstd, dyInPlace, dyInPlace, null, null, rows, cols);
        assertClose("dx without gamma, in place", eDxPlain, download(dyInPlace, rows * cols));

        // dx == dy together with the column sums (they are computed before dy is overwritten).
        DeviceMemory dyInPlace2 = upload(dy);
        kernels.layerNormBackward(stream, dX, dGammaIn, mean, rstd, dyInPlace2, dyInPlace2, dGamma, dBeta, rows, cols);
        assertClose("dx in place", eDx, download(dyInPlace2, rows * cols));
        assertClose("dGamma with dx in place", eDGamma, download(dGamma, cols));
    }

    @Test
    void layerNormBackwardWithNoRowsZeroesTheColumnSums() {
        int cols = 40;
        DeviceMemory dGamma = garbage(cols);
        DeviceMemory dBeta = garbage(cols);
        DeviceMemory empty = zeros(1);
        kernels.layerNormBackward(stream, empty, null, empty, empty, empty, empty, dGamma, dBeta, 0, cols);
        assertClose("dGamma", new double[cols], download(dGamma, cols));
        assertClose("dBeta", new double[cols], download(dBeta, cols));
    }

    @Test
    void manyLaunchesFromSeveralThreads() throws InterruptedException {
        // The launcher keeps no shared mutable state: concurrent launches on one stream are fine.
        float[] x = randomFloats(4096, 1);
        DeviceMemory in = upload(x);
        DeviceMemory[] outs = new DeviceMemory[4];
        for (int t = 0; t < outs.length; t++) {
            outs[t] = garbage(x.length);
        }
        Thread[] threads = new Thread[outs.length];
        for (int t = 0; t < threads.length; t++) {
            DeviceMemory out = outs[t];
            threads[t] = new Thread(() -> {
                for (int i = 0; i < 200; i++) {
                    kernels.leakyRelu(stream, in, out, x.length, 0.5f);
                }
            });
            threads[t].start();
        }
        for (Thread t : threads) {
            t.join();
        }
        float[] expected = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            expected[i] = x[i] > 0 ? x[i] : 0.5f * x[i];
        }
        for (DeviceMemory out : outs) {
            assertBitsEqual("leakyRelu from a thread", expected, download(out, x.length));
        }
    }
}
