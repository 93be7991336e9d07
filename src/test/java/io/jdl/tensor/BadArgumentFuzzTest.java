package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.autograd.Autograd;
import io.jdl.autograd.NoGrad;
import io.jdl.device.Device;
import io.jdl.backend.cpu.CpuStorage;
import io.jdl.nn.Activations;
import io.jdl.nn.BatchNorm2d;
import io.jdl.nn.Conv2d;
import io.jdl.nn.Dropout;
import io.jdl.nn.Embedding;
import io.jdl.nn.Flatten;
import io.jdl.nn.Init;
import io.jdl.nn.LayerNorm;
import io.jdl.nn.Linear;
import io.jdl.nn.Mlp;
import io.jdl.nn.Module;
import io.jdl.nn.MultiHeadAttention;
import io.jdl.nn.Pool2d;
import io.jdl.nn.PositionalEmbedding;
import io.jdl.nn.Residual;
import io.jdl.nn.Sequential;
import io.jdl.nn.TransformerBlock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * Randomised bad arguments over every public {@link Tensor} operation and the nn modules' constructors and
 * forwards (issue #11): shapes of every rank with empty, negative and huge dimensions, axes and window
 * sizes out of range, non-finite scalars, nulls and closed tensors, mixed with valid ones. Every call
 * either returns (its results are then backpropagated where they carry a graph, and closed) or throws an
 * {@link IllegalArgumentException}, {@link IllegalStateException} or one of jdl's own exceptions, with a
 * message; and afterwards exactly as many CPU storages are open as before it. Seeded: a failure names the
 * seed and call, and reruns identically.
 *
 * <p>The receiver of a method and a module's input are never null (calling a method on null is the
 * caller's NullPointerException); every other tensor argument sometimes is.
 *
 * <p>Huge sizes go only where no valid call could allocate from them (in pairs in a shape, or as window
 * sizes and axes); a valid 4 GiB tensor is not a bad argument, and would only test the heap.
 */
@Isolated
class BadArgumentFuzzTest {
    /** Fixed for CI; {@code -Djdl.fuzz.seed=N -Djdl.fuzz.calls=N} explores further. */
    private static final long SEED = Long.getLong("jdl.fuzz.seed", 20261201L);
    private static final int CALLS = Integer.getInteger("jdl.fuzz.calls", 4000);
    private static final int[] SMALL = {0, 1, 1, 2, 2, 3, 3, 4};
    private static final int[] NEGATIVE = {-1, -2, Integer.MIN_VALUE};
    private static final int[] BAD = {-1, -2, Integer.MIN_VALUE, 1 << 30, Integer.MAX_VALUE};
    private static final float[] SCALARS = {0f, 0.5f, -1f, 1e-5f, 2f, Float.NaN, Float.POSITIVE_INFINITY, 1e30f};

    /** One fuzzed call: draws its arguments from {@code a}, registers what it creates, returns its result. */
    private interface Call {
        Object run(Args a);
    }

    @Test
    void badArgumentsThrowClearlyAndLeakNothing() {
        Map<String, Call> ops = operations();
        List<String> names = new ArrayList<>(ops.keySet());
        Random random = new Random(SEED);
        Map<String, Integer> thrown = new TreeMap<>();
        Map<String, Integer> succeeded = new TreeMap<>();
        long start = CpuStorage.liveCount();
        for (int call = 0; call < CALLS; call++) {
            String name = names.get(random.nextInt(names.size()));
            long before = CpuStorage.liveCount();
            Args a = new Args(new Random(random.nextLong()));
            String where = "call " + call + " (" + name + ", seed " + SEED + ")";
            try {
                a.own(ops.get(name).run(a));
                a.backwardThroughResults();
                succeeded.merge(name, 1, Integer::sum);
            } catch (RuntimeException e) {
                a.log.append(" -> ").append(e);
                boolean expected = e instanceof IllegalArgumentException || e instanceof IllegalStateException
                        || e.getClass().getName().startsWith("io.jdl.");
                assertTrue(expected, where + " threw " + e + " with arguments" + a.log + "\n" + stackTrace(e));
                assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), where + " threw " + e + " without a message");
                thrown.merge(e.getClass().getSimpleName(), 1, Integer::sum);
            } finally {
                a.closeAll();
            }
            assertEquals(before, CpuStorage.liveCount(), where + " left CPU storages open; arguments" + a.log);
        }
        assertEquals(start, CpuStorage.liveCount());
        System.out.println("BadArgumentFuzzTest: " + CALLS + " calls, seed " + SEED + ", exceptions " + thrown
                + ", successes " + succeeded);
        // The fuzzing is only worth something if it provokes both failures and successes in numbers.
        int failures = thrown.values().stream().mapToInt(Integer::intValue).sum();
        assertTrue(failures > CALLS / 4 && failures < CALLS * 9 / 10, "failures " + thrown + " of " + CALLS);
    }

    private static String stackTrace(Throwable e) {
        java.io.StringWriter w = new java.io.StringWriter();
        e.printStackTrace(new java.io.PrintWriter(w));
        return w.toString();
    }

    /** The random arguments of one call, and everything it created, closed afterwards in reverse order. */
    private static final class Args {
        final Random r;
        final List<Object> owned = new ArrayList<>();
        final StringBuilder log = new StringBuilder();
        int[] last;

        Args(Random r) {
            this.r = r;
        }

        /** A size that allocates (a module's width): mostly small and valid, sometimes negative. */
        int size() {
            int v = r.nextInt(5) == 0 ? pick(NEGATIVE) : pick(SMALL);
            log.append(' ').append(v);
            return v;
        }

        /** A window size, stride, padding or axis: huge values cost nothing here. */
        int param() {
            int v = r.nextInt(4) == 0 ? pick(BAD) : r.nextInt(6) - 1;
            log.append(' ').append(v);
            return v;
        }

        float scalar() {
            float v = SCALARS[r.nextInt(SCALARS.length)];
            log.append(' ').append(v);
            return v;
        }

        int pick(int[] values) {
            return values[r.nextInt(values.length)];
        }

        /**
         * Dimensions of rank 0 to 4, sometimes negative or huge; a shape that would be valid with large
         * non-zero dimensions gets a negative dimension instead, so that no valid shape, and no result of
         * one, is huge.
         */
        int[] dims(int rank) {
            int[] d = new int[rank];
            long nonZero = 1; // an empty [2^30, 0] is cheap, but matmul by [0, 1] makes 2^30 elements
            for (int i = 0; i < rank; i++) {
                d[i] = r.nextInt(5) == 0 ? pick(BAD) : pick(SMALL);
                nonZero = Math.min(1L << 40, nonZero * Math.max(1, d[i]));
            }
            if (nonZero > 1 << 12 && nonZero <= Shape.MAX_ELEMENTS) {
                d[r.nextInt(rank)] = -3;
            }
            log.append(' ').append(java.util.Arrays.toString(d));
            return d;
        }

        /** Dimensions of any rank; half the time the previous ones again, so that operands often match. */
        int[] dims() {
            if (last != null && r.nextBoolean()) {
                log.append(" same");
                return last;
            }
            last = dims(r.nextInt(5));
            return last;
        }

        /** A valid small size, for calls built to fit. */
        int fit() {
            return 1 + r.nextInt(3);
        }

        /** A tensor argument of the given dims: sometimes null, else as {@link #tensor(int...)}. */
        Tensor arg(int... dims) {
            if (r.nextInt(20) == 0) {
                log.append(" null");
                return null;
            }
            return tensor(dims);
        }

        Tensor arg() {
            return arg(dims());
        }

        /** A tensor of the given dims (throws for bad ones), sometimes closed or needing a gradient. */
        Tensor tensor(int... dims) {
            int kind = r.nextInt(20);
            Tensor t = own(Tensor.randn(r, Shape.of(dims), Device.CPU));
            if (kind == 1) {
                log.append(" closed");
                t.close();
            } else if (kind < 8) {
                t.requiresGrad(true);
            }
            return t;
        }

        Tensor tensor() {
            return tensor(dims());
        }

        /** A tensor of rank 4, as convolution and pooling take, with small or bad dimensions. */
        Tensor image() {
            return tensor(dims(r.nextInt(6) == 0 ? r.nextInt(5) : 4));
        }

        int[] ints(int n, int bound) {
            int[] v = new int[Math.max(0, n)];
            for (int i = 0; i < v.length; i++) {
                v[i] = r.nextInt(8) == 0 ? pick(BAD) : r.nextInt(Math.max(1, bound + 1)) - (r.nextInt(10) == 0 ? 1 : 0);
            }
            return r.nextInt(25) == 0 ? null : v;
        }

        <T> T own(T value) {
            if (value != null) {
                owned.add(value);
            }
            return value;
        }

        /** Backpropagates from each result that carries a graph, as training would; its failure counts too. */
        void backwardThroughResults() {
            for (Object o : List.copyOf(owned)) {
                if (o instanceof Tensor t && !t.isClosed() && t.needsGrad() && r.nextBoolean()) {
                    own(t.numel() == 1 ? t : t.sum()).backward();
                }
            }
        }

        void closeAll() {
            for (int i = owned.size() - 1; i >= 0; i--) {
                close(owned.get(i));
            }
        }

        private static void close(Object o) {
            if (o instanceof Tensor t && !t.isClosed()) {
                t.close();
            } else if (o instanceof Tensor[] parts) {
                for (Tensor t : parts) {
                    close(t);
                }
            } else if (o instanceof Attention at) {
                close(at.weights());
                close(at.output());
            } else if (o instanceof Module m) {
                m.close();
            }
        }
    }

    private static Map<String, Call> operations() {
        Map<String, Call> ops = new LinkedHashMap<>();
        // creation
        ops.put("zeros", a -> Tensor.zeros(Shape.of(a.dims()), a.r.nextInt(30) == 0 ? null : Device.CPU));
        ops.put("full", a -> Tensor.full(Shape.of(a.dims()), a.scalar(), Device.CPU));
        ops.put("of", a -> {
            int[] d = a.dims();
            float[] data = a.r.nextInt(20) == 0 ? null : new float[Math.max(0, a.r.nextInt(10) - 1)];
            return Tensor.of(data, Shape.of(d), Device.CPU);
        });
        ops.put("randn", a -> Tensor.randn(a.r.nextInt(20) == 0 ? null : a.r, Shape.of(a.dims()), Device.CPU));
        ops.put("Init.xavierNormal", a -> Init.xavierNormal(a.r, Shape.of(a.dims()), a.size(), a.size()));
        ops.put("Init.kaimingUniform", a -> Init.kaimingUniform(a.r, Shape.of(a.dims()), a.size()));
        // data movement and autograd state
        ops.put("to", a -> a.tensor().to(Device.CPU));
        ops.put("toArray", a -> a.tensor().toArray());
        ops.put("item", a -> a.tensor().item());
        ops.put("copyFrom", a -> {
            a.tensor().copyFrom(a.arg());
            return null;
        });
        ops.put("detach", a -> a.tensor().detach());
        ops.put("retain", a -> a.tensor().retain());
        ops.put("grad", a -> a.tensor().grad());
        ops.put("backward", a -> {
            a.tensor().backward();
            return null;
        });
        ops.put("requiresGrad of a result", a -> {
            Tensor t = a.tensor();
            return a.own(t.add(t)).requiresGrad(true);
        });
        // linear algebra and pointwise
        ops.put("matmul", a -> a.tensor().matmul(a.arg(), a.r.nextBoolean(), a.r.nextBoolean()));
        ops.put("matmul that fits", a -> {
            int m = a.fit(), k = a.fit(), n = a.fit();
            return a.tensor(m, k).matmul(a.arg(k, n));
        });
        ops.put("linear that fits", a -> {
            int in = a.fit(), out = a.fit();
            return a.tensor(a.fit(), in).linear(a.arg(out, in), a.r.nextBoolean() ? null : a.arg(a.r.nextInt(4) == 0 ? in : out));
        });
        ops.put("linear", a -> a.tensor().linear(a.arg(), a.r.nextBoolean() ? null : a.arg()));
        ops.put("add", a -> a.tensor().add(a.arg()));
        ops.put("sub", a -> a.tensor().sub(a.arg()));
        ops.put("mul", a -> a.tensor().mul(a.arg()));
        ops.put("scale", a -> a.tensor().scale(a.scalar()));
        ops.put("addBias", a -> a.tensor().addBias(a.arg()));
        ops.put("activations", a -> switch (a.r.nextInt(7)) {
            case 0 -> a.tensor().relu();
            case 1 -> a.tensor().leakyRelu(a.scalar());
            case 2 -> a.tensor().sigmoid();
            case 3 -> a.tensor().tanh();
            case 4 -> a.tensor().gelu();
            case 5 -> a.tensor().softmax();
            default -> a.tensor().logSoftmax();
        });
        // losses and reductions
        ops.put("crossEntropy", a -> {
            Tensor logits = a.tensor();
            return logits.crossEntropy(a.ints(a.r.nextInt(6), 4), a.r.nextBoolean() ? -100 : a.param());
        });
        ops.put("mse", a -> a.tensor().mse(a.arg()));
        ops.put("sum/mean", a -> switch (a.r.nextInt(4)) {
            case 0 -> a.tensor().sum();
            case 1 -> a.tensor().mean();
            case 2 -> a.tensor().sum(a.param());
            default -> a.tensor().mean(a.param());
        });
        // shape
        ops.put("reshape", a -> {
            Tensor t = a.tensor();
            return t.reshape(a.r.nextInt(25) == 0 ? null : a.dims());
        });
        ops.put("flatten", a -> a.tensor().flatten(a.param()));
        ops.put("unsqueeze/squeeze", a -> a.r.nextBoolean() ? a.tensor().unsqueeze(a.param()) : a.tensor().squeeze(a.param()));
        ops.put("transpose", a -> a.tensor().transpose(a.param(), a.param()));
        ops.put("permute", a -> {
            Tensor t = a.tensor();
            return t.permute(a.ints(a.r.nextInt(5), 3));
        });
        ops.put("concat", a -> {
            Tensor[] parts = new Tensor[a.r.nextInt(4)];
            int[] d = a.dims();
            for (int i = 0; i < parts.length; i++) {
                parts[i] = a.arg(a.r.nextInt(3) == 0 ? a.dims() : d);
            }
            return Tensor.concat(a.param(), a.r.nextInt(25) == 0 ? null : parts);
        });
        ops.put("split", a -> {
            Tensor t = a.tensor();
            return t.split(a.param(), a.ints(a.r.nextInt(4), 3));
        });
        // convolution, pooling, normalisation, dropout
        ops.put("conv2d", a -> a.image().conv2d(a.r.nextInt(20) == 0 ? null : a.image(), a.r.nextBoolean() ? null : a.arg(a.dims(1)), a.param(),
                a.param(), a.param(), a.param()));
        ops.put("conv2d that fits", a -> {
            int g = a.fit(), c = g * a.fit(), k = g * a.fit(), r = a.fit();
            Tensor x = a.tensor(a.fit(), c, r + a.r.nextInt(3), r + a.r.nextInt(3));
            return x.conv2d(a.arg(k, c / g, r, r), a.r.nextBoolean() ? null : a.arg(k), a.r.nextInt(5) == 0 ? a.param() : 1,
                    a.r.nextInt(5) == 0 ? a.param() : 1, a.r.nextInt(5) == 0 ? a.param() : 1, a.r.nextInt(5) == 0 ? a.param() : g);
        });
        ops.put("maxPool2d", a -> a.image().maxPool2d(a.param(), a.param(), a.param()));
        ops.put("avgPool2d", a -> a.image().avgPool2d(a.param(), a.param(), a.param()));
        ops.put("batchNorm2d", a -> {
            Tensor x = a.image();
            int[] c = a.dims(1);
            return x.batchNorm2d(a.arg(c), a.arg(c), a.arg(c), a.arg(c), a.r.nextBoolean(), a.scalar(),
                    a.scalar());
        });
        ops.put("dropout", a -> a.tensor().dropout(a.scalar(), a.r.nextLong(), a.r.nextBoolean()));
        ops.put("layerNorm", a -> {
            Tensor x = a.tensor();
            int[] d = a.dims(1);
            return x.layerNorm(a.r.nextBoolean() ? null : a.arg(d), a.r.nextBoolean() ? null : a.arg(d), a.scalar());
        });
        // embedding and attention
        ops.put("embedding", a -> {
            Tensor w = a.tensor();
            int[] ids = a.ints(a.r.nextInt(7), 4);
            return w.embedding(ids, a.r.nextBoolean() ? new int[0] : a.ints(a.r.nextInt(3), 3));
        });
        ops.put("attention", a -> {
            int[] d = a.dims(4);
            Tensor q = a.tensor(d);
            Tensor k = a.arg(a.r.nextInt(4) == 0 ? a.dims() : d);
            Tensor v = a.arg(a.r.nextInt(4) == 0 ? a.dims() : d);
            Tensor mask = a.r.nextBoolean() ? null : a.arg(a.dims(2));
            return q.attention(k, v, a.r.nextBoolean(), mask, a.scalar(), a.r.nextLong(), a.r.nextBoolean());
        });
        ops.put("attention that fits", a -> {
            int[] d = {a.fit(), a.fit(), a.fit(), a.fit()};
            Tensor mask = a.r.nextBoolean() ? null : a.arg(d[0], d[2]);
            return a.tensor(d).attention(a.arg(d), a.arg(d), a.r.nextBoolean(), mask, a.r.nextInt(4) == 0 ? a.scalar() : 0.2f,
                    a.r.nextLong(), a.r.nextBoolean());
        });
        ops.put("selfAttention", a -> a.tensor(a.dims(3)).selfAttention(a.param(), a.r.nextBoolean(),
                a.r.nextBoolean() ? null : a.arg(a.dims(2)), a.scalar(), a.r.nextLong(), a.r.nextBoolean()));
        ops.put("selfAttention that fits", a -> {
            int b = a.fit(), t = a.fit(), h = a.fit(), hd = a.fit();
            Tensor mask = a.r.nextBoolean() ? null : a.arg(b, t);
            return a.tensor(b, t, 3 * h * hd).selfAttention(h, a.r.nextBoolean(), mask,
                    a.r.nextInt(4) == 0 ? a.scalar() : 0.2f, a.r.nextLong(), a.r.nextBoolean());
        });
        ops.put("scaledDotProductAttention", a -> {
            int[] d = a.dims(4);
            return a.tensor(d).scaledDotProductAttention(a.arg(d), a.arg(a.dims()), a.r.nextBoolean(), null,
                    a.scalar(), 7);
        });
        ops.put("under noGrad", a -> {
            try (NoGrad ignored = Autograd.noGrad()) {
                return a.tensor().mul(a.arg());
            }
        });
        // nn: constructors and forwards
        ops.put("Linear", a -> forward(a, a.own(new Linear(a.size(), a.size(), a.r.nextBoolean(), a.r))));
        ops.put("Conv2d", a -> forwardImage(a, a.own(new Conv2d(a.size(), a.size(), a.size(), a.param(), a.param(),
                a.param(), a.param(), a.r.nextBoolean(), a.r))));
        ops.put("Pool2d", a -> forwardImage(a, a.own(a.r.nextBoolean() ? Pool2d.max(a.param(), a.param(), a.param())
                : Pool2d.avg(a.param()))));
        ops.put("BatchNorm2d", a -> forwardImage(a, a.own(new BatchNorm2d(a.size(), a.scalar(), a.scalar()))));
        ops.put("Dropout", a -> forward(a, a.own(new Dropout(a.scalar(), a.r.nextLong()))));
        ops.put("LayerNorm", a -> forward(a, a.own(new LayerNorm(a.size(), a.scalar()))));
        ops.put("Embedding", a -> {
            Embedding e = a.own(new Embedding(a.size(), a.size(), a.r));
            return e.forward(a.ints(a.r.nextInt(6), 4), a.r.nextBoolean() ? new int[0] : a.ints(a.r.nextInt(3), 3));
        });
        ops.put("MultiHeadAttention", a -> {
            MultiHeadAttention m = a.own(new MultiHeadAttention(a.size(), a.size(), a.r.nextBoolean(), a.scalar(), a.r));
            Tensor mask = a.r.nextBoolean() ? null
                    : a.own(MultiHeadAttention.paddingMask(a.ints(a.r.nextInt(3), 4), a.size(), Device.CPU));
            return m.forward(a.tensor(a.dims(3)), mask);
        });
        ops.put("TransformerBlock", a -> forward(a, a.own(new TransformerBlock(a.size(), a.size(), a.r.nextBoolean(),
                a.scalar(), a.r))));
        ops.put("PositionalEmbedding", a -> {
            boolean learned = a.r.nextBoolean();
            PositionalEmbedding p = a.own(learned ? PositionalEmbedding.learned(a.size(), a.size(), a.r)
                    : PositionalEmbedding.sinusoidal(a.size(), a.size()));
            if (a.r.nextBoolean()) {
                return p.forward(a.tensor(a.dims(3)));
            }
            return p.positions(a.size(), a.size()); // the caller owns the positions, learned or sinusoidal
        });
        ops.put("modules that fit", a -> {
            int heads = a.fit(), dim = heads * a.fit(), b = a.fit(), t = a.fit();
            Tensor x = a.tensor(b, t, a.r.nextInt(6) == 0 ? dim + 1 : dim);
            Tensor mask = a.r.nextBoolean() ? null
                    : a.own(MultiHeadAttention.paddingMask(a.ints(b, t), a.r.nextInt(6) == 0 ? t + 1 : t, Device.CPU));
            return switch (a.r.nextInt(4)) {
                case 0 -> a.own(new MultiHeadAttention(dim, heads, a.r.nextBoolean(), 0.1f, a.r)).forward(x, mask);
                case 1 -> a.own(new TransformerBlock(dim, heads, a.r.nextBoolean(), 0.1f, a.r)).forward(x, mask);
                case 2 -> a.own(new Linear(dim, a.fit(), a.r)).forward(x);
                default -> a.own(new Conv2d(b, a.fit(), 1, 1, 0, 1, 1, true, a.r)).forward(a.tensor(1, b, t, dim));
            };
        });
        ops.put("huge module sizes", a -> {
            int big = a.pick(new int[] {1 << 30, Integer.MAX_VALUE}), n = a.size();
            a.log.append(' ').append(big);
            return switch (a.r.nextInt(7)) {
                case 0 -> new Linear(big, big, a.r);
                case 1 -> new Conv2d(big, big, n, 1, 0, 1, 1, true, a.r);
                case 2 -> new Embedding(big, big, a.r);
                case 3 -> new MultiHeadAttention(big, a.r.nextBoolean() ? 1 : big, false, 0f, a.r);
                case 4 -> new TransformerBlock(big, 1, true, 0.1f, a.r);
                case 5 -> PositionalEmbedding.sinusoidal(big, big);
                default -> MultiHeadAttention.paddingMask(new int[1 << 16], big, Device.CPU);
            };
        });
        ops.put("Sequential", a -> forward(a, a.own(new Sequential(new Flatten(), Activations.relu(),
                new Residual(Activations.tanh()), Mlp.of(a.r, Activations::gelu, a.size(), a.size())))));
        return ops;
    }

    private static Tensor forward(Args a, Module m) {
        return m.forward(a.tensor());
    }

    private static Tensor forwardImage(Args a, Module m) {
        return m.forward(a.image());
    }
}
