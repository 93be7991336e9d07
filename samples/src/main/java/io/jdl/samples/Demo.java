package io.jdl.samples;

import io.jdl.device.Device;
import io.jdl.samples.cli.UserError;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A quick check of the whole stack: fits a linear model y = X·w + b by gradient descent with the
 * gradients written out by hand (tensor ops only, no autograd) and prints the device and library versions.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Check the stack: print which GPU parts were found, then fit a linear model with hand-written gradients")
final class Demo implements Callable<Integer> {
    private static final int SAMPLES = 4096, FEATURES = 32;

    @Option(names = "--device", description = "cuda, cuda:N or cpu (default: the best present)")
    String deviceName;

    @Option(names = "--steps", defaultValue = "200", description = "gradient steps (default: ${DEFAULT-VALUE})")
    int steps;

    @Override
    public Integer call() {
        UserError.atLeast("--steps", steps, 1);
        System.out.println("jdl demo: linear regression, " + SAMPLES + " samples x " + FEATURES + " features");
        System.out.print("GPU stack found on this machine:\n" + GpuReport.environment());
        Device device = GpuReport.choose("--device", deviceName);
        float lr = 0.1f;

        Random random = new Random(0);
        float[] trueW = new float[FEATURES];
        for (int i = 0; i < FEATURES; i++) {
            trueW[i] = (float) random.nextGaussian();
        }
        float trueB = 0.5f;
        try (Tensor x = Tensor.randn(random, Shape.of(SAMPLES, FEATURES), device);
             Tensor wTrue = Tensor.of(trueW, Shape.of(FEATURES, 1), device);
             Tensor clean = x.matmul(wTrue);
             Tensor noise = Tensor.randn(random, Shape.of(SAMPLES, 1), device);
             Tensor scaledNoise = noise.scale(0.01f);
             Tensor withNoise = clean.add(scaledNoise);
             Tensor b = Tensor.full(Shape.of(1), trueB, device);
             Tensor y = withNoise.addBias(b)) {
            Tensor w = Tensor.zeros(Shape.of(FEATURES, 1), device);
            Tensor bias = Tensor.zeros(Shape.of(1), device);
            long start = System.nanoTime();
            for (int step = 1; step <= steps; step++) {
                try (Tensor xw = x.matmul(w); Tensor pred = xw.addBias(bias); Tensor err = pred.sub(y);
                     Tensor gradW = x.matmul(err, true, false); Tensor gradB = err.sum(0)) {
                    // d(mean err²)/dw = 2/n · Xᵀ·err, d/db = 2/n · Σ err
                    float k = -lr * 2f / SAMPLES;
                    try (Tensor dw = gradW.scale(k); Tensor db = gradB.scale(k)) {
                        Tensor nw = w.add(dw), nb = bias.add(db);
                        w.close();
                        bias.close();
                        w = nw;
                        bias = nb;
                    }
                    if (step == 1 || step % 20 == 0 || step == steps) {
                        try (Tensor sq = err.mul(err); Tensor loss = sq.mean()) {
                            System.out.printf("step %4d  loss %.6f%n", step, loss.item());
                        }
                    }
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            float[] learned = w.toArray();
            double maxErr = 0;
            for (int i = 0; i < FEATURES; i++) {
                maxErr = Math.max(maxErr, Math.abs(learned[i] - trueW[i]));
            }
            System.out.printf("%d steps in %.2f s (%.2f ms/step)%n", steps, seconds, seconds * 1e3 / steps);
            System.out.printf("max |w - w_true| = %.5f, b = %.4f (true %.1f)%n", maxErr, bias.item(), trueB);
            w.close();
            bias.close();
            System.out.println(maxErr < 1e-2 ? "demo=ok" : "demo=not-converged");
            return maxErr < 1e-2 ? 0 : 1;
        }
    }
}
