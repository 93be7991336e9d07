package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.autograd.Autograd;
import io.jdl.autograd.GradCheck;
import io.jdl.autograd.NoGrad;
import io.jdl.backend.cuda.CudaBackend;
import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.Gpu;
import io.jdl.device.Device;
import io.jdl.optim.Sgd;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Broadcast views ({@code expand}) of device tensors: no device allocation, every op family's values and
 * gradients as on the CPU, matmul's broadcast batch with stride-0 batch strides (cuBLAS strided-batched) and no
 * expanded copy, in-place writes refused, and a training step using expand captured as a CUDA graph and
 * replayed as eager steps. Runs on the host stand-in in CI and on a GPU where there is one.
 */
@Tag("gpu")
class ExpandViewGpuTest {
    private static final Device GPU = Device.cuda(0);

    @BeforeEach
    void needsGpu() {
        Gpu.assumeAvailable();
    }

    private static CachingAllocator allocator() {
        return CudaBackend.get(0).allocator();
    }

    static Stream<ExpandViewTest.Case> allCases() {
        return ExpandViewTest.cases().stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("allCases")
    void everyOpFamilyGivesTheDenseCopysValuesAndGradients(ExpandViewTest.Case c) {
        float[][] dense = ExpandViewTest.run(c, GPU, false);  // first: caches an op keeps (targets) are made here
        long allocated = allocatedNow();
        float[][] view = ExpandViewTest.run(c, GPU, true);
        ExpandViewTest.assertClose(dense[0], view[0], c.name() + " values");
        ExpandViewTest.assertClose(dense[1], view[1], c.name() + " base gradient");
        assertEquals(allocated, allocatedNow(), c.name() + ": nothing left allocated on the device");
    }

    /** The allocator's bytes in use, after freeing what earlier tests leaked (done when a tensor is created). */
    private static long allocatedNow() {
        Tensor.zeros(Shape.of(1), Device.CPU).close();
        return allocator().allocatedBytes();
    }

    @Test
    void expandAllocatesNothingAndWritesIntoItAreRefused() {
        try (Tensor x = Tensor.of(new float[] {1, 2, 3}, Shape.of(3, 1), GPU)) {
            long allocated = allocatedNow();
            try (Tensor v = x.expand(2, 3, 4)) {
                assertEquals(allocated, allocator().allocatedBytes(), "expand allocates no device memory");
                var e = assertThrows(IllegalStateException.class, () -> v.fill(1f));
                assertTrue(e.getMessage().contains("more than one element of the written-to tensor"), e.getMessage());
                assertArrayEquals(ExpandViewTest.expandOnHost(new float[] {1, 2, 3}, new int[] {3, 1},
                        new int[] {2, 3, 4}), v.toArray());
            }
            assertEquals(allocated, allocator().allocatedBytes(), "the view's materialised copy went with it");
        }
    }

    @Test
    void aViewThatCannotBeMaterialisedForLackOfMemoryLeavesNothingAndWorksAfterwards() {
        Gpu.assumeStandIn("fault injection");
        try (Tensor x = Tensor.of(GradCheck.randn(new Random(3), 1000), Shape.of(1000, 1), GPU);
             Tensor v = x.expand(3, 1000, 700)) {  // 8.4 MB dense: a size the allocator has no block of
            long allocated = allocatedNow();
            io.jdl.cuda.StandIn.failAllocations(2, 1000);  // relu's output is allocated, the view's dense copy is not
            try {
                assertThrows(RuntimeException.class, v::relu);
            } finally {
                io.jdl.cuda.StandIn.failAllocations(0, 0);
            }
            assertEquals(allocated, allocatedNow(), "nothing left allocated by the failed op");
            try (Tensor r = v.relu()) {
                float[] xs = x.toArray(), out = r.toArray();
                for (int i = 0; i < out.length; i++) {
                    assertEquals(Math.max(0f, xs[(i / 700) % 1000]), out[i]);
                }
            }
        }
    }

    @Test
    void matmulReadsAStrideZeroBatchWithoutAnExpandedCopy() {
        Random rng = new Random(2);
        float[] av = GradCheck.randn(rng, 6), bv = GradCheck.randn(rng, 4 * 15);
        try (Tensor a = Tensor.of(av, Shape.of(1, 2, 3), GPU); Tensor b = Tensor.of(bv, Shape.of(4, 3, 5), GPU);
             NoGrad ignored = Autograd.noGrad()) {
            long allocated = allocatedNow();
            try (Tensor y = a.matmul(b)) {
                assertEquals(allocated + 512, allocator().allocatedBytes(), "only the result (160 bytes, one 512-byte block)");
                double err = Gpu.relativeError(y.toArray(),
                        ExpandViewTest.matmulOnHost(av, new int[] {1, 2, 3}, bv, new int[] {4, 3, 5}, y.shape().dims()));
                assertTrue(err < 1e-5, "[1,2,3]·[4,3,5] differs from torch.matmul's values by " + err);
            }
        }
    }

    /** mse(h·sigmoid(s) + s, target), h = x·w over a stride-0 batch, s [1, T, E] expanded: read dense and in place. */
    private static Tensor loss(Tensor x, Tensor w, Tensor scale, Tensor target) {
        int b = x.shape().dim(0);
        Tensor h = x.matmul(w.expand(b, w.shape().dim(0), w.shape().dim(1)));             // [B, T, E]
        Tensor gate = scale.expand(b, h.shape().dim(1), h.shape().dim(2)).sigmoid();     // materialised view
        return h.mul(gate).add(scale.expand(h.shape().dims())).mse(target);             // broadcast view in place
    }

    /**
     * The target is a broadcast view made once, before the warm-up, of a static input [1, T, E] that gets new
     * values before each replay: mse reads it dense, so its materialised copy, made eagerly at the warm-up, must be
     * rewritten by every replay (a copy kept while the base's version is unchanged would go stale here).
     */
    @Test
    void aStepUsingExpandReplaysAsACudaGraphAsEagerSteps() {
        int batch = 3, t = 4, d = 5, e = 6, steps = 4;
        Random rng = new Random(8);
        float[] w0 = GradCheck.randn(rng, d * e), s0 = GradCheck.randn(rng, t * e);
        List<float[]> xs = new java.util.ArrayList<>(), ys = new java.util.ArrayList<>();
        for (int s = 0; s < steps; s++) {
            xs.add(GradCheck.randn(rng, batch * t * d));
            ys.add(GradCheck.randn(rng, t * e));
        }
        Shape xShape = Shape.of(batch, t, d), yShape = Shape.of(1, t, e);
        float[] eager;
        try (Tensor w = Tensor.of(w0, Shape.of(d, e), GPU).requiresGrad(true);
             Tensor sc = Tensor.of(s0, Shape.of(1, t, e), GPU).requiresGrad(true);
             Sgd sgd = new Sgd(List.of(w, sc), 0.1f)) {
            for (int s = 0; s < steps; s++) {
                try (TensorScope scope = TensorScope.open()) {
                    sgd.zeroGrad();
                    loss(Tensor.of(xs.get(s), xShape, GPU), w, sc,
                            Tensor.of(ys.get(s), yShape, GPU).expand(batch, t, e)).backward();
                    sgd.step();
                }
            }
            eager = w.toArray();
        }
        try (Tensor w = Tensor.of(w0, Shape.of(d, e), GPU).requiresGrad(true);
             Tensor sc = Tensor.of(s0, Shape.of(1, t, e), GPU).requiresGrad(true);
             Sgd sgd = new Sgd(List.of(w, sc), 0.1f);
             Tensor x = Tensor.of(xs.get(0), xShape, GPU); Tensor y = Tensor.of(ys.get(0), yShape, GPU);
             Tensor target = y.expand(batch, t, e)) {
            try (TensorScope scope = TensorScope.open()) {  // warm-up: step 0
                sgd.zeroGrad();
                loss(x, w, sc, target).backward();
                sgd.step();
            }
            try (CudaGraphStep step = CudaGraphStep.capture(GPU, () -> {
                sgd.zeroGrad();
                Tensor l = loss(x, w, sc, target);
                l.backward();
                sgd.step();
                return l;
            })) {
                for (int s = 1; s < steps; s++) {
                    try (Tensor xn = Tensor.of(xs.get(s), xShape, GPU); Tensor yn = Tensor.of(ys.get(s), yShape, GPU)) {
                        x.copyFrom(xn);
                        y.copyFrom(yn);
                    }
                    step.replay();
                }
                double err = Gpu.relativeError(w.toArray(), eager);
                assertTrue(err < 1e-5, "the replayed steps' weights differ from the eager steps' by " + err);
            }
        }
    }
}
