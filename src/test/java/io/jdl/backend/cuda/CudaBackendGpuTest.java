package io.jdl.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.Activation;
import io.jdl.backend.Backend;
import io.jdl.backend.ConvShape;
import io.jdl.backend.PoolShape;
import io.jdl.backend.Storage;
import io.jdl.backend.cpu.CpuBackend;
import io.jdl.cuda.CudaDevice;
import io.jdl.cuda.Gpu;
import io.jdl.device.Precision;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * CudaBackend's own rules, each against the CPU backend: operations that cuDNN cannot express directly
 * (a sum over nothing, out aliasing the second operand, zero-element operands), NaN propagation, the
 * per-thread current device and the TF32 setting of cached convolution plans.
 */
@Tag("gpu")
class CudaBackendGpuTest {
    private static final float GARBAGE = 7.5f;
    private final Random rng = new Random(7);
    private final List<Storage> storages = new ArrayList<>();

    @BeforeEach
    void needsGpu() {
        Gpu.assumeAvailable();
        Precision.tf32(false);
    }

    @AfterEach
    void free() {
        storages.forEach(Storage::close);
        storages.clear();
        Precision.defaults();  // for the classes after this one
    }

    /** A storage on {@code b} holding {@code values}. */
    private Storage on(Backend b, float... values) {
        Storage s = b.upload(values);
        storages.add(s);
        return s;
    }

    /** An output of n elements on {@code b}, prefilled with garbage so that a missing write shows. */
    private Storage out(Backend b, int n) {
        float[] g = new float[n];
        java.util.Arrays.fill(g, GARBAGE);
        return on(b, g);
    }

    private float[] random(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return v;
    }

    private interface Op {
        void run(Backend b, Storage[] in, Storage out);
    }

    /** The op's output on CUDA and on the CPU, from the same inputs. */
    private float[][] both(int outSize, Op op, float[]... inputs) {
        float[][] results = new float[2][];
        Backend[] backends = {CudaBackend.get(0), CpuBackend.INSTANCE};
        for (int i = 0; i < 2; i++) {
            Backend b = backends[i];
            Storage[] in = new Storage[inputs.length];
            for (int j = 0; j < inputs.length; j++) {
                in[j] = on(b, inputs[j]);
            }
            Storage o = out(b, outSize);
            op.run(b, in, o);
            results[i] = b.download(o, outSize);
        }
        return results;
    }

    private void same(int outSize, Op op, float[]... inputs) {
        float[][] r = both(outSize, op, inputs);
        assertArrayEquals(r[1], r[0], 1e-5f);
    }

    @Test
    void sumOverAnAxisOfSizeOneIsACopy() {
        float[] x = random(12);
        same(12, (b, in, o) -> b.sum(in[0], o, 3, 1, 4), x);
        same(1, (b, in, o) -> b.sum(in[0], o, 1, 1, 1), new float[] {2.5f});
        same(4, (b, in, o) -> b.sum(in[0], o, 1, 3, 4), x);
    }

    @Test
    void sumOverAnEmptyAxisIsZero() {
        float[][] r = both(6, (b, in, o) -> b.sum(in[0], o, 2, 0, 3), new float[0]);
        assertArrayEquals(new float[6], r[0]);
        assertArrayEquals(r[1], r[0]);
    }

    @Test
    void mulMayWriteIntoEitherInput() {
        float[] a = random(10), b = random(10);
        float[] expected = new float[10];
        for (int i = 0; i < 10; i++) {
            expected[i] = a[i] * b[i];
        }
        CudaBackend gpu = CudaBackend.get(0);
        Storage ga = on(gpu, a), gb = on(gpu, b);
        gpu.mul(ga, gb, gb, 10);
        assertArrayEquals(expected, gpu.download(gb, 10), 1e-6f);
        Storage ga2 = on(gpu, a), gb2 = on(gpu, b);
        gpu.mul(ga2, gb2, ga2, 10);
        assertArrayEquals(expected, gpu.download(ga2, 10), 1e-6f);
        Storage g = on(gpu, a);
        gpu.mul(g, g, g, 10);
        float[] squares = new float[10];
        for (int i = 0; i < 10; i++) {
            squares[i] = a[i] * a[i];
        }
        assertArrayEquals(squares, gpu.download(g, 10), 1e-6f);
    }

