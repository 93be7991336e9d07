package io.jdl.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.device.Device;
import io.jdl.device.Precision;
import io.jdl.autograd.GradCheck;
import io.jdl.backend.cuda.CudaBackend;
import io.jdl.cuda.Gpu;
import io.jdl.data.MaskedLm;
import io.jdl.nn.Module;
import io.jdl.nn.Transformer;
import io.jdl.tensor.Attention;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The transformer ops on CUDA, forward and backward, equal the CPU reference on random inputs (float32,
 * TF32 off, max-norm relative error < 1e-4): attention with every mask and dropout at sequence lengths
 * 1, 7, 33, 100 and 1024, layer norm, embedding with repeated ids, split, and a whole causal LM step.
 */
@Tag("gpu")
class TransformerGpuParityTest {
    private static final double TOLERANCE = 1e-4;
    private static final Device GPU = Device.cuda(0);
    private final Random rng = new Random(4242);

    @BeforeEach
    void needsGpu() {
        Gpu.assumeAvailable();
        Precision.tf32(false);
    }

    @AfterEach
    void defaultPrecision() {
        Precision.defaults();  // for the classes after this one
    }

    static void close(String what, float[] gpu, float[] cpu) {
        double err = Gpu.relativeError(gpu, cpu);
        assertTrue(err < TOLERANCE, what + ": relative error " + err);
    }

    /** Runs f on CPU and GPU copies of the inputs; compares the output and every input's gradient. */
    private void same(String name, Function<Tensor[], Tensor> f, float[][] values, Shape... shapes) {
        Parity.same(name, GPU, rng, TransformerGpuParityTest::close, f, values, shapes);
    }

    private float[] randn(long n) {
        return GradCheck.randn(rng, Math.toIntExact(n));
    }

    @Test
    void attentionAtSeveralLengths() {
        for (int t : new int[] {1, 7, 33, 100, 1024}) {
            int b = 2, h = t >= 1024 ? 2 : 3, d = t >= 1024 ? 64 : 16;
            Shape s = Shape.of(b, h, t, d);
            float[] mask = new float[b * t];
            for (int i = 0; i < mask.length; i++) {
                mask[i] = i % t == 0 || rng.nextInt(4) != 0 ? 1f : 0f;  // key 0 always kept
            }
            for (boolean causal : new boolean[] {false, true}) {
                for (boolean padded : new boolean[] {false, true}) {
                    for (float p : new float[] {0f, 0.2f}) {
                        String name = "attention T=" + t + " causal=" + causal + " padded=" + padded + " dropout=" + p;
                        same(name, in -> {
                            Tensor m = padded ? Tensor.of(mask, Shape.of(b, t), in[0].device()) : null;
                            try {
                                return in[0].scaledDotProductAttention(in[1], in[2], causal, m, p, 77L);
                            } finally {
                                if (m != null) {
                                    m.close();
                                }
                            }
                        }, new float[][] {randn(s.numel()), randn(s.numel()), randn(s.numel())}, s, s, s);
                    }
                }
            }
        }
    }

    @Test
    void attentionWeightsAndCrossLengths() {
        Shape qs = Shape.of(2, 2, 13, 8), ks = Shape.of(2, 2, 37, 8), vs = Shape.of(2, 2, 37, 5);
        same("attention tq != tk", in -> in[0].scaledDotProductAttention(in[1], in[2], false, null, 0f, 0L),
                new float[][] {randn(qs.numel()), randn(ks.numel()), randn(vs.numel())}, qs, ks, vs);
        float[] q = randn(qs.numel()), k = randn(ks.numel()), v = randn(vs.numel());
        float[][] w = new float[2][];
        for (int side = 0; side < 2; side++) {
            Device d = side == 0 ? Device.CPU : GPU;
            try (Tensor tq = Tensor.of(q, qs, d); Tensor tk = Tensor.of(k, ks, d); Tensor tv = Tensor.of(v, vs, d)) {
                Attention a = tq.attention(tk, tv, true, null, 0f, 0L, true);
                w[side] = a.weights().toArray();
                a.weights().close();
                a.output().close();
            }
        }
        close("attention weights", w[1], w[0]);
    }

