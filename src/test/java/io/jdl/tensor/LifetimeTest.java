package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.cpu.CpuStorage;
import io.jdl.device.Device;
import io.jdl.nn.Linear;
import io.jdl.nn.MultiHeadAttention;
import io.jdl.nn.Sequential;
import io.jdl.nn.Activations;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Isolated;

/** Scopes, deferred frees, error paths, the version counter, thread confinement and the leak detector. */
@Isolated
class LifetimeTest {

    @Test
    void aScopeClosesWhatItCreatedExceptWhatItKeeps() {
        long before = CpuStorage.liveCount();
        Tensor kept;
        try (TensorScope scope = TensorScope.open()) {
            Tensor a = Tensor.of(new float[] {1, 2}, 2);
            Tensor b = a.add(a).scale(3f);
            kept = scope.keep(b.mul(b));
            assertEquals(before + 4, CpuStorage.liveCount());
        }
        assertEquals(before + 1, CpuStorage.liveCount());
        assertEquals(36f, kept.toArray()[0]);
        kept.close();
        assertEquals(before, CpuStorage.liveCount());
    }

    @Test
    void keptTensorsMoveToTheEnclosingScope() {
        long before = CpuStorage.liveCount();
        try (TensorScope outer = TensorScope.open()) {
            Tensor inner = TensorScope.keeping(() -> Tensor.of(new float[] {1}, 1).scale(2f));
            assertFalse(inner.isClosed());
            assertEquals(before + 1, CpuStorage.liveCount());
        }
        assertEquals(before, CpuStorage.liveCount());
    }

    @Test
    void aGraphBuiltInAScopeStillBackpropagatesAfterItCloses() {
        try (Tensor w = Tensor.of(new float[] {2, 3}, 2).requiresGrad(true)) {
            Tensor loss;
            try (TensorScope scope = TensorScope.open()) {
                Tensor h = w.mul(w);                       // closed by the scope, kept by the graph
                loss = scope.keep(h.sum());
            }
            loss.backward();
            loss.close();
            float[] g = w.grad().toArray();
            assertEquals(4f, g[0]);
            assertEquals(6f, g[1]);
        }
    }

    @Test
    void failingOpsInAScopeLeaveNothingBehind() {
        Random rng = new Random(1);
        try (Sequential model = new Sequential(new Linear(4, 8, rng), Activations.relu(), new Linear(8, 3, rng));
             MultiHeadAttention mha = new MultiHeadAttention(8, 2, false, 0f, rng);
             Tensor x = Tensor.of(new float[8], 2, 4); Tensor seq = Tensor.of(new float[2 * 3 * 8], Shape.of(2, 3, 8),
                     Device.CPU); Tensor badMask = Tensor.of(new float[5], 5)) {
            long before = CpuStorage.liveCount();
            for (int i = 0; i < 3; i++) {
                assertThrows(IllegalArgumentException.class, () -> {
                    try (TensorScope step = TensorScope.open()) {
                        model.forward(x).crossEntropy(new int[] {0, 7}).backward();
                    }
                });
                assertThrows(IllegalArgumentException.class, () -> mha.forward(seq, badMask).close());
            }
            assertEquals(before, CpuStorage.liveCount(), "storages left by failing calls");
        }
    }

    @Test
    void anOpInAScopeClosesOnlyWhatItMadeAndALongScopeStaysBounded() {
        long before = CpuStorage.liveCount();
        try (TensorScope scope = TensorScope.open()) {
            // Ops mark the scope's list rather than opening scopes of their own: a failing op must not close the
            // scope's earlier tensors, and intermediates stay the scope's (through its pruning) until it closes.
            Tensor a = Tensor.of(new float[] {1, 2, 3}, 3);
            Tensor b = a.mul(a);
            Tensor wrong = Tensor.of(new float[] {1, 2}, 2);
            assertThrows(IllegalArgumentException.class, () -> b.add(wrong));
            assertFalse(a.isClosed());
            assertFalse(b.isClosed());
            assertEquals(before + 3, CpuStorage.liveCount());
            for (int i = 0; i < 3000; i++) {
                a.add(b).relu().scale(2f).close(); // the sum and the relu stay the scope's
            }
            assertEquals(before + 3 + 2 * 3000, CpuStorage.liveCount(), "the scope owns the intermediates until it closes");
            assertEquals(9f, b.toArray()[2]);
        }
        assertEquals(before, CpuStorage.liveCount());
    }

    @Test
    void modifyingASavedTensorInPlaceMakesBackwardThrow() {
        try (Tensor x = Tensor.of(new float[] {1, 2}, 2).requiresGrad(true); Tensor other = Tensor.of(new float[] {5, 5}, 2);
             Tensor s = x.mul(x).sum()) {
            int v = x.version();
            x.copyFrom(other);
            assertEquals(v + 1, x.version());
            var e = assertThrows(IllegalStateException.class, s::backward);
            assertTrue(e.getMessage().contains("mul") && e.getMessage().contains("modified in place"), e.getMessage());
        }
    }

