package io.jdl.bench;

import io.jdl.device.Device;
import io.jdl.models.FashionMnistModels;
import io.jdl.nn.Module;
import io.jdl.nn.Transformer;
import io.jdl.optim.Adam;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * The jdl side of {@code scripts/bench-cpu}: the CPU rows of issue #15, each built once and kept warm, timed on
 * request so a driver can interleave them with PyTorch's ({@code scripts/bench_cpu_torch.py} builds the same
 * rows). Rows:
 * <ul>
 *   <li>{@code mlp-b128}, {@code mlp-b1024}: 784-1024-1024-10 ReLU, training step (forward, cross-entropy,
 *       backward, Adam, zeroing the gradients);</li>
 *   <li>{@code cnn16-b128}: {@link FashionMnistModels#cnn} at width 16, training step (its dropout on);</li>
 *   <li>{@code conv2d-b128}: the cnn16 network's second convolution, x [128, 16, 14, 14], 32 filters 3×3,
 *       padding 1, bias: {@code sum(conv(x)·r).backward()} with x, weight and bias requiring gradients;</li>
 *   <li>{@code gpt-b16}: causal transformer, 4 layers, 4 heads, 128 wide, 64 tokens, 65-token vocabulary,
 *       batch 16 (the CPU charlm sample with 4 layers and width 128), training step;</li>
 *   <li>{@code matmul-128x784x1024}, {@code matmul-512}: one float32 product [m, k]·[k, n].</li>
 * </ul>
 * Protocol (stdin/stdout, one line each): {@code ROW STEPS} answers {@code TIMES ROW ms ms ...} (each step
 * timed alone, wall clock); {@code INFO} answers {@code INFO threads=N java=V}; end of input quits.
 * Inputs are fixed-seed random: this measures speed, not learning.
 */
public final class CpuStepRows {
    private CpuStepRows() {
    }

    /** One row: a step to time and what it owns. */
    private interface Row extends AutoCloseable {
        void step();

        @Override
        void close();
    }

    public static void main(String[] args) throws Exception {
        Map<String, Row> rows = new HashMap<>();
        var in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        try {
            for (String line; (line = in.readLine()) != null; ) {
                String[] w = line.trim().split("\\s+");
                if (w[0].equals("INFO")) {
                    System.out.println("INFO threads=" + io.jdl.backend.cpu.CpuBackend.threads() + " java="
                            + Runtime.version() + " jdl.cpu.native=" + System.getProperty("jdl.cpu.native",
                            System.getenv().getOrDefault("JDL_CPU_NATIVE", "auto")) + " onednn-found="
                            + io.jdl.cpunative.CpuNativeLibraries.isAvailable(
                                    io.jdl.cpunative.CpuNativeLibraries.Library.ONEDNN)
                            + " OMP_NUM_THREADS=" + System.getenv().getOrDefault("OMP_NUM_THREADS", "unset")
                            + " OMP_WAIT_POLICY=" + System.getenv().getOrDefault("OMP_WAIT_POLICY", "unset"));
                } else {
                    Row row = rows.computeIfAbsent(w[0], CpuStepRows::build);
                    int steps = Integer.parseInt(w[1]);
                    StringBuilder out = new StringBuilder("TIMES ").append(w[0]);
                    for (int i = 0; i < steps; i++) {
                        long t0 = System.nanoTime();
                        row.step();
                        out.append(String.format(Locale.ROOT, " %.4f", (System.nanoTime() - t0) / 1e6));
                    }
                    System.out.println(out);
                }
                System.out.flush();
            }
        } finally {
            rows.values().forEach(Row::close);
        }
    }

    private static Row build(String name) {
        Random rng = new Random(0);
        return switch (name) {
            case "mlp-b128" -> training(FashionMnistModels.mlp(rng, 1024, 0), Shape.of(128, 784), rng);
            case "mlp-b1024" -> training(FashionMnistModels.mlp(rng, 1024, 0), Shape.of(1024, 784), rng);
            case "cnn16-b128" -> training(FashionMnistModels.cnn(rng, 16), Shape.of(128, 1, 28, 28), rng);
            case "conv2d-b128" -> conv(rng);
            case "gpt-b16" -> gpt(rng);
            case "matmul-128x784x1024" -> matmul(rng, 128, 784, 1024);
            case "matmul-512" -> matmul(rng, 512, 512, 512);
            default -> throw new IllegalArgumentException("unknown row " + name);
        };
    }

    private static Row training(Module net, Shape inputShape, Random rng) {
        Adam adam = new Adam(net.parameters(), 1e-3f);
        Tensor x = Tensor.randn(rng, inputShape, Device.CPU);
        int[] labels = rng.ints(inputShape.dim(0), 0, 10).toArray();
        return new Row() {
            public void step() {
                try (Tensor logits = net.forward(x); Tensor loss = logits.crossEntropy(labels)) {
                    loss.backward();
                }
                adam.step();
                adam.zeroGrad();
            }

            public void close() {
                adam.close();
                x.close();
                net.close();
            }
        };
    }

    private static Row gpt(Random rng) {
        int batch = 16, tokens = 64, vocab = 65;
        Transformer net = Transformer.causalLm(new Transformer.Config(vocab, tokens, 128, 4, 4, 0f, false), rng);
        Adam adam = new Adam(net.parameters(), 1e-3f);
        int[] ids = rng.ints(batch * tokens, 0, vocab).toArray(), labels = rng.ints(batch * tokens, 0, vocab).toArray();
        return new Row() {
            public void step() {
                try (Tensor logits = net.forward(ids, batch, tokens, null); Tensor loss = logits.crossEntropy(labels)) {
                    loss.backward();
                }
                adam.step();
                adam.zeroGrad();
            }

            public void close() {
                adam.close();
                net.close();
            }
        };
    }

    private static Row conv(Random rng) {
        Tensor x = Tensor.randn(rng, Shape.of(128, 16, 14, 14), Device.CPU).requiresGrad(true);
        Tensor w = Tensor.randn(rng, Shape.of(32, 16, 3, 3), Device.CPU).requiresGrad(true);
        Tensor b = Tensor.randn(rng, Shape.of(32), Device.CPU).requiresGrad(true);
        Tensor r = Tensor.randn(rng, Shape.of(128, 32, 14, 14), Device.CPU);
        return new Row() {
            public void step() {
                x.zeroGrad();
                w.zeroGrad();
                b.zeroGrad();
                try (Tensor y = x.conv2d(w, b, 1, 1, 1, 1); Tensor yr = y.mul(r); Tensor s = yr.sum()) {
                    s.backward();
                }
            }

            public void close() {
                for (Tensor t : new Tensor[] {x, w, b, r}) {
                    t.close();
                }
            }
        };
    }

    private static Row matmul(Random rng, int m, int k, int n) {
        Tensor a = Tensor.randn(rng, Shape.of(m, k), Device.CPU), b = Tensor.randn(rng, Shape.of(k, n), Device.CPU);
        return new Row() {
            public void step() {
                a.matmul(b).close();
            }

            public void close() {
                a.close();
                b.close();
            }
        };
    }
}
