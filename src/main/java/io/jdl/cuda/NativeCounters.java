package io.jdl.cuda;

import java.util.concurrent.atomic.LongAdder;

/**
 * Process-wide counts of jdl's calls into the CUDA runtime, cuBLAS and cuDNN (every call whose status
 * the safe layer checks: {@code Cuda.check}, {@code Cublas.check}, {@code Cudnn.check}) and of its kernel
 * launches (each {@code cudaLaunchKernel} of a jdl kernel, also counted as a native call). They measure
 * host-side work per training step: take a {@link #snapshot()} before and after and subtract
 * ({@link Snapshot#minus}). Counting is a {@link LongAdder} increment, cheap enough to stay on.
 */
public final class NativeCounters {
    private static final LongAdder CALLS = new LongAdder();
    private static final LongAdder LAUNCHES = new LongAdder();

    private NativeCounters() {
    }

    /** Counts and checks are one step: called by the safe layer's status checks. */
    public static void countCall() {
        CALLS.increment();
    }

    static void countLaunch() {
        LAUNCHES.increment();
    }

    /** The counts so far, since the process started. */
    public static Snapshot snapshot() {
        return new Snapshot(CALLS.sum(), LAUNCHES.sum());
    }

    /** Native calls and kernel launches, since the process started or between two snapshots. */
    public record Snapshot(long nativeCalls, long kernelLaunches) {
        public Snapshot minus(Snapshot earlier) {
            return new Snapshot(nativeCalls - earlier.nativeCalls, kernelLaunches - earlier.kernelLaunches);
        }

        @Override
        public String toString() {
            return nativeCalls + " native calls, " + kernelLaunches + " kernel launches";
        }
    }
}
