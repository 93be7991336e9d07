package io.jdl.backend.cpu;

import io.jdl.backend.ConvShape;
import io.jdl.cpunative.OneDnnConvolution;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Interleaved A/B of a convolution's two native paths on the samples' shapes: A = oneDNN 2.6's direct convolution
 * ({@link OneDnnConvolution}: copies off the heap, reorders to its blocked layout, the primitive, back), B = im2col
 * and sgemm on the arrays ({@link GemmConv}). Each round runs one call of A and one of B per direction, the order
 * alternating between rounds, so load from other processes falls on both alike; prints per shape and direction
 * the median and quartiles of each, the ratio of medians B / A, the median of the per-round ratios, and which of
 * the two {@link NativeConv}'s rule takes.
 *
 * <p>{@code java ... io.jdl.backend.cpu.ConvLoweringAB [rounds]} with {@code -Djdl.cpu.threads=T} and
 * {@code OMP_NUM_THREADS=T} (oneDNN's primitive runs on OpenMP's threads, GemmConv on jdl's pool).
 */
public final class ConvLoweringAB {
    /** The samples' convolutions: cnn16 (default CPU width) and cnn32 layers, the ResNet's, a ViT-style patch conv. */
    static final List<Object[]> SHAPES = List.of(
            new Object[] {"cnn16 conv2 b128", new ConvShape(128, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1)},
            new Object[] {"cnn16 conv1 b128", new ConvShape(128, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1)},
            new Object[] {"cnn32 conv2 b128", new ConvShape(128, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1)},
            new Object[] {"resnet16 block 28x28 b128", new ConvShape(128, 16, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1)},
            new Object[] {"resnet16 down 16->32 s2 b128", new ConvShape(128, 16, 28, 28, 32, 3, 3, 1, 1, 2, 2, 1, 1, 1)},
            new Object[] {"resnet16 block 7x7x64 b128", new ConvShape(128, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1)},
            new Object[] {"patch 4x4 s4 1->64 b128", new ConvShape(128, 1, 28, 28, 64, 4, 4, 0, 0, 4, 4, 1, 1, 1)},
            new Object[] {"patch 4x4 s4 3->64 32x32 b128", new ConvShape(128, 3, 32, 32, 64, 4, 4, 0, 0, 4, 4, 1, 1, 1)});

    private ConvLoweringAB() {
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 40;
        String only = args.length > 1 ? args[1] : "";
        System.out.printf("# threads: jdl pool %d, load %s%n", CpuParallel.threads(), load());
        for (Object[] named : SHAPES) {
            if (((String) named[0]).contains(only)) {
                run((String) named[0], (ConvShape) named[1], rounds);
            }
        }
        System.out.printf("# load after: %s%n", load());
    }

    private static String load() {
        try {
            return java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg")).trim();
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }

    private static float[] random(Random rng, long n) {
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return v;
    }

    static void run(String name, ConvShape s, int rounds) {
        Random rng = new Random(1);
        long xn = (long) s.n() * s.c() * s.h() * s.w(), yn = (long) s.n() * s.k() * s.outH() * s.outW();
        long wn = (long) s.k() * (s.c() / s.groups()) * s.r() * s.s();
        float[] x = random(rng, xn), w = random(rng, wn), dy = random(rng, yn);
        float[] y = new float[(int) yn], dx = new float[(int) xn], dw = new float[(int) wn];
        try (OneDnnConvolution conv = new OneDnnConvolution(s.n(), s.c(), s.h(), s.w(), s.k(), s.r(), s.s(), s.outH(),
                s.outW(), s.strideH(), s.strideW(), s.padH(), s.padW(), s.dilationH(), s.dilationW(), s.groups(),
                CpuParallel::forEach)) {
            Runnable[][] ab = {
                    {() -> conv.forward(x, w, null, y), () -> GemmConv.forward(s, x, w, y)},
                    {() -> conv.backward(x, w, dy, dx, null, null), () -> GemmConv.backwardData(s, w, dy, dx)},
                    {() -> conv.backward(x, w, dy, null, dw, null), () -> GemmConv.backwardWeights(s, x, dy, dw)}};
            String[] dirs = {"forward", "backward data", "backward weights"};
            double flop = 2.0 * s.n() * s.k() * s.outH() * s.outW() * (s.c() / s.groups()) * s.r() * s.s();
            for (int d = 0; d < 3; d++) {
                List<Double> a = new ArrayList<>(), b = new ArrayList<>(), ratios = new ArrayList<>();
                for (int i = 0; i < rounds + 5; i++) {
                    boolean aFirst = i % 2 == 0;
                    double t1 = time(ab[d][aFirst ? 0 : 1]), t2 = time(ab[d][aFirst ? 1 : 0]);
                    if (i >= 5) { // the first rounds warm up both
                        a.add(aFirst ? t1 : t2);
                        b.add(aFirst ? t2 : t1);
                        ratios.add(b.getLast() / a.getLast());
                    }
                }
                double ma = q(a, 0.5), mb = q(b, 0.5);
                System.out.printf("%-28s %-16s ms: oneDNN %6.3f [%.3f-%.3f]  gemm %6.3f [%.3f-%.3f]  gemm/oneDNN %.2f "
                                + "(per-round median %.2f)  gemm %5.1f GFLOP/s  rows %d, images/chunk %d, rule: %s%n",
                        name, dirs[d], ma, q(a, 0.25), q(a, 0.75), mb, q(b, 0.25), q(b, 0.75), mb / ma, q(ratios, 0.5),
                        flop / mb / 1e6, s.c() / s.groups() * s.r() * s.s(), GemmConv.imagesPerChunk(s),
                        NativeConv.viaGemm(s, NativeConv.Direction.values()[d]) ? "gemm" : "oneDNN");
            }
        }
    }

    private static double time(Runnable r) {
        long t0 = System.nanoTime();
        r.run();
        return (System.nanoTime() - t0) / 1e6;
    }

    private static double q(List<Double> v, double p) {
        double[] s = v.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(s);
        return s[(int) Math.min(s.length - 1, Math.round(p * (s.length - 1)))];
    }
}