    @Test
    void nanPropagatesAsOnTheCpu() {
        float nan = Float.NaN;
        float[] x = {nan, -1f, 2f, 0.5f};
        for (Activation act : new Activation[] {Activation.RELU, Activation.SIGMOID, Activation.TANH}) {
            float[][] r = both(4, (b, in, o) -> b.activation(act, 0f, in[0], o, 4), x);
            assertTrue(Float.isNaN(r[1][0]), "CPU " + act + "(NaN)");
            assertTrue(Float.isNaN(r[0][0]), "CUDA " + act + "(NaN) is " + r[0][0]);
            assertArrayEquals(java.util.Arrays.copyOfRange(r[1], 1, 4), java.util.Arrays.copyOfRange(r[0], 1, 4), 1e-6f);
        }
        // ReLU's gradient passes dy at a NaN input of either sign, as PyTorch's threshold_backward (x <= 0 is false).
        float[] xs = {nan, Float.intBitsToFloat(0xffc00001), -1f, -0f, 0f, 2f, Float.NEGATIVE_INFINITY, Float.MIN_VALUE};
        float[] dy = {3, 4, 5, 6, 7, 8, 9, 10};
        float[][] grads = both(8, (b, in, o) -> b.activationBackward(Activation.RELU, 0f, in[0], in[0], in[1], o, 8), xs, dy);
        assertArrayEquals(new float[] {3, 4, 0, 0, 0, 8, 0, 10}, grads[0], "CUDA");
        assertArrayEquals(grads[0], grads[1], "CPU");
        // 2x2 max pooling over a 2x4 image: the window holding a NaN gives NaN, as in PyTorch.
        CudaBackend gpu = CudaBackend.get(0);
        PoolShape pool = new PoolShape(true, 1, 1, 2, 4, 2, 2, 0, 0, 2, 2);
        Storage y = out(gpu, 2);
        gpu.pool2d(pool, on(gpu, 1, nan, 3, 4, 5, 6, 7, 8), y);
        float[] pooled = gpu.download(y, 2);
        assertTrue(Float.isNaN(pooled[0]), "max pool over a NaN gives " + pooled[0]);
        assertEquals(8f, pooled[1]);
    }

