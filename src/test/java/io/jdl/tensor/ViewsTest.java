package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.autograd.Autograd;
import io.jdl.autograd.NoGrad;
import io.jdl.backend.cpu.CpuStorage;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** reshape, flatten, unsqueeze and squeeze as views: shared memory, lifetime in both orders, versions, gradients. */
class ViewsTest {
    private static final float[] SIX = {1, 2, 3, 4, 5, 6};

    @Test
    void viewOpsShareMemoryAndAllocateNothing() {
        try (Tensor x = Tensor.of(SIX.clone(), 2, 3)) {
            for (Function<Tensor, Tensor> op : java.util.List.<Function<Tensor, Tensor>>of(t -> t.reshape(3, -1),
                    t -> t.reshape(6), t -> t.flatten(0), t -> t.unsqueeze(1), t -> t.unsqueeze(-1).squeeze(2),
                    t -> t.squeeze(0))) {
                long allocated = CpuStorage.allocationCount(), live = CpuStorage.liveCount();
                try (Tensor v = op.apply(x)) {
                    assertEquals(allocated, CpuStorage.allocationCount(), "a view allocates nothing");
                    assertEquals(live, CpuStorage.liveCount());
                    assertTrue(v.memory().sharesMemoryWith(x.memory()));
                    assertArrayEquals(SIX, v.toArray());
                }
            }
            try (Tensor v = x.unsqueeze(0).unsqueeze(3); Tensor s = v.squeeze(0); Tensor same = s.squeeze(1)) {
                assertEquals(Shape.of(1, 2, 3, 1), v.shape());
                assertEquals(Shape.of(2, 3, 1), s.shape());
                assertEquals(Shape.of(2, 3, 1), same.shape(), "squeeze of a dimension that is not 1 keeps it");
            }
        }
    }

    @Test
    void writesThroughOneAreSeenByAllAndBumpTheSharedVersion() {
        try (Tensor x = Tensor.of(SIX.clone(), 2, 3); Tensor v = x.reshape(3, 2); Tensor w = v.flatten(0)) {
            v.fill(7f);
            assertArrayEquals(new float[] {7, 7, 7, 7, 7, 7}, x.toArray());
            assertEquals(1, x.version());
            assertEquals(1, w.version());
            try (Tensor src = Tensor.of(SIX.clone(), 6)) {
                w.copyFrom(src);
            }
            assertArrayEquals(SIX, v.toArray());
            assertEquals(2, x.version());
        }
    }

    @Test
    void inPlaceChangeThroughAViewMakesBackwardThrowNamingTheOp() {
        try (Tensor a = Tensor.of(SIX.clone(), 2, 3); Tensor w = Tensor.of(SIX.clone(), 2, 3).requiresGrad(true);
             Tensor y = a.mul(w).sum(); Tensor view = a.reshape(6)) {
            view.fill(0f); // mul saved a for w's gradient
            var e = assertThrows(IllegalStateException.class, y::backward);
            assertTrue(e.getMessage().contains("mul") && e.getMessage().contains("modified in place"), e.getMessage());
        }
    }

    @Test
    void viewOfAGradLeafIsRecordedSoInPlaceOnItIsRefused() {
        try (Tensor x = Tensor.of(SIX.clone(), 2, 3).requiresGrad(true); Tensor v = x.reshape(6)) {
            var e = assertThrows(IllegalStateException.class, () -> v.fill(0f));
            assertTrue(e.getMessage().contains("reshape"), e.getMessage());
        }
    }

    @Test
    void baseAndViewCloseInEitherOrder() {
        long live = CpuStorage.liveCount();
        Tensor x = Tensor.of(SIX.clone(), 2, 3);
        Tensor v = x.reshape(6);
        x.close();
        assertTrue(x.isClosed());
        assertFalse(v.isClosed());
        assertArrayEquals(SIX, v.toArray(), "closing the base leaves the view readable");
        assertEquals(live + 1, CpuStorage.liveCount());
        assertThrows(IllegalStateException.class, x::toArray);
        assertThrows(IllegalStateException.class, () -> x.reshape(6), "no view of a closed tensor");
        v.close();
        assertEquals(live, CpuStorage.liveCount(), "the last handle frees the memory");
        assertThrows(IllegalStateException.class, v::close);

        Tensor y = Tensor.of(SIX.clone(), 2, 3);
        Tensor u = y.unsqueeze(0);
        u.close();
        assertArrayEquals(SIX, y.toArray(), "closing the view leaves the base intact");
        assertEquals(live + 1, CpuStorage.liveCount());
        y.close();
        assertEquals(live, CpuStorage.liveCount());
    }

    @Test
    void scopesCloseViewsAndBasesIndependently() {
        long live = CpuStorage.liveCount();
        try (Tensor x = Tensor.of(SIX.clone(), 2, 3)) {
            Tensor inner;
            try (TensorScope scope = TensorScope.open()) {
                inner = x.reshape(3, 2);
            }
            assertTrue(inner.isClosed());
            assertArrayEquals(SIX, x.toArray(), "the scope closed its view, not the base");
        }
        Tensor kept;
        try (TensorScope scope = TensorScope.open()) {
            Tensor base = Tensor.of(SIX.clone(), 2, 3);
            kept = scope.keep(base.flatten(0));
        }
        assertArrayEquals(SIX, kept.toArray(), "a kept view outlives its base's scope");
        kept.close();
        assertEquals(live, CpuStorage.liveCount());
    }

