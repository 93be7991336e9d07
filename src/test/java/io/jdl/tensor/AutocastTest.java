package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.device.DType;
import io.jdl.device.Device;
import io.jdl.nn.Activations;
import io.jdl.nn.BatchNorm2d;
import io.jdl.nn.Conv2d;
import io.jdl.nn.Linear;
import io.jdl.nn.Module;
import io.jdl.nn.Sequential;
import io.jdl.optim.GradScaler;
import io.jdl.optim.Sgd;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/**
 * Autocast on the CPU reference: PyTorch's op lists (lower precision for the products, float32 for softmax, norms,
 * losses and sums), float32 masters with float32 gradients, the scope's nesting and confinement, and a training
 * step that stays close to float32.
 */
class AutocastTest {
    private static final DType[] HALVES = {DType.BFLOAT16, DType.FLOAT16};

    private static Autocast open(DType d) {
        return d == DType.BFLOAT16 ? Autocast.bf16() : Autocast.fp16();
    }

    @Test
    void productsRunInTheLowPrecisionFromFloat32MastersAndGradientsLandInFloat32() {
        Random rng = new Random(11);
        float[] x = DTypeTest.randn(rng, 4 * 8), w = DTypeTest.randn(rng, 3 * 8), b = DTypeTest.randn(rng, 3);
        for (DType d : HALVES) {
            try (TensorScope s = TensorScope.open()) {
                Tensor xs = Tensor.of(x, 4, 8), ws = Tensor.of(w, 3, 8).requiresGrad(true), bs = Tensor.of(b, 3).requiresGrad(true);
                Tensor y;
                try (Autocast ac = open(d)) {
                    assertEquals(d, Autocast.current());
                    y = xs.linear(ws, bs);
                    assertEquals(d, y.dtype());
                    assertEquals(d, xs.matmul(ws, false, true).dtype());
                }
                assertNull(Autocast.current());
                // the same graph by hand: every input rounded, float32 arithmetic, the result rounded once
                Tensor wm = Tensor.of(w, 3, 8).requiresGrad(true), bm = Tensor.of(b, 3).requiresGrad(true);
                Tensor byHand = xs.to(d).to(DType.FLOAT32).linear(wm.to(d).to(DType.FLOAT32), bm.to(d).to(DType.FLOAT32)).to(d);
                assertArrayEquals(byHand.toArray(), y.toArray());
                y.to(DType.FLOAT32).sum().backward();
                byHand.to(DType.FLOAT32).sum().backward();
                assertEquals(DType.FLOAT32, ws.grad().dtype());
                assertEquals(DType.FLOAT32, bs.grad().dtype());
                assertArrayEquals(wm.grad().toArray(), ws.grad().toArray());
                assertArrayEquals(bm.grad().toArray(), bs.grad().toArray());
            }
        }
    }

    @Test
    void softmaxNormsLossesAndSumsRunInFloat32() {
        Random rng = new Random(12);
        float[] x = DTypeTest.randn(rng, 4 * 6);
        for (DType d : HALVES) {
            try (TensorScope s = TensorScope.open(); Autocast ac = open(d)) {
                Tensor h = Tensor.of(x, 4, 6).to(d);
                Tensor f = h.to(DType.FLOAT32);
                Tensor sm;
                try (Autocast off = Autocast.disabled()) {
                    assertNull(Autocast.current());
                    sm = f.softmax();
                }
                assertEquals(d, Autocast.current());
                assertEquals(DType.FLOAT32, h.softmax().dtype());
                assertArrayEquals(sm.toArray(), h.softmax().toArray());
                assertEquals(DType.FLOAT32, h.logSoftmax().dtype());
                assertEquals(DType.FLOAT32, h.layerNorm(null, null, 1e-5f).dtype());
                assertEquals(DType.FLOAT32, h.crossEntropy(new int[] {0, 1, 2, 3}).dtype());
                assertEquals(DType.FLOAT32, h.mse(h).dtype());
                assertEquals(DType.FLOAT32, h.sum().dtype());
                // off the lists: the input's dtype, mixed float inputs promoted to float32
                assertEquals(d, h.relu().dtype());
                assertEquals(d, h.mean().dtype());
                assertEquals(DType.FLOAT32, h.add(f).dtype());
            }
        }
    }

