package io.jdl.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.Locale;

/**
 * The calling thread's CPU time per training step ({@link TrainStepFixture}), beside the wall-clock time: on a
 * machine that other processes load, wall time counts the time the thread waited for a core, CPU time does not
 * (it still includes cache and memory contention). scripts/bench-host-cost runs it on the host stand-in in
 * no-compute mode, where the step's CPU time is jdl's host cost plus the stand-in's validation.
 *
 * <p>{@code TrainStepCpuTime MODEL BATCH [HIDDEN [WARMUP_SECONDS [ROUNDS [DEVICE]]]]}: warms up, then measures
 * {@code ROUNDS} rounds of about 0.5 s each and prints the median and minimum per step of each round's mean, one
 * {@code CPUTIME} line with the Java heap bytes the thread allocated per step (work outside the calling thread,
 * such as garbage collection and the JIT compiler, is not in the CPU column).
 */
public final class TrainStepCpuTime {
    private TrainStepCpuTime() {
    }

    public static void main(String[] args) {
        if (args.length < 2) {
            throw new IllegalArgumentException(
                    "usage: TrainStepCpuTime MODEL BATCH [HIDDEN [WARMUP_SECONDS [ROUNDS [DEVICE]]]]");
        }
        String model = args[0];
        int batch = Integer.parseInt(args[1]);
        int hidden = args.length > 2 ? Integer.parseInt(args[2]) : 1024;
        double warmupSeconds = args.length > 3 ? Double.parseDouble(args[3]) : 8;
        int rounds = args.length > 4 ? Integer.parseInt(args[4]) : 15;
        String device = args.length > 5 ? args[5] : "cuda:0";
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        com.sun.management.ThreadMXBean allocation = (com.sun.management.ThreadMXBean) threads;
        if (!threads.isCurrentThreadCpuTimeSupported()) {
            throw new IllegalStateException("this JVM cannot measure the CPU time of a thread");
        }
        try (TrainStepFixture fixture = new TrainStepFixture(model, device, batch, hidden, false, "fp32")) {
            long warmupEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
            int steps = 0;
            while (System.nanoTime() < warmupEnd) {
                fixture.step();
                fixture.bench.synchronize();
                steps++;
            }
            // Rounds of about half a second at the warmed-up rate.
            long perRound = Math.max(1, steps / Math.max(1, (long) (warmupSeconds * 2)));
            double[] cpu = new double[rounds], wall = new double[rounds], bytes = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                long b0 = allocation.getCurrentThreadAllocatedBytes();
                long c0 = threads.getCurrentThreadCpuTime(), w0 = System.nanoTime();
                for (long i = 0; i < perRound; i++) {
                    fixture.step();
                    fixture.bench.synchronize();
                }
                cpu[r] = (threads.getCurrentThreadCpuTime() - c0) / 1e6 / perRound;
                wall[r] = (System.nanoTime() - w0) / 1e6 / perRound;
                bytes[r] = (double) (allocation.getCurrentThreadAllocatedBytes() - b0) / perRound;
            }
            System.out.printf(Locale.ROOT, "CPUTIME %s b=%d: thread cpu median %.4f min %.4f ms/step, wall median %.4f"
                            + " min %.4f ms/step, %.0f bytes allocated per step (%d rounds of %d steps)%n", model, batch,
                    median(cpu), min(cpu), median(wall), min(wall), median(bytes), rounds, perRound);
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private static double min(double[] values) {
        return Arrays.stream(values).min().orElseThrow();
    }
}