    @Test
    void layerNormEmbeddingSplit() {
        for (int cols : new int[] {1, 7, 64, 300, 1024}) {
            Shape xs = Shape.of(3, 5, cols);
            same("layerNorm cols=" + cols, in -> in[0].layerNorm(in[1], in[2], 1e-5f),
                    new float[][] {randn(xs.numel()), randn(cols), randn(cols)}, xs, Shape.of(cols), Shape.of(cols));
        }
        int[] ids = new int[1000];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = rng.nextInt(17);
        }
        same("embedding", in -> in[0].embedding(ids, 10, 100), new float[][] {randn(17 * 33)}, Shape.of(17, 33));
        same("split", in -> {
            Tensor[] parts = in[0].split(2, 3, 5, 1);
            parts[0].close(); // only the middle part is compared; the others would leak
            parts[2].close();
            return parts[1];
        }, new float[][] {randn(4 * 3 * 9 * 2)}, Shape.of(4, 3, 9, 2));
        same("gelu", in -> in[0].gelu(), new float[][] {randn(1001)}, Shape.of(1001));
    }

    @Test
    void causalLmTrainingStepMatchesTheCpu() {
        Transformer.Config c = new Transformer.Config(29, 40, 32, 4, 2, 0.1f, true);
        int batch = 3, tokens = 37;
        int[] in = new int[batch * tokens], out = new int[batch * tokens];
        for (int i = 0; i < in.length; i++) {
            in[i] = rng.nextInt(29);
            out[i] = i % 5 == 0 ? MaskedLm.IGNORE_INDEX : rng.nextInt(29);
        }
        float[][] loss = new float[2][];
        Map<String, float[]>[] grads = new Map[2];
        for (int side = 0; side < 2; side++) {
            try (Transformer m = Transformer.causalLm(c, new Random(5))) {
                m.to(side == 0 ? Device.CPU : GPU);
                try (Tensor logits = m.forward(in, batch, tokens, null);
                     Tensor l = logits.crossEntropy(out, MaskedLm.IGNORE_INDEX)) {
                    l.backward();
                    loss[side] = l.toArray();
                }
                grads[side] = new java.util.LinkedHashMap<>();
                for (var e : m.namedParameters().entrySet()) {
                    grads[side].put(e.getKey(), e.getValue().grad().toArray());
                }
            }
        }
        close("loss", loss[1], loss[0]);
        for (String name : grads[0].keySet()) {
            close("gradient of " + name, grads[1].get(name), grads[0].get(name));
        }
    }

    @Test
    void trainingStepsHoldNoExtraMemory() {
        Transformer.Config c = new Transformer.Config(29, 64, 32, 4, 2, 0.1f, false);
        int batch = 4, tokens = 64;
        int[] in = new int[batch * tokens];
        for (int i = 0; i < in.length; i++) {
            in[i] = rng.nextInt(29);
        }
        float[] mask = new float[batch * tokens];
        java.util.Arrays.fill(mask, 1f);
        mask[tokens - 1] = 0f;
        CudaBackend backend = CudaBackend.get(0);
        try (Module m = Transformer.encoder(c, new Random(6)).to(GPU);
             Tensor pad = Tensor.of(mask, Shape.of(batch, tokens), GPU)) {
            Transformer t = (Transformer) m;
            long after1 = 0;
            for (int step = 0; step < 20; step++) {
                try (Tensor logits = t.forward(in, batch, tokens, pad); Tensor l = logits.crossEntropy(in)) {
                    l.backward();
                }
                m.zeroGrad();
                backend.synchronize();
                if (step == 0) {
                    after1 = backend.allocator().allocatedBytes();
                }
            }
            assertEquals(after1, backend.allocator().allocatedBytes(), "device bytes after 20 steps vs after one");
        }
    }
}