    @Test
    void aConvolutionalStepTrainsWithBatchNormAndStaysCloseToFloat32() {
        Random init = new Random(13);
        float[] x = DTypeTest.randn(init, 8 * 1 * 6 * 6);
        int[] targets = {0, 1, 2, 0, 1, 2, 0, 1};
        float[] lossesF32 = new float[3], lossesBf16 = new float[3];
        for (int run = 0; run < 2; run++) {
            try (Module m = new Sequential(new Conv2d(1, 4, 3, 1, new Random(1)), new BatchNorm2d(4), Activations.relu(),
                    Activations.flatten(), new Linear(4 * 6 * 6, 3, new Random(2)))) {
                Sgd opt = new Sgd(m.parameters(), 0.1f);
                for (int step = 0; step < 3; step++) {
                    try (TensorScope s = TensorScope.open(); Autocast ac = run == 0 ? Autocast.disabled() : Autocast.bf16()) {
                        Tensor loss = m.forward(Tensor.of(x, 8, 1, 6, 6)).crossEntropy(targets);
                        assertEquals(DType.FLOAT32, loss.dtype());
                        (run == 0 ? lossesF32 : lossesBf16)[step] = loss.item();
                        opt.zeroGrad();
                        loss.backward();
                    }
                    opt.step();
                    m.parameters().forEach(p -> assertEquals(DType.FLOAT32, p.dtype()));
                }
            }
        }
        for (int i = 0; i < 3; i++) {
            assertEquals(lossesF32[i], lossesBf16[i], 0.03, "step " + i);
        }
        assertTrue(lossesBf16[2] < lossesBf16[0], "the bf16 run learns");
    }

    @Test
    void fp16AutocastTrainsWithAGradScalerLikeFloat32() {
        Random init = new Random(15);
        float[] x = DTypeTest.randn(init, 16 * 10);
        int[] targets = new int[16];
        for (int i = 0; i < targets.length; i++) {
            targets[i] = i % 4;
        }
        float[][] losses = new float[2][5];
        for (int run = 0; run < 2; run++) {
            try (Module m = new Sequential(new Linear(10, 32, new Random(1)), Activations.relu(), new Linear(32, 4, new Random(2)));
                 Sgd opt = new Sgd(m.parameters(), 0.2f); GradScaler scaler = new GradScaler()) {
                for (int step = 0; step < 5; step++) {
                    opt.zeroGrad();
                    try (TensorScope s = TensorScope.open(); Autocast ac = run == 0 ? Autocast.disabled() : Autocast.fp16()) {
                        Tensor loss = m.forward(Tensor.of(x, 16, 10)).crossEntropy(targets);
                        losses[run][step] = loss.item();
                        scaler.scale(loss).backward(); // 65536 x the loss: float16 gradients of the products stay finite
                    }
                    assertTrue(scaler.step(opt), "step " + step + " was skipped");
                    scaler.update();
                }
                assertEquals(65536f, scaler.scale(), "no overflow, no growth in 5 steps");
            }
        }
        for (int i = 0; i < 5; i++) {
            assertEquals(losses[0][i], losses[1][i], 0.01, "step " + i);
        }
        assertTrue(losses[1][4] < losses[1][0], "the fp16 run learns");
    }

    @Test
    void attentionRunsInTheLowPrecision() {
        Random rng = new Random(14);
        float[] q = DTypeTest.randn(rng, 2 * 2 * 5 * 4);
        try (TensorScope s = TensorScope.open()) {
            Tensor t = Tensor.of(q, 2, 2, 5, 4);
            Tensor ref = t.to(DType.BFLOAT16).to(DType.FLOAT32).scaledDotProductAttention(
                    t.to(DType.BFLOAT16).to(DType.FLOAT32), t.to(DType.BFLOAT16).to(DType.FLOAT32), true, null, 0f, 0)
                    .to(DType.BFLOAT16);
            try (Autocast ac = Autocast.bf16()) {
                Tensor out = t.scaledDotProductAttention(t, t, true, null, 0f, 0);
                assertEquals(DType.BFLOAT16, out.dtype());
                assertArrayEquals(ref.toArray(), out.toArray());
            }
        }
    }

    @Test
    void scopesNestAndAreClosedInnermostFirstOnTheirThread() throws InterruptedException, ExecutionException {
        try (Autocast outer = Autocast.bf16()) {
            Autocast inner = Autocast.fp16();
            assertEquals(DType.FLOAT16, Autocast.current());
            assertTrue(assertThrows(IllegalStateException.class, outer::close).getMessage().contains("innermost"));
            Throwable other = CompletableFuture.supplyAsync(() -> {
                try {
                    inner.close();
                    return null;
                } catch (IllegalStateException e) {
                    return e;
                }
            }).get();
            assertTrue(other != null && other.getMessage().contains("thread"), String.valueOf(other));
            assertNull(CompletableFuture.supplyAsync(Autocast::current).get(), "another thread has no autocast");
            inner.close();
            assertThrows(IllegalStateException.class, inner::close);
            assertEquals(DType.BFLOAT16, Autocast.current());
        }
        assertNull(Autocast.current());
    }
}