    @Test
    void zeroElementOperandsAreAcceptedAsOnTheCpu() {
        float[] none = new float[0];
        same(0, (b, in, o) -> b.mul(in[0], in[1], o, 0), none, none);
        same(0, (b, in, o) -> b.activation(Activation.RELU, 0f, in[0], o, 0), none);
        same(0, (b, in, o) -> b.activation(Activation.GELU, 0f, in[0], o, 0), none);
        same(0, (b, in, o) -> b.softmax(false, in[0], o, 0, 5), none);
        same(0, (b, in, o) -> b.addBias(in[0], in[1], o, 0, 3), none, random(3));
        same(0, (b, in, o) -> b.broadcast(in[0], o, 0, 4, 2), none);
        same(0, (b, in, o) -> b.permute(in[0], o, new int[] {2, 0, 3}, new int[] {2, 0, 1}), none);
        same(0, (b, in, o) -> b.sum(in[0], o, 0, 4, 2), none);
        same(0, (b, in, o) -> b.matmul(false, false, 1, 0, 3, 4, in[0], in[1], o), none, random(12));
        same(0, (b, in, o) -> b.fill(o, 1f));
        // An inner dimension of 0: the product of empty matrices is a zero matrix.
        same(6, (b, in, o) -> b.matmul(false, false, 1, 2, 3, 0, in[0], in[1], o), none, none);
        ConvShape emptyBatch = new ConvShape(0, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        same(0, (b, in, o) -> b.conv2d(emptyBatch, in[0], in[1], o), none, random(54));
        // No batch: the filter gradient is zero.
        same(54, (b, in, o) -> b.conv2dBackwardFilter(emptyBatch, in[0], in[1], o), none, none);
        PoolShape emptyPool = new PoolShape(true, 0, 2, 4, 4, 2, 2, 0, 0, 2, 2);
        same(0, (b, in, o) -> b.pool2d(emptyPool, in[0], o), none);
    }

    @Test
    void aBackendWorksFromAnyThread() throws Exception {
        Assumptions.assumeTrue(CudaDevice.count() >= 2, "needs two CUDA devices");
        CudaBackend second = CudaBackend.get(1);  // device 1 becomes current on this thread only
        float[] a = random(8), b = random(8);
        float[] product = CompletableFuture.supplyAsync(() -> {
            // A fresh thread: its current device is 0 until the backend makes device 1 current.
            Storage sa = second.upload(a), sb = second.upload(b), so = second.allocate(8);
            second.mul(sa, sb, so, 8);
            float[] result = second.download(so, 8);
            sa.close();
            sb.close();
            so.close();
            return result;
        }).get();
        for (int i = 0; i < 8; i++) {
            assertEquals(a[i] * b[i], product[i], 1e-6f);
        }
    }

    /** Odd sizes (not multiples of a block, a block and one, more than the grid-stride cap needs). */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(ints = {1, 7, 257, 3001})
    void pointwiseKernelsMatchTheCpu(int n) {
        float[] a = random(n), b = random(n), dy = random(n), s = {1.75f};
        same(n, (be, in, o) -> be.axpby(0.5f, in[0], -3f, in[1], o, n), a, b);
        same(n, (be, in, o) -> be.mul(in[0], in[1], o, n), a, b);
        same(n, (be, in, o) -> be.mulScalar(in[0], in[1], o, n), a, s);
        same(n, (be, in, o) -> be.fill(o, -2.5f), a);
        for (Activation act : Activation.values()) {
            same(n, (be, in, o) -> be.activation(act, 0.01f, in[0], o, n), a);
            // the backward from the forward output y, computed on each backend from the same x
            same(n, (be, in, o) -> {
                Storage y = be.allocate(n);
                storages.add(y);
                be.activation(act, 0.01f, in[0], y, n);
                be.activationBackward(act, 0.01f, in[0], y, in[1], o, n);
            }, a, dy);
        }
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"3,7,5", "1,300,37", "129,513,1", "2,1,9", "5,2,1"})
    void biasesBroadcastAndSumsMatchTheCpu(int outer, int dim, int inner) {
        int n = outer * dim * inner;
        float[] x = random(n), small = random(outer * inner), bias = random(dim);
        same(n, (be, in, o) -> be.broadcast(in[0], o, outer, dim, inner), small);
        same(n, (be, in, o) -> be.addChannelBias(in[0], in[1], o, outer, dim, inner), x, bias);
        same(n, (be, in, o) -> be.addChannelBias(in[0], in[1], in[0], outer, dim, inner) , x, bias);
        float[][] sums = both(outer * inner, (be, in, o) -> be.sum(in[0], o, outer, dim, inner), x);
        assertArrayEquals(sums[1], sums[0], 1e-4f);  // float sums of up to 513 terms, in another order
        float[][] db = both(dim, (be, in, o) -> be.channelBiasBackward(in[0], o, outer, dim, inner), x);
        assertArrayEquals(db[1], db[0], 1e-4f);
        same(outer * dim, (be, in, o) -> be.addBias(in[0], in[1], o, outer, dim), random(outer * dim), bias);
    }

