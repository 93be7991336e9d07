package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.autograd.Autograd;
import io.jdl.autograd.GradCheck;
import io.jdl.autograd.NoGrad;
import io.jdl.backend.cpu.CpuStorage;
import io.jdl.device.DType;
import io.jdl.device.Device;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code expand} as a stride-0 broadcast view (PyTorch's semantics): no allocation, shared memory and version, every
 * op family fed a view giving the values and gradients it gives the dense copy, matmul's broadcast batch read in
 * place, in-place writes refused, lifetime in either order, views of views, the leak detector.
 */
class ExpandViewTest {
    static final Device CPU = Device.CPU;

    /** One op applied to an expanded input: base shape, expanded dims, the op (other operands made inside). */
    record Case(String name, int[] base, int[] dims, Function<Tensor, Tensor> op) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Case c(String name, int[] base, int[] dims, Function<Tensor, Tensor> op) {
        return new Case(name, base, dims, op);
    }

    /** A fixed tensor of random values (seeded by its size), made on x's device. */
    static Tensor fixed(Tensor x, int... dims) {
        Shape s = Shape.of(dims);
        return Tensor.of(GradCheck.randn(new Random(s.numel() * 31 + dims.length), (int) s.numel()), s, x.device());
    }

    static final int[] B = {1, 3, 1}, X = {2, 3, 4}, IB = {1, 2, 1, 5}, IMG = {2, 2, 4, 5};

    static List<Case> cases() {
        return List.of(
                c("relu", B, X, Tensor::relu), c("sigmoid", B, X, Tensor::sigmoid), c("tanh", B, X, Tensor::tanh),
                c("gelu", B, X, Tensor::gelu), c("leakyRelu", B, X, x -> x.leakyRelu(0.1f)),
                c("scale", B, X, x -> x.scale(-2f)), c("softmax", new int[] {2, 1, 4}, X, Tensor::softmax),
                c("logSoftmax", new int[] {1, 4}, X, Tensor::logSoftmax),
                c("dropout", B, X, x -> x.dropout(0.3f, 11, true)), c("sum", B, X, Tensor::sum),
                c("mean", B, X, Tensor::mean), c("sum axis", B, X, x -> x.sum(1)), c("mean axis", B, X, x -> x.mean(2)),
                c("add dense", B, X, x -> x.add(fixed(x, X))), c("add itself", B, X, x -> x.add(x)),
                c("sub broadcast", B, X, x -> x.sub(fixed(x, 4))), c("mul broadcast", B, X, x -> x.mul(fixed(x, 3, 1))),
                c("mul dense first", B, X, x -> fixed(x, X).mul(x)),
                c("add > 4 merged dims", new int[] {2, 1, 3, 1, 2}, new int[] {2, 2, 3, 2, 2},
                        x -> x.add(fixed(x, 1, 2, 1, 2, 1))),
                c("addBias", B, X, x -> x.addBias(fixed(x, 4))), c("mse", B, X, x -> x.mse(fixed(x, X))),
                c("matmul left", B, X, x -> x.matmul(fixed(x, 4, 5))),
                c("matmul right", B, X, x -> fixed(x, 2, 5, 3).matmul(x)),
                c("matmul both transposed", new int[] {3, 1}, X, x -> fixed(x, 1, 5, 4).matmul(x, false, true)),
                c("linear", B, X, x -> x.linear(fixed(x, 5, 4), fixed(x, 5))),
                c("layerNorm", new int[] {2, 1, 4}, X, x -> x.layerNorm(fixed(x, 4), fixed(x, 4), 1e-5f)),
                c("crossEntropy", new int[] {1, 4}, new int[] {6, 4}, x -> x.crossEntropy(new int[] {0, 1, 2, 3, 1, 0})),
                c("transpose", B, X, x -> x.transpose(0, 2)), c("permute", B, X, x -> x.permute(2, 0, 1)),
                c("concat", B, X, x -> Tensor.concat(0, x, fixed(x, 1, 3, 4))),
                c("split", B, X, x -> x.split(2, 1, 3)[1]), c("reshape (copies)", B, X, x -> x.reshape(6, 4)),
                c("reshape (views)", B, X, x -> x.reshape(2, 3, 2, 2)), c("flatten", B, X, x -> x.flatten(1)),
                c("unsqueeze", B, X, x -> x.unsqueeze(1)), c("squeeze", new int[] {1, 1, 4}, new int[] {3, 1, 4},
                        x -> x.squeeze(1)),
                c("expand again", B, X, x -> x.unsqueeze(0).expand(2, 2, 3, 4)),
                c("contiguous", B, X, Tensor::contiguous), c("bfloat16 round trip", B, X,
                        x -> x.to(DType.BFLOAT16).to(DType.FLOAT32)),
                c("conv2d", IB, IMG, x -> x.conv2d(fixed(x, 3, 2, 3, 3), fixed(x, 3), 1, 1, 1, 1)),
                c("maxPool2d", IB, IMG, x -> x.maxPool2d(2, 2, 0)), c("avgPool2d", IB, IMG, x -> x.avgPool2d(3, 1, 1)),
                c("batchNorm2d", new int[] {2, 2, 1, 1}, IMG, x -> x.batchNorm2d(fixed(x, 2), fixed(x, 2),
                        Tensor.zeros(Shape.of(2), x.device()), Tensor.full(Shape.of(2), 1f, x.device()), true, 0.1f,
                        1e-5f)),
                c("embedding weight", new int[] {1, 4}, new int[] {5, 4}, x -> x.embedding(new int[] {4, 0, 4}, 3)),
                c("attention q", new int[] {1, 1, 3, 4}, new int[] {1, 2, 3, 4},
                        x -> x.scaledDotProductAttention(fixed(x, 1, 2, 3, 4), fixed(x, 1, 2, 3, 4), true, null, 0f, 0)),
                c("selfAttention qkv", new int[] {1, 3, 12}, new int[] {2, 3, 12},
                        x -> x.selfAttention(2, true, null, 0f, 0, false).output()));
    }

    static Stream<Case> allCases() {
        return cases().stream();
    }

    /** y = op(input) and the gradient of Σ y·r for the base (view) or for the dense input, summed on the host. */
    static float[][] run(Case c, Device device, boolean view) {
        Shape base = Shape.of(c.base), dims = Shape.of(c.dims);
        float[] values = GradCheck.randn(new Random(7), (int) base.numel());
        try (TensorScope scope = TensorScope.open()) {
            Tensor b = Tensor.of(values, base, device).requiresGrad(true);
            Tensor input = view ? b.expand(c.dims)
                    : Tensor.of(expandOnHost(values, c.base, c.dims), dims, device).requiresGrad(true);
            assertEquals(view, input.broadcast != null, "expand makes a broadcast view");
            Tensor y = c.op.apply(input);
            float[] out = y.toArray();
            Tensor r = Tensor.of(GradCheck.randn(new Random(3), out.length), y.shape(), device);
            y.mul(r).sum().backward();
            float[] grad = view ? b.grad().toArray() : sumOnHost(input.grad().toArray(), c.dims, c.base);
            return new float[][] {out, grad};
        }
    }

    /** Row-major index of base element for each element of dims (base padded with leading 1s). */
    static int[] baseIndex(int[] base, int[] dims) {
        int rank = dims.length, n = (int) Shape.of(dims).numel();
        int[] pb = new int[rank];
        java.util.Arrays.fill(pb, 1);
        System.arraycopy(base, 0, pb, rank - base.length, base.length);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            int rest = i, idx = 0, step = 1;
            for (int d = rank - 1; d >= 0; d--) {
                int k = rest % dims[d];
                rest /= dims[d];
                idx += (pb[d] == 1 ? 0 : k) * step;
                step *= pb[d];
            }
            out[i] = idx;
        }
        return out;
    }

    static float[] expandOnHost(float[] values, int[] base, int[] dims) {
        int[] idx = baseIndex(base, dims);
        float[] out = new float[idx.length];
        for (int i = 0; i < idx.length; i++) {
            out[i] = values[idx[i]];
        }
        return out;
    }

    static float[] sumOnHost(float[] g, int[] dims, int[] base) {
        int[] idx = baseIndex(base, dims);
        double[] acc = new double[(int) Shape.of(base).numel()];
        for (int i = 0; i < idx.length; i++) {
            acc[idx[i]] += g[i];
        }
        float[] out = new float[acc.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) acc[i];
        }
        return out;
    }

    static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-5f * Math.max(1f, Math.abs(expected[i])), what + " [" + i + "]");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("allCases")
    void everyOpFamilyGivesTheDenseCopysValuesAndGradients(Case c) {
        long live = CpuStorage.liveCount();
        float[][] dense = run(c, CPU, false), view = run(c, CPU, true);
        assertClose(dense[0], view[0], c.name + " values");
        assertClose(dense[1], view[1], c.name + " base gradient");
        assertEquals(live, CpuStorage.liveCount(), c.name + ": nothing left allocated (materialised copies freed)");
    }

    @Test
    void expandIsAViewSharingMemoryAndVersion() {
        try (Tensor x = Tensor.of(new float[] {1, 2, 3}, 3, 1)) {
            long allocated = CpuStorage.allocationCount(), live = CpuStorage.liveCount();
            try (Tensor v = x.expand(2, 3, 4); Tensor same = x.expand(-1, 1)) {
                assertEquals(allocated, CpuStorage.allocationCount(), "expand allocates nothing");
                assertEquals(live, CpuStorage.liveCount());
                assertTrue(v.memory().sharesMemoryWith(x.memory()));
                assertArrayEquals(new long[] {0, 1, 0}, v.strides(), "stride 0 along the repeated dimensions");
                assertNull(same.broadcast, "an expand that repeats nothing is a plain view");
                assertEquals(Shape.of(2, 3, 4), v.shape());
                assertArrayEquals(expandOnHost(new float[] {1, 2, 3}, new int[] {3, 1}, new int[] {2, 3, 4}),
                        v.toArray());
                x.fill(5f);
                assertEquals(1, v.version(), "the base's in-place writes count in the view's version");
                float[] fives = new float[24];
                java.util.Arrays.fill(fives, 5f);
                assertArrayEquals(fives, v.toArray(), "and are seen through it");
            }
            assertThrows(IllegalArgumentException.class, () -> x.expand(2, 1));
            assertThrows(IllegalArgumentException.class, () -> x.expand(4));
            assertThrows(IllegalArgumentException.class, () -> x.expand(-2, 3, 1));
            try (Tensor ids = Tensor.of(new long[] {1, 2}, Shape.of(2, 1), CPU)) {
                var e = assertThrows(IllegalArgumentException.class, () -> ids.expand(2, 3));
                assertTrue(e.getMessage().contains("expand") && e.getMessage().contains("INT64"), e.getMessage());
            }
        }
    }

    @Test
    void inPlaceWritesIntoAViewAreRefusedAsInPyTorch() {
        try (Tensor x = Tensor.of(new float[] {1, 2, 3}, 3, 1); Tensor v = x.expand(3, 4);
             Tensor src = Tensor.zeros(Shape.of(3, 4), CPU); Tensor g = Tensor.zeros(Shape.of(3, 4), CPU);
             Tensor flag = Tensor.zeros(Shape.of(1), CPU)) {
            for (Runnable write : List.<Runnable>of(() -> v.fill(0f), () -> v.copyFrom(src),
                    () -> OptimizerSteps.sgd(v, g, null, 0.1f, 0f, 0f, 0f, false, true),
                    () -> OptimizerSteps.adam(v, g, src, src, 0.1f, 0.9f, 0.99f, 1e-8f, 0f, false, 1),
                    () -> OptimizerSteps.ampUnscale(v, 0.5f, flag))) {
                var e = assertThrows(IllegalStateException.class, write::run);
                assertTrue(e.getMessage().contains("more than one element of the written-to tensor refers to a single"
                        + " memory location") && e.getMessage().contains("clone()"), e.getMessage());
            }
            assertArrayEquals(new float[] {1, 2, 3}, x.toArray(), "nothing was written");
            try (Tensor one = Tensor.zeros(Shape.of(1), CPU); Tensor rm = one.expand(2);
                 Tensor rv = Tensor.zeros(Shape.of(2), CPU); Tensor gamma = Tensor.full(Shape.of(2), 1f, CPU);
                 Tensor img = Tensor.zeros(Shape.of(2, 2, 1, 1), CPU)) {
                var e = assertThrows(IllegalStateException.class,
                        () -> img.batchNorm2d(gamma, rv, rm, rv, true, 0.1f, 1e-5f));
                assertTrue(e.getMessage().startsWith("batchNorm2d: unsupported operation"), e.getMessage());
            }
            try (Tensor d = v.contiguous(); Tensor det = v.detach()) {
                assertNull(d.broadcast);
                d.fill(1f);  // a dense copy takes writes
                det.fill(2f);
                assertArrayEquals(new float[] {1, 2, 3}, x.toArray());
            }
        }
    }

    @Test
    void baseAndViewCloseInEitherOrderAndTheMaterialisedCopyGoesWithTheView() {
        long live = CpuStorage.liveCount();
        Tensor x = Tensor.of(new float[] {1, 2}, 2, 1);
        Tensor v = x.expand(2, 3);
        x.close();
        try (Tensor r = v.relu()) {  // relu reads v dense: a materialised copy, kept by v
            assertArrayEquals(new float[] {1, 1, 1, 2, 2, 2}, r.toArray());
        }
        assertEquals(live + 2, CpuStorage.liveCount(), "the base's memory and v's materialised copy");
        v.close();
        assertEquals(live, CpuStorage.liveCount());

        Tensor y = Tensor.of(new float[] {1, 2}, 2, 1);
        Tensor w = y.expand(2, 3);
        w.toArray();
        w.close();
        assertArrayEquals(new float[] {1, 2}, y.toArray());
        y.close();
        assertEquals(live, CpuStorage.liveCount());
        assertThrows(IllegalStateException.class, () -> y.expand(2, 3));
    }

    @Test
    void viewsOfAViewStayViewsWhereStridesAllowAndCopyOtherwise() {
        try (Tensor x = Tensor.of(new float[] {1, 2, 3}, 1, 3); Tensor v = x.expand(4, 3)) {
            long allocated = CpuStorage.allocationCount();
            try (Tensor split = v.reshape(2, 2, 3); Tensor u = v.unsqueeze(1); Tensor s = u.squeeze(1);
                 Tensor e = u.expand(4, 5, 3)) {
                assertEquals(allocated, CpuStorage.allocationCount(), "regrouped repeats stay views");
                assertArrayEquals(new long[] {0, 0, 1}, split.strides());
                assertArrayEquals(new long[] {0, 0, 1}, e.strides());
                assertArrayEquals(v.toArray(), s.toArray());
            }
            allocated = CpuStorage.allocationCount();
            try (Tensor flat = v.reshape(12)) {  // the repeat cannot be strided as one dimension: PyTorch copies
                assertEquals(allocated + 1, CpuStorage.allocationCount());
                assertNull(flat.broadcast);
                assertArrayEquals(new float[] {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3}, flat.toArray());
            }
        }
        assertArrayEquals(new long[] {0, 3, 1}, Views.restrided(new int[] {4, 3}, new long[] {0, 1},
                new int[] {4, 1, 3}));
        assertNull(Views.restrided(new int[] {4, 3}, new long[] {0, 1}, new int[] {12}));
        assertArrayEquals(new long[] {0, 0}, Views.restrided(new int[] {6}, new long[] {0}, new int[] {2, 3}));
    }

    /** torch.matmul on the host: a [.., m, k], b [.., k, n], batch dimensions broadcast. */
    static float[] matmulOnHost(float[] a, int[] as, float[] b, int[] bs, int[] outDims) {
        int rank = outDims.length, m = outDims[rank - 2], n = outDims[rank - 1], k = as[as.length - 1];
        int[] batch = java.util.Arrays.copyOf(outDims, rank - 2);
        int[] ab = java.util.Arrays.copyOf(as, as.length - 2), bb = java.util.Arrays.copyOf(bs, bs.length - 2);
        int[] ai = baseIndex(ab, batch), bi = baseIndex(bb, batch);
        float[] out = new float[(int) Shape.of(outDims).numel()];
        for (int p = 0; p < ai.length; p++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double acc = 0;
                    for (int q = 0; q < k; q++) {
                        acc += a[ai[p] * m * k + i * k + q] * b[bi[p] * k * n + q * n + j];
                    }
                    out[p * m * n + i * n + j] = (float) acc;
                }
            }
        }
        return out;
    }

    @Test
    void matmulReadsBroadcastBatchesInPlaceWithPyTorchsSemantics() {
        int[][][] shapes = {{{3, 5, 4}, {4, 6}}, {{1, 2, 3}, {4, 3, 5}}, {{2, 3}, {4, 3, 5}}, {{4, 2, 3}, {1, 3, 5}},
            {{2, 1, 2, 3}, {3, 3, 5}}, {{2, 1, 3, 1, 2, 3}, {1, 2, 1, 2, 3, 2}}, {{3, 1, 2, 0}, {2, 0, 4}},
            {{1, 48, 40}, {3, 40, 56}}};  // the last above oneDNN's threshold (when it is on), the others Java's
        Random rng = new Random(9);
        for (int[][] s : shapes) {
            Shape as = Shape.of(s[0]), bs = Shape.of(s[1]);
            float[] av = GradCheck.randn(rng, (int) as.numel()), bv = GradCheck.randn(rng, (int) bs.numel());
            try (Tensor a = Tensor.of(av, as, CPU); Tensor b = Tensor.of(bv, bs, CPU); NoGrad ignored = Autograd.noGrad()) {
                long allocated = CpuStorage.allocationCount();
                try (Tensor y = a.matmul(b)) {
                    assertEquals(allocated + 1, CpuStorage.allocationCount(), as + "·" + bs + ": only the result");
                    assertClose(matmulOnHost(av, s[0], bv, s[1], y.shape().dims()), y.toArray(), as + "·" + bs);
                }
            }
        }
        // [1, m, k]·[b, k, n] with b expanded from [k, n], and both operands expanded views.
        try (Tensor a = Tensor.of(GradCheck.randn(rng, 6), 1, 2, 3); Tensor w = Tensor.of(GradCheck.randn(rng, 15), 3, 5);
             Tensor we = w.expand(4, 3, 5); Tensor ae = a.expand(4, 2, 3); NoGrad ignored = Autograd.noGrad()) {
            long allocated = CpuStorage.allocationCount();
            try (Tensor y = ae.matmul(we); Tensor ref = a.matmul(w)) {
                assertEquals(allocated + 2, CpuStorage.allocationCount(), "no expanded copy of either operand");
                float[] one = ref.toArray(), all = y.toArray();
                for (int i = 0; i < all.length; i++) {
                    assertEquals(one[i % one.length], all[i], 1e-6f);
                }
            }
        }
    }

    @Test
    void matmulOverABroadcastBatchHasFiniteDifferenceGradients() {
        Random rng = new Random(4);
        GradCheck.check("[1,2,3]·[4,3,5]", t -> t[0].matmul(t[1]), 1e-2, new float[][] {GradCheck.randn(rng, 6),
            GradCheck.randn(rng, 60)}, Shape.of(1, 2, 3), Shape.of(4, 3, 5));
        GradCheck.check("[2,1,3,2]ᵀ·[3,3,4]", t -> t[0].matmul(t[1], true, false), 1e-2, new float[][] {
            GradCheck.randn(rng, 12), GradCheck.randn(rng, 36)}, Shape.of(2, 1, 3, 2), Shape.of(3, 3, 4));
        GradCheck.check("expanded [4,3]·[2,3,5]", t -> t[0].expand(2, 4, 3).matmul(t[1], false, false), 1e-2,
                new float[][] {GradCheck.randn(rng, 12), GradCheck.randn(rng, 30)}, Shape.of(4, 3), Shape.of(2, 3, 5));
    }

    @Test
    void halfViewsMaterialiseExactlyAndSumTheirGradientInFloat32() {
        float[] values = {1.5f, -2.25f, 3f};
        long live = CpuStorage.liveCount();
        try (Tensor f = Tensor.of(values, Shape.of(3, 1), CPU); Tensor x = f.to(DType.BFLOAT16).requiresGrad(true);
             Tensor v = x.expand(3, 4); TensorScope scope = TensorScope.open()) {
            assertEquals(DType.BFLOAT16, v.dtype());
            assertArrayEquals(expandOnHost(values, new int[] {3, 1}, new int[] {3, 4}), v.toArray());
            v.to(DType.FLOAT32).sum().backward();
            assertEquals(DType.BFLOAT16, x.grad().dtype());
            assertArrayEquals(new float[] {4, 4, 4}, x.grad().toArray());
        }
        assertEquals(live, CpuStorage.liveCount(), "nothing left allocated by the half path");
    }

    @Test
    void anUnclosedViewWithAMaterialisedCopyIsReportedAndBothAreFreed() throws InterruptedException {
        LeakDetector.setLevel("paranoid");
        try (Tensor base = Tensor.of(new float[] {1, 2}, 2, 1)) {
            long live = CpuStorage.liveCount(), leaks = LeakDetector.leaks();
            leak(base);
            for (int i = 0; i < 200 && LeakDetector.leaks() < leaks + 1; i++) {
                System.gc();
                Thread.sleep(10);
            }
            assertEquals(leaks + 1, LeakDetector.leaks(), "the view is reported as a leak");
            try (Tensor t = Tensor.of(new float[] {1}, 1)) { // creating a tensor frees what leaked
                assertEquals(live + 1, CpuStorage.liveCount(), "the materialised copy is freed, the base stays");
            }
            assertArrayEquals(new float[] {1, 2}, base.toArray());
        } finally {
            LeakDetector.setLevel("simple");
        }
    }

    private static void leak(Tensor base) {
        Tensor v = base.expand(2, 8);  // never closed
        assertNotNull(v.dense());       // materialised
        assertFalse(v.isClosed());
    }
}
