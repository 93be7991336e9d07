package io.jdl.bench;

import io.jdl.backend.cuda.CudaBackend;
import io.jdl.cuda.StandIn;
import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import io.jdl.tensor.TensorScope;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * What broadcasts cost per training step on the device (issue #13 item 4, expand as a view): for the GPT step of
 * {@link TrainStepFixture} and for the ops that broadcast through {@code expand} or matmul's batch dimensions,
 * the device memory a step allocates above what it started with (the caching allocator's peak), the native calls
 * and kernel launches (stand-in counters) and the host time per step (median; with the stand-in's no-compute
 * mode, {@code JDL_STANDIN_NO_COMPUTE=1}, that is host cost only). One line per row:
 * {@code COUNTS <row>: peak +<bytes>, <calls> native calls, <launches> launches, host <ms> ms/step}.
 * Arguments: [steps] (default 10). Needs the stand-in (or a GPU: then the counters read 0). Run, after
 * {@code native/standin/build} and {@code mvn test-compile dependency:build-classpath -Dmdep.includeScope=test
 * -Dmdep.outputFile=target/test-classpath.txt}: {@code JDL_STANDIN_NO_COMPUTE=1 java --enable-native-access=ALL-UNNAMED
 * -Djdl.library.path=target/standin -cp target/test-classes:target/classes:$(cat target/test-classpath.txt)
 * io.jdl.bench.ExpandStepCounts}.
 */
public final class ExpandStepCounts {
    private ExpandStepCounts() {
    }

    public static void main(String[] args) {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        Device gpu = Device.cuda(0);
        Random rng = new Random(1);
        try (TrainStepFixture gptStep = new TrainStepFixture("gpt", "cuda:0", 2, 0, false, "fp32")) {
            row("gpt b=2x256 step", steps, gptStep::step);
        }
        try (Tensor a = Tensor.randn(rng, Shape.of(1, 128, 64), gpu).requiresGrad(true);
             Tensor b = Tensor.randn(rng, Shape.of(32, 64, 128), gpu).requiresGrad(true)) {
            row("matmul [1,128,64]x[32,64,128] fwd+bwd", steps, () -> {
                try (TensorScope s = TensorScope.open()) {
                    a.matmul(b).sum().backward();
                }
                a.zeroGrad();
                b.zeroGrad();
            });
        }
        try (Tensor x = Tensor.randn(rng, Shape.of(32, 128, 128), gpu).requiresGrad(true);
             Tensor bias = Tensor.randn(rng, Shape.of(128, 1), gpu).requiresGrad(true)) {
            row("x[32,128,128] + bias[128,1].expand(32,128,128) fwd+bwd", steps, () -> {
                try (TensorScope s = TensorScope.open()) {
                    x.add(bias.expand(32, 128, 128)).sum().backward();
                }
                x.zeroGrad();
                bias.zeroGrad();
            });
            row("bias[128,1].expand(32,128,128).relu() fwd+bwd (materialised)", steps, () -> {
                try (TensorScope s = TensorScope.open()) {
                    bias.expand(32, 128, 128).relu().sum().backward();
                }
                bias.zeroGrad();
            });
        }
    }

    private static void row(String name, int steps, Runnable step) {
        CudaBackend backend = CudaBackend.get(0);
        step.run();  // warm-up: caches, algorithms
        step.run();
        backend.synchronize();
        long start = backend.allocator().allocatedBytes();
        backend.allocator().resetPeak();
        boolean standIn = StandIn.isLoaded();
        long calls = standIn ? StandIn.callCount() : 0, launches = standIn ? StandIn.launchCount() : 0;
        double[] ms = new double[steps];
        for (int i = 0; i < steps; i++) {
            long t0 = System.nanoTime();
            step.run();
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        backend.synchronize();
        long peak = backend.allocator().peakAllocatedBytes() - start;
        Arrays.sort(ms);
        System.out.printf(Locale.ROOT, "COUNTS %s: peak +%d bytes, %.1f native calls, %.1f launches, host %.3f ms/step"
                        + " (median of %d)%n", name, peak, standIn ? (StandIn.callCount() - calls) / (double) steps : 0,
                standIn ? (StandIn.launchCount() - launches) / (double) steps : 0, ms[steps / 2], steps);
    }
}