    @Test
    void recordingOnATensorAnotherThreadsGraphReadsThrows() throws Exception {
        try (Tensor w = Tensor.of(new float[] {1, 2}, 2).requiresGrad(true); Tensor y = w.mul(w)) {
            AtomicReference<Throwable> seen = new AtomicReference<>();
            Thread t = new Thread(() -> {
                try {
                    w.scale(2f).close();
                } catch (Throwable e) {
                    seen.set(e);
                }
            });
            t.start();
            t.join();
            assertTrue(seen.get() instanceof IllegalStateException, String.valueOf(seen.get()));
            assertTrue(seen.get().getMessage().contains("thread"), seen.get().getMessage());
        }
    }

    @Test
    void scopesMustCloseInnermostFirst() {
        TensorScope outer = TensorScope.open();
        TensorScope inner = TensorScope.open();
        assertThrows(IllegalStateException.class, outer::close);
        inner.close();
        outer.close();
        assertThrows(IllegalStateException.class, outer::close);
    }

    @Test
    void anUnreachableUnclosedTensorIsFreedAndReported() throws InterruptedException {
        LeakDetector.setLevel("paranoid");
        try {
            long before = CpuStorage.liveCount(), leaks = LeakDetector.leaks();
            Tensor.of(new float[] {1, 2, 3}, 3).scale(2f);   // two tensors, never closed
            for (int i = 0; i < 200 && LeakDetector.leaks() < leaks + 2; i++) {
                System.gc();
                Thread.sleep(10);
            }
            assertTrue(LeakDetector.leaks() >= leaks + 2, "leaks found: " + (LeakDetector.leaks() - leaks));
            try (Tensor t = Tensor.of(new float[] {1}, 1)) {        // creating a tensor frees the leaked ones
                assertNotNull(t);
                assertEquals(before + 1, CpuStorage.liveCount());
            }
        } finally {
            LeakDetector.setLevel("simple");
        }
    }

    @Test
    void aModuleThatFailsAfterAllocatingFreesWhatItMade() {
        try (io.jdl.nn.Residual bad = new io.jdl.nn.Residual(new Linear(4, 3, new Random(2)));
             Tensor x = Tensor.of(new float[8], 2, 4)) {
            long before = CpuStorage.liveCount();
            assertThrows(IllegalArgumentException.class, () -> bad.forward(x));
            assertEquals(before, CpuStorage.liveCount());
        }
    }

    @Test
    void anOptimizerStepBetweenForwardAndBackwardIsCaught() {
        try (Linear layer = new Linear(3, 2, new Random(4)); Tensor x = Tensor.of(new float[] {1, 2, 3}, 1, 3);
             io.jdl.optim.Sgd opt = new io.jdl.optim.Sgd(layer.parameters(), 0.1f)) {
            try (Tensor warm = layer.forward(x).sum()) {
                warm.backward();
            }
            try (Tensor loss = layer.forward(x).sum()) {
                opt.step();                                   // changes the weight the graph read
                var e = assertThrows(IllegalStateException.class, loss::backward);
                assertTrue(e.getMessage().contains("linear"), e.getMessage());
            }
        }
    }

    @Test
    void sinusoidalPositionsKeepNothingPerShape() {
        try (io.jdl.nn.PositionalEmbedding pe = io.jdl.nn.PositionalEmbedding.sinusoidal(64, 8)) {
            long before = CpuStorage.liveCount();
            for (int t = 1; t <= 40; t++) {
                try (Tensor x = Tensor.of(new float[2 * t * 8], Shape.of(2, t, 8), Device.CPU); Tensor y = pe.forward(x)) {
                    assertEquals(Shape.of(2, t, 8), y.shape());
                }
            }
            assertEquals(before, CpuStorage.liveCount());
        }
    }

    @Test
    void oneModuleRecordingOnTwoThreadsIsRefused() throws Exception {
        try (Linear layer = new Linear(2, 2, new Random(5)); Tensor x = Tensor.of(new float[] {1, 2}, 1, 2);
             Tensor mine = layer.forward(x)) {                  // a live graph on this thread reads the weights
            AtomicReference<Throwable> seen = new AtomicReference<>();
            Thread other = new Thread(() -> {
                try (Tensor theirs = layer.forward(x)) {
                    assertNotNull(theirs);
                } catch (Throwable e) {
                    seen.set(e);
                }
            });
            other.start();
            other.join();
            assertTrue(seen.get() instanceof IllegalStateException, String.valueOf(seen.get()));
        }
    }

    @Test
    void dropoutModuleIsTheIdentityInEvaluation() {
        try (io.jdl.nn.Dropout d = new io.jdl.nn.Dropout(0.5f, 1); Tensor x = Tensor.of(new float[] {1, 2}, 2)) {
            d.eval();
            assertSame(x, d.forward(x));
        }
    }
}
