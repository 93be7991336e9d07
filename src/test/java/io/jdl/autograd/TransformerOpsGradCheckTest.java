package io.jdl.autograd;

import static io.jdl.autograd.GradCheck.randn;

import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Finite-difference checks of attention, layer norm, embedding and split on the CPU. */
class TransformerOpsGradCheckTest {
    private static final double EPS = 1e-2;

    private static void checkAttention(String name, boolean causal, float[] keyMask, int tq, int tk, float dropout) {
        Random rng = new Random(name.hashCode());
        int b = 2, h = 2, d = 3, dv = 4;
        Shape qs = Shape.of(b, h, tq, d), ks = Shape.of(b, h, tk, d), vs = Shape.of(b, h, tk, dv);
        GradCheck.check(name, in -> {
            Tensor mask = keyMask == null ? null : Tensor.of(keyMask, Shape.of(b, tk), Device.CPU);
            try {
                return in[0].scaledDotProductAttention(in[1], in[2], causal, mask, dropout, 1234L);
            } finally {
                if (mask != null) {
                    mask.close();
                }
            }
        }, EPS, new float[][] {randn(rng, (int) qs.numel()), randn(rng, (int) ks.numel()), randn(rng, (int) vs.numel())},
                qs, ks, vs);
    }

    @Test
    void attentionWithoutMask() {
        checkAttention("attention", false, null, 5, 5, 0f);
    }

    @Test
    void attentionCrossLengths() {
        checkAttention("attention tq != tk", false, null, 3, 6, 0f);
    }

    @Test
    void attentionCausal() {
        checkAttention("attention causal", true, null, 5, 5, 0f);
    }

    @Test
    void attentionWithPaddingMask() {
        // batch 0 keeps keys 0..2, batch 1 keeps 0, 2, 4
        checkAttention("attention padding", false, new float[] {1, 1, 1, 0, 0, 1, 0, 1, 0, 1}, 5, 5, 0f);
    }

    @Test
    void attentionCausalWithPaddingAndDropout() {
        checkAttention("attention causal padding dropout", true, new float[] {1, 1, 1, 1, 0, 1, 1, 0, 1, 1}, 5, 5,
                0.3f);
    }

    @Test
    void layerNorm() {
        Random rng = new Random(3);
        Shape xs = Shape.of(2, 3, 7);
        float[] x = randn(rng, 42);
        for (int i = 0; i < x.length; i++) {
            x[i] = x[i] * 2 + 1;
        }
        GradCheck.check("layerNorm", in -> in[0].layerNorm(in[1], in[2], 1e-5f), EPS,
                new float[][] {x, randn(rng, 7), randn(rng, 7)}, xs, Shape.of(7), Shape.of(7));
        GradCheck.check("layerNorm without affine", in -> in[0].layerNorm(null, null, 1e-5f), EPS,
                new float[][] {randn(rng, 42)}, xs);
    }

    @Test
    void embeddingWithRepeatedIds() {
        Random rng = new Random(4);
        int[] ids = {3, 1, 3, 3, 0, 1, 4, 3};
        GradCheck.check("embedding", in -> in[0].embedding(ids, 2, 4), EPS, new float[][] {randn(rng, 6 * 5)},
                Shape.of(6, 5));
    }

    @Test
    void split() {
        Random rng = new Random(5);
        GradCheck.check("split", in -> {
            Tensor[] parts = in[0].split(1, 1, 3, 2);
            return parts[1].mul(parts[1]);
        }, EPS, new float[][] {randn(rng, 2 * 6 * 3)}, Shape.of(2, 6, 3));
    }
}