    /** Enough rows for the column sums to run in row chunks (then a finishing pass), and a short last chunk. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"1001,300", "5000,7", "3,40"})
    void layerNormBackwardInRowChunksMatchesTheCpu(int rows, int cols) {
        float[] x = random(rows * cols), dy = random(rows * cols), gamma = random(cols);
        for (int k = 0; k < 3; k++) {
            // k: dx, dGamma, dBeta, each from the same forward and backward on both backends
            int which = k, outSize = k == 0 ? rows * cols : cols;
            float[][] r = both(outSize, (be, in, o) -> {
                Storage y = be.allocate((long) rows * cols), mean = be.allocate(rows), rstd = be.allocate(rows);
                Storage dx = be.allocate((long) rows * cols), dg = be.allocate(cols), db = be.allocate(cols);
                storages.addAll(List.of(y, mean, rstd, dx, dg, db));
                be.layerNorm(in[0], in[2], null, y, mean, rstd, rows, cols, 1e-5f);
                be.layerNormBackward(in[0], in[2], mean, rstd, in[1], which == 0 ? o : dx, which == 1 ? o : dg,
                        which == 2 ? o : db, rows, cols);
            }, x, dy, gamma);
            assertArrayEquals(r[1], r[0], 1e-3f, "output " + k);  // sums of up to 5000 terms in another order
        }
    }

    @Test
    void pointwiseKernelsNameAShortOperand() {
        CudaBackend gpu = CudaBackend.get(0);
        try (io.jdl.cuda.DeviceMemory small = gpu.allocator().allocate(8 * Float.BYTES);
             io.jdl.cuda.DeviceMemory big = gpu.allocator().allocate(16 * Float.BYTES)) {
            var k = io.jdl.cuda.NativeKernels.get().pointwise();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> k.axpby(gpu.stream(), 1f, big, 1f, small, big, 16));
            assertTrue(e.getMessage().startsWith("b holds 32 bytes"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> k.addBias(gpu.stream(), big, small, big, 1, 9, 1));
            assertTrue(e.getMessage().startsWith("x holds 64 bytes") || e.getMessage().startsWith("bias holds"),
                    e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> k.sum(gpu.stream(), big, small, 3, 1, 3));
            assertTrue(e.getMessage().startsWith("out holds 32 bytes"), e.getMessage());
        }
    }

    @Test
    void convolutionPlansFollowTheTf32Setting() {
        ConvShape s = new ConvShape(2, 8, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        float[] x = random(2 * 8 * 36), w = random(4 * 8 * 9);
        int outSize = 2 * 4 * 36;
        Precision.cudnnAllowTf32(true);
        float[][] on = both(outSize, (b, in, o) -> b.conv2d(s, in[0], in[1], o), x, w);  // caches a plan with TF32 on
        Precision.cudnnAllowTf32(false);
        float[][] r = both(outSize, (b, in, o) -> b.conv2d(s, in[0], in[1], o), x, w);
        double err = Gpu.relativeError(r[0], r[1]);
        assertTrue(err < 1e-5, "with TF32 off the convolution is float32-exact, relative error " + err);
        double tf32Err = Gpu.relativeError(on[0], on[1]);
        assertTrue(tf32Err < 1e-2, "TF32 keeps about 3 digits, relative error " + tf32Err);
    }

    @Test
    void productsFollowTheMatmulPrecision() {
        CudaBackend gpu = CudaBackend.get(0);
        float[] a = random(6 * 5), b = random(5 * 4);
        for (Precision.MatmulPrecision p : Precision.MatmulPrecision.values()) {
            Precision.float32MatmulPrecision(p);
            both(6 * 4, (be, in, o) -> be.matmul(false, false, 1, 6, 4, 5, in[0], in[1], o), a, b);
            // CUBLAS_DEFAULT_MATH = 0, CUBLAS_TF32_TENSOR_OP_MATH = 3: what the handle holds after the product.
            assertEquals(p == Precision.MatmulPrecision.HIGH ? 3 : 0, gpu.cublas().mathMode(), p.toString());
        }
    }

    @Test
    void precisionDefaultsAreTorchs() {
        Precision.defaults();
        assertEquals(Precision.MatmulPrecision.HIGHEST, Precision.float32MatmulPrecision());
        assertTrue(Precision.cudnnAllowTf32());
        assertThrows(IllegalArgumentException.class, () -> Precision.float32MatmulPrecision(null));
    }
}