    @Test
    void backwardThroughViewsIsTheReverseViewAndAccumulatesSafely() {
        long live = CpuStorage.liveCount();
        try (Tensor x = Tensor.of(SIX.clone(), 2, 3).requiresGrad(true)) {
            // Both branches' gradients are views of one gradient: adding them must not write through either.
            try (Tensor y = x.reshape(6).add(x.flatten(0)).mul(x.reshape(6)).sum()) {
                y.backward();
            }
            // d/dx of Σ 2x² = 4x
            assertArrayEquals(new float[] {4, 8, 12, 16, 20, 24}, x.grad().toArray());
            try (Tensor y = x.unsqueeze(0).squeeze(0).reshape(3, 2).sum()) {
                y.backward();
            }
            assertArrayEquals(new float[] {5, 9, 13, 17, 21, 25}, x.grad().toArray());
        }
        assertEquals(live, CpuStorage.liveCount(), "graph, views and gradients freed");
    }

    @Test
    void closingAViewAGraphStillReadsDefersLikeAnyTensor() {
        long live = CpuStorage.liveCount();
        try (Tensor w = Tensor.of(SIX.clone(), 6).requiresGrad(true)) {
            Tensor x = Tensor.of(SIX.clone(), 2, 3);
            Tensor v = x.reshape(6);
            try (Tensor y = v.mul(w).sum()) {
                x.close();
                v.close(); // mul still needs v's values for w's gradient
                y.backward();
            }
            assertArrayEquals(SIX, w.grad().toArray());
        }
        assertEquals(live, CpuStorage.liveCount());
    }

    @Test
    void badArgumentsAreNamed() {
        try (Tensor x = Tensor.of(SIX.clone(), 2, 3); NoGrad ignored = Autograd.noGrad()) {
            var e = assertThrows(IllegalArgumentException.class, () -> x.reshape(4, -1));
            assertTrue(e.getMessage().contains("[2, 3]"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> x.squeeze(2));
            assertThrows(IllegalArgumentException.class, () -> x.unsqueeze(3));
            assertThrows(IllegalArgumentException.class, () -> x.flatten(-3));
        }
    }

    @Test
    void anUnreachableUnclosedViewIsReportedAndFreesOnlyItsHandle() throws InterruptedException {
        LeakDetector.setLevel("paranoid");
        try (Tensor base = Tensor.of(SIX.clone(), 2, 3)) {
            long live = CpuStorage.liveCount(), leaks = LeakDetector.leaks();
            base.reshape(6); // never closed
            for (int i = 0; i < 200 && LeakDetector.leaks() < leaks + 1; i++) {
                System.gc();
                Thread.sleep(10);
            }
            assertEquals(leaks + 1, LeakDetector.leaks(), "the view is reported as a leak");
            try (Tensor t = Tensor.of(new float[] {1}, 1)) { // creating a tensor frees the leaked handle
                assertEquals(live + 1, CpuStorage.liveCount(), "the base's memory stays allocated");
            }
            assertArrayEquals(SIX, base.toArray());
        } finally {
            LeakDetector.setLevel("simple");
        }
    }

    @Test
    void selfAttentionNamesWhatDoesNotFit() {
        long live = CpuStorage.liveCount();
        try (Tensor qkv = Tensor.zeros(Shape.of(2, 4, 12), io.jdl.device.Device.CPU);
             Tensor odd = Tensor.zeros(Shape.of(2, 4, 10), io.jdl.device.Device.CPU);
             Tensor badMask = Tensor.zeros(Shape.of(2, 3), io.jdl.device.Device.CPU)) {
            var e = assertThrows(IllegalArgumentException.class, () -> odd.selfAttention(2, false, null, 0f, 0, false));
            assertTrue(e.getMessage().contains("[2, 4, 10]") && e.getMessage().contains("2 heads"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> qkv.selfAttention(0, false, null, 0f, 0, false));
            assertThrows(IllegalArgumentException.class, () -> qkv.selfAttention(Integer.MAX_VALUE, false, null, 0f, 0, false));
            e = assertThrows(IllegalArgumentException.class, () -> qkv.selfAttention(2, false, badMask, 0f, 0, false));
            assertTrue(e.getMessage().contains("[2, 3]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> qkv.selfAttention(2, false, null, 1f, 0, false));
            assertTrue(e.getMessage().contains("dropout"), e.getMessage());
            try (Tensor out = qkv.selfAttention(2, true, null, 0f, 0, false).output()) {
                assertEquals(Shape.of(2, 4, 4), out.shape());
            }
        }
        assertEquals(live, CpuStorage.liveCount(), "failed calls freed what they allocated");
        Tensor closed = Tensor.zeros(Shape.of(1, 1, 3), io.jdl.device.Device.CPU);
        closed.close();
        assertThrows(IllegalStateException.class, () -> closed.selfAttention(1, false, null, 0f, 0, false));
    }
}
