package io.jdl.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.autograd.Autograd;
import io.jdl.autograd.GradCheck;
import io.jdl.autograd.NoGrad;
import io.jdl.device.Device;
import io.jdl.tensor.Attention;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Forward values against direct formulas, parameter names, attention weights, and bad input. */
class TransformerTest {
    private static void assertMessage(Executable call, String... parts) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "message should contain '" + p + "': " + e.getMessage());
        }
    }

    /** softmax(q·kᵀ/√d + mask)·v in doubles. */
    private static double[] naiveAttention(float[] q, float[] k, float[] v, float[] mask, boolean causal, int b, int h,
                                           int tq, int tk, int d, int dv) {
        double[] out = new double[b * h * tq * dv];
        for (int bh = 0; bh < b * h; bh++) {
            int bb = bh / h;
            for (int i = 0; i < tq; i++) {
                double[] s = new double[tk];
                double m = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < tk; j++) {
                    boolean ok = !(causal && j > i) && (mask == null || mask[bb * tk + j] != 0);
                    double dot = 0;
                    for (int c = 0; c < d; c++) {
                        dot += (double) q[(bh * tq + i) * d + c] * k[(bh * tk + j) * d + c];
                    }
                    s[j] = ok ? dot / Math.sqrt(d) : Double.NEGATIVE_INFINITY;
                    m = Math.max(m, s[j]);
                }
                double z = 0;
                for (int j = 0; j < tk; j++) {
                    s[j] = m == Double.NEGATIVE_INFINITY ? 0 : Math.exp(s[j] - m);
                    z += s[j];
                }
                for (int c = 0; c < dv; c++) {
                    double acc = 0;
                    for (int j = 0; j < tk; j++) {
                        acc += z == 0 ? 0 : s[j] / z * v[(bh * tk + j) * dv + c];
                    }
                    out[(bh * tq + i) * dv + c] = acc;
                }
            }
        }
        return out;
    }

    @Test
    void attentionMatchesTheFormulaAndReturnsWeights() {
        Random rng = new Random(1);
        int b = 2, h = 3, t = 6, d = 4;
        float[] q = GradCheck.randn(rng, b * h * t * d), k = GradCheck.randn(rng, b * h * t * d),
                v = GradCheck.randn(rng, b * h * t * d);
        float[] mask = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0};  // batch 1: every key padded
        for (boolean causal : new boolean[] {false, true}) {
            Shape s = Shape.of(b, h, t, d);
            try (Tensor tq = Tensor.of(q, s, Device.CPU); Tensor tk = Tensor.of(k, s, Device.CPU);
                 Tensor tv = Tensor.of(v, s, Device.CPU); Tensor tm = Tensor.of(mask, Shape.of(b, t), Device.CPU)) {
                Attention a = tq.attention(tk, tv, causal, tm, 0f, 0L, true);
                double[] expected = naiveAttention(q, k, v, mask, causal, b, h, t, t, d, d);
                float[] got = a.output().toArray();
                for (int i = 0; i < got.length; i++) {
                    assertEquals(expected[i], got[i], 1e-5, "output " + i + " causal=" + causal);
                }
                float[] w = a.weights().toArray();
                assertEquals(Shape.of(b, h, t, t), a.weights().shape());
                for (int row = 0; row < b * h * t; row++) {
                    double sum = 0;
                    for (int j = 0; j < t; j++) {
                        sum += w[row * t + j];
                        if (j >= 4 || (causal && j > row % t)) {
                            assertEquals(0f, w[row * t + j], "masked weight");
                        }
                    }
                    assertEquals(row >= h * t ? 0 : 1, sum, 1e-5, "row " + row + " sums to 1 (0 when fully padded)");
                }
                a.output().close();
                a.weights().close();
            }
        }
    }

    @Test
    void attentionDropoutIsSeededAndScalesByKeepProbability() {
        Random rng = new Random(2);
        Shape s = Shape.of(1, 1, 50, 8);
        try (Tensor q = Tensor.of(GradCheck.randn(rng, 400), s, Device.CPU);
             Tensor v = Tensor.full(s, 1f, Device.CPU)) {
            float[] a = q.scaledDotProductAttention(q, v, false, null, 0.5f, 7L).toArray();
            float[] a2 = q.scaledDotProductAttention(q, v, false, null, 0.5f, 7L).toArray();
            float[] b = q.scaledDotProductAttention(q, v, false, null, 0.5f, 8L).toArray();
            assertArrayEquals(a, a2);
            assertTrue(!java.util.Arrays.equals(a, b));
            double mean = 0;
            for (float x : a) {
                mean += x / a.length;
            }
            assertEquals(1.0, mean, 0.15, "inverted dropout keeps the expectation");
        }
    }

    @Test
    void layerNormNormalisesRows() {
        try (Tensor x = Tensor.of(new float[] {1, 2, 3, 4, -2, 0, 2, 4}, 2, 4); Tensor y = x.layerNorm(null, null, 0f + 1e-5f)) {
            float[] v = y.toArray();
            double inv = 1 / Math.sqrt(1.25 + 1e-5);
            assertEquals(-1.5 * inv, v[0], 1e-5);
            assertEquals(1.5 * inv, v[3], 1e-5);
            assertEquals(-1.5 * inv, v[4], 1e-5);
        }
    }

    @Test
    void embeddingLooksUpRowsAndSinusoidsMatchTheFormula() {
        try (Tensor w = Tensor.of(new float[] {0, 1, 10, 11, 20, 21}, 3, 2); Tensor e = w.embedding(new int[] {2, 0, 2}, 1, 3)) {
            assertEquals(Shape.of(1, 3, 2), e.shape());
            assertArrayEquals(new float[] {20, 21, 0, 1, 20, 21}, e.toArray());
        }
        float[] pe = PositionalEmbedding.sinusoids(5, 4);
        assertEquals(Math.sin(3), pe[3 * 4], 1e-6);
        assertEquals(Math.cos(3 / 100.0), pe[3 * 4 + 3], 1e-6);
    }

    @Test
    void sinusoidalPositionsAddTheTableAndCarryGradientsToTheInput() {
        try (PositionalEmbedding p = PositionalEmbedding.sinusoidal(6, 4);
             Tensor x = Tensor.zeros(Shape.of(2, 3, 4), Device.CPU).requiresGrad(true)) {
            assertEquals(0, p.namedParameters().size(), "no learned parameters");
            float[] pe = PositionalEmbedding.sinusoids(6, 4);
            try (Tensor y = p.forward(x); Tensor other = p.forward(Tensor.zeros(Shape.of(1, 5, 4), Device.CPU))) {
                float[] v = y.toArray();
                for (int i = 0; i < v.length; i++) {
                    assertEquals(pe[i % 12], v[i], 0f);
                }
                try (Tensor s = y.sum()) {
                    s.backward();  // still valid after another shape was used
                }
                float[] g = x.grad().toArray();
                for (float gi : g) {
                    assertEquals(1f, gi);
                }
            }
        }
    }

    @Test
    void parameterNamesFollowPyTorch() {
        try (Transformer m = Transformer.causalLm(new Transformer.Config(11, 8, 8, 2, 2, 0f, false), new Random(1))) {
            List<String> names = List.copyOf(m.namedParameters().keySet());
            assertEquals(List.of("tok_emb.weight", "pos_emb.weight", "blocks.0.ln1.weight", "blocks.0.ln1.bias",
                    "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias", "blocks.0.attn.proj.weight",
                    "blocks.0.attn.proj.bias", "blocks.0.ln2.weight", "blocks.0.ln2.bias", "blocks.0.mlp.fc1.weight",
                    "blocks.0.mlp.fc1.bias", "blocks.0.mlp.fc2.weight", "blocks.0.mlp.fc2.bias"), names.subList(0, 14));
            assertEquals(List.of("ln_f.weight", "ln_f.bias", "head.weight", "head.bias"),
                    names.subList(names.size() - 4, names.size()));
            assertEquals(Shape.of(24, 8), m.namedParameters().get("blocks.1.attn.qkv.weight").shape());
        }
        try (Transformer m = Transformer.encoder(new Transformer.Config(11, 8, 8, 2, 1, 0f, true), new Random(1))) {
            assertTrue(m.namedParameters().containsKey("head.bias"));
            assertTrue(!m.namedParameters().containsKey("head.weight"), "tied: the head uses tok_emb.weight");
        }
    }

    @Test
    void causalLmIgnoresTheFutureAndRecordsWeights() {
        try (Transformer m = Transformer.causalLm(new Transformer.Config(7, 6, 8, 2, 2, 0f, true), new Random(3));
             NoGrad ignored = Autograd.noGrad()) {
            m.recordAttentionWeights(true);
            float[] a, b;
            try (Tensor y = m.forward(new int[] {1, 2, 3, 4, 5, 6}, 1, 6, null)) {
                a = y.toArray();
            }
            Tensor w = m.blocks().get(1).attention().lastWeights();
            assertNotNull(w);
            assertEquals(Shape.of(1, 2, 6, 6), w.shape());
            assertEquals(0f, w.toArray()[1], "token 0 does not see token 1");
            try (Tensor y = m.forward(new int[] {1, 2, 3, 0, 0, 0}, 1, 6, null)) {
                b = y.toArray();
            }
            for (int i = 0; i < 3 * 7; i++) {
                assertEquals(a[i], b[i], 1e-5, "logit " + i + " depends only on the past");
            }
            m.recordAttentionWeights(false);
            assertNull(m.blocks().get(1).attention().lastWeights());
        }
    }

    @Test
    void paddingMasksFromLengthsOrFlagsHideTheirKeys() {
        try (Tensor m = MultiHeadAttention.paddingMask(new int[] {2, 3}, 3, Device.CPU);
             Tensor m2 = MultiHeadAttention.paddingMask(new boolean[][] {{true, true, false}, {true, true, true}},
                     Device.CPU)) {
            assertArrayEquals(new float[] {1, 1, 0, 1, 1, 1}, m.toArray());
            assertArrayEquals(m.toArray(), m2.toArray());
        }
        assertMessage(() -> MultiHeadAttention.paddingMask(new int[] {4}, 3, Device.CPU), "length 4", "[0, 3]");
        // An encoder's outputs at real tokens do not depend on what the padding holds.
        try (Transformer enc = Transformer.encoder(new Transformer.Config(9, 5, 8, 2, 2, 0f, false), new Random(4));
             NoGrad ignored = Autograd.noGrad();
             Tensor mask = MultiHeadAttention.paddingMask(new int[] {3}, 5, Device.CPU);
             Tensor a = enc.forward(new int[] {1, 2, 3, 4, 5}, 1, 5, mask);
             Tensor b = enc.forward(new int[] {1, 2, 3, 8, 0}, 1, 5, mask)) {
            float[] x = a.toArray(), y = b.toArray();
            for (int i = 0; i < 3 * 9; i++) {
                assertEquals(x[i], y[i], 1e-5, "logit " + i);
            }
        }
    }

    // ---- bad input ----

    @Test
    void headsMustDivideTheWidth() {
        assertMessage(() -> new MultiHeadAttention(10, 3, false, 0f, new Random(0)), "3 heads", "width 10");
    }

    @Test
    void maskShapesMustBroadcast() {
        try (Tensor q = Tensor.zeros(Shape.of(2, 1, 4, 3), Device.CPU);
             Tensor bad = Tensor.zeros(Shape.of(2, 5), Device.CPU);
             Tensor bad2 = Tensor.zeros(Shape.of(4, 2), Device.CPU)) {
            assertMessage(() -> q.scaledDotProductAttention(q, q, false, bad, 0f, 0), "[2, 5]", "[2, 1, 4, 4]");
            assertMessage(() -> q.scaledDotProductAttention(q, q, false, bad2, 0f, 0), "[4, 2]", "batch 2", "keys 4");
        }
        try (Tensor q = Tensor.zeros(Shape.of(2, 1, 4, 3), Device.CPU);
             Tensor k = Tensor.zeros(Shape.of(2, 1, 4, 2), Device.CPU)) {
            assertMessage(() -> q.scaledDotProductAttention(k, k, false, null, 0f, 0), "[2, 1, 4, 3]", "[2, 1, 4, 2]");
        }
    }

    @Test
    void tokenIdsMustBeInTheVocabulary() {
        try (Embedding e = new Embedding(5, 3, new Random(0))) {
            assertMessage(() -> e.forward(new int[] {0, 5}, 2), "token id 5", "vocabulary size 5");
            assertMessage(() -> e.forward(new int[] {-1}, 1), "token id -1", "vocabulary size 5");
        }
    }

    @Test
    void sequencesMustFitThePositionalTable() {
        try (Transformer m = Transformer.encoder(new Transformer.Config(5, 4, 8, 2, 1, 0f, false), new Random(0))) {
            assertMessage(() -> m.forward(new int[6], 1, 6, null), "6 tokens", "4 positions");
        }
        try (PositionalEmbedding p = PositionalEmbedding.sinusoidal(3, 2); Tensor x = Tensor.zeros(Shape.of(1, 4, 2), Device.CPU)) {
            assertMessage(() -> p.forward(x), "4 tokens", "3 positions");
        }
    }
}
