package io.jdl.autograd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The tape: gradients, accumulation, no-grad scopes, and who frees what. */
class AutogradTest {

    private static Tensor param(float... v) {
        return Tensor.of(v, v.length).requiresGrad(true);
    }

    @Test
    void gradientOfSimpleExpression() {
        // L = Σ (w·x)² → dL/dw = 2·w·x²
        try (Tensor w = param(1, 2, 3); Tensor x = Tensor.of(new float[] {2, -1, 0.5f}, 3)) {
            Tensor wx = w.mul(x);
            try (Tensor loss = wx.mul(wx).sum()) {
                loss.backward();
                assertEquals(4 + 4 + 2.25f, loss.item(), 1e-6);
            }
            assertArrayEquals(new float[] {8, 4, 1.5f}, w.grad().toArray(), 1e-6f);
            assertNull(x.grad(), "x does not require grad");
            assertTrue(wx.isClosed(), "intermediates are freed with the graph");
        }
    }

    @Test
    void gradientsAccumulateUntilZeroGrad() {
        try (Tensor w = param(1, 2)) {
            for (int i = 0; i < 3; i++) {
                try (Tensor loss = w.scale(2f).sum()) {
                    loss.backward();
                }
            }
            assertArrayEquals(new float[] {6, 6}, w.grad().toArray(), 1e-6f);
            w.zeroGrad();
            assertNull(w.grad());
            try (Tensor loss = w.sum()) {
                loss.backward();
            }
            assertArrayEquals(new float[] {1, 1}, w.grad().toArray(), 1e-6f);
        }
    }

    @Test
    void backwardTwiceIsAClearError() {
        try (Tensor w = param(1, 2); Tensor loss = w.relu().sum()) {
            loss.backward();
            IllegalStateException e = assertThrows(IllegalStateException.class, loss::backward);
            assertTrue(e.getMessage().contains("freed"), e.getMessage());
        }
    }

    @Test
    void backwardNeedsAScalar() {
        try (Tensor w = param(1, 2)) {
            Tensor y = w.scale(2f);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, y::backward);
            assertTrue(e.getMessage().contains("[2]"), e.getMessage());
            y.close();
        }
    }

    @Test
    void noGradRecordsNothingAndCallerOwnsResults() {
        try (Tensor w = param(1, 2)) {
            try (NoGrad ignored = Autograd.noGrad()) {
                assertFalse(Autograd.isGradEnabled());
                try (Tensor y = w.scale(3f).sum()) {
                    assertFalse(y.needsGrad());
                    assertThrows(IllegalStateException.class, y::backward);
                }
            }
            assertTrue(Autograd.isGradEnabled());
        }
    }

    @Test
    void retainedIntermediateSurvivesBackward() {
        try (Tensor w = param(1, -2)) {
            Tensor h = w.relu().retain();
            Tensor dropped = w.scale(5f);
            try (Tensor loss = h.add(dropped).sum()) {
                loss.backward();
            }
            assertArrayEquals(new float[] {1, 0}, h.toArray(), 0f);
            assertFalse(h.needsGrad(), "a retained tensor is detached from the freed graph");
            h.close();
            IllegalStateException e = assertThrows(IllegalStateException.class, dropped::toArray);
            assertTrue(e.getMessage().contains("released by backward"), e.getMessage());
            assertDoesNotThrow(dropped::close, "closing a released intermediate is a no-op");
            assertArrayEquals(new float[] {6, 5}, w.grad().toArray(), 1e-6f);
        }
    }

    @Test
    void closingARecordedRootFreesItsGraph() {
        try (Tensor w = param(1, 2)) {
            Tensor a = w.scale(2f);
            Tensor b = a.tanh();
            Tensor root = b.sum();
            root.close();
            assertTrue(a.isClosed() && b.isClosed() && root.isClosed());
            assertFalse(w.isClosed(), "leaves belong to their owner");
        }
    }

    @Test
    void leafGradIsFreedWithTheLeaf() {
        Tensor w = param(1, 2);
        try (Tensor loss = w.sum()) {
            loss.backward();
        }
        Tensor g = w.grad();
        w.close();
        assertTrue(g.isClosed());
    }

    @Test
    void requiresGradOnlyOnLeaves() {
        try (Tensor w = param(1); Tensor y = w.scale(2f)) {
            assertThrows(IllegalStateException.class, () -> y.requiresGrad(true));
        }
    }
}
