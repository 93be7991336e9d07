package io.jdl.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.autograd.Autograd;
import io.jdl.autograd.NoGrad;
import io.jdl.data.MaskedLm;
import io.jdl.optim.Adam;
import io.jdl.tensor.Tensor;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Small transformers learn on the CPU: reversing sequences, memorising a text, filling in masked tokens. */
class TransformerLearningTest {

    /** Fraction of positions whose arg-max logit equals the target (targets of IGNORE_INDEX skipped). */
    static double accuracy(Transformer m, int[] inputs, int[] targets, int batch, int tokens) {
        m.eval();
        try (NoGrad ignored = Autograd.noGrad(); Tensor logits = m.forward(inputs, batch, tokens, null)) {
            float[] v = logits.toArray();
            int classes = logits.shape().dim(-1), correct = 0, counted = 0;
            for (int i = 0; i < targets.length; i++) {
                if (targets[i] == MaskedLm.IGNORE_INDEX) {
                    continue;
                }
                int best = 0;
                for (int j = 1; j < classes; j++) {
                    if (v[i * classes + j] > v[i * classes + best]) {
                        best = j;
                    }
                }
                correct += best == targets[i] ? 1 : 0;
                counted++;
            }
            return correct / (double) counted;
        } finally {
            m.train(true);
        }
    }

    static float step(Transformer m, Adam opt, int[] inputs, int[] targets, int batch, int tokens) {
        opt.zeroGrad();
        try (Tensor logits = m.forward(inputs, batch, tokens, null);
             Tensor loss = logits.crossEntropy(targets, MaskedLm.IGNORE_INDEX)) {
            loss.backward();
            opt.step();
            return loss.item();
        }
    }

    @Test
    void twoLayerEncoderLearnsToReverseSequences() {
        int vocab = 8, tokens = 6, batch = 32;
        Random data = new Random(11);
        try (Transformer m = Transformer.encoder(new Transformer.Config(vocab, tokens, 32, 4, 2, 0f, false),
                new Random(1)); Adam opt = new Adam(m.parameters(), 3e-3f)) {
            int[] in = new int[batch * tokens], out = new int[batch * tokens];
            for (int step = 0; step < 400; step++) {
                fillReversal(data, in, out, vocab, batch, tokens);
                step(m, opt, in, out, batch, tokens);
            }
            int test = 256;
            int[] ti = new int[test * tokens], to = new int[test * tokens];
            fillReversal(new Random(99), ti, to, vocab, test, tokens);
            double acc = accuracy(m, ti, to, test, tokens);
            assertTrue(acc >= 0.99, "reversal token accuracy " + acc);
        }
    }

    private static void fillReversal(Random rng, int[] in, int[] out, int vocab, int batch, int tokens) {
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < tokens; t++) {
                in[b * tokens + t] = rng.nextInt(vocab);
            }
            for (int t = 0; t < tokens; t++) {
                out[b * tokens + t] = in[b * tokens + tokens - 1 - t];
            }
        }
    }

    @Test
    void causalModelMemorisesAText() {
        String text = "the quick brown fox jumps over the lazy dog.";
        int[] ids = text.chars().map(c -> c == ' ' ? 0 : c == '.' ? 1 : c - 'a' + 2).toArray();
        int vocab = 28, tokens = ids.length - 1;
        int[] in = java.util.Arrays.copyOf(ids, tokens), out = java.util.Arrays.copyOfRange(ids, 1, ids.length);
        try (Transformer m = Transformer.causalLm(new Transformer.Config(vocab, 64, 32, 4, 2, 0f, true), new Random(2));
             Adam opt = new Adam(m.parameters(), 3e-3f)) {
            for (int step = 0; step < 300; step++) {
                step(m, opt, in, out, 1, tokens);
            }
            double acc = accuracy(m, in, out, 1, tokens);
            assertTrue(acc == 1.0, "next-character accuracy on the memorised text " + acc);
        }
    }

    @Test
    void maskedModelRecoversMaskedTokens() {
        // A tiny repetitive corpus: "abcd" repeated; every masked token is determined by its neighbours.
        int vocab = 4, maskId = vocab, tokens = 16, batch = 16;
        SplittableRandom random = new SplittableRandom(5);
        try (Transformer m = Transformer.encoder(new Transformer.Config(vocab + 1, tokens, 32, 4, 2, 0f, true),
                new Random(3)); Adam opt = new Adam(m.parameters(), 3e-3f)) {
            for (int step = 0; step < 250; step++) {
                MaskedLm.Masked mk = MaskedLm.mask(corpus(random, batch, tokens), maskId, vocab, 0.3, random);
                step(m, opt, mk.inputs(), mk.targets(), batch, tokens);
            }
            int test = 64;
            MaskedLm.Masked mk = MaskedLm.mask(corpus(new SplittableRandom(77), test, tokens), maskId, vocab,
                    new SplittableRandom(78));
            double acc = accuracy(m, mk.inputs(), mk.targets(), test, tokens);
            assertTrue(acc >= 0.99, "masked-token accuracy " + acc + " over " + mk.chosen() + " positions");
        }
    }

    private static int[] corpus(SplittableRandom random, int batch, int tokens) {
        int[] ids = new int[batch * tokens];
        for (int b = 0; b < batch; b++) {
            int start = random.nextInt(4);
            for (int t = 0; t < tokens; t++) {
                ids[b * tokens + t] = (start + t) % 4;
            }
        }
        return ids;
    }
}
