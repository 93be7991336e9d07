package io.jdl.cuda;

import org.junit.jupiter.api.Assumptions;

/** For tests tagged "gpu": skip, saying why, where no CUDA device is usable. */
public final class Gpu {
    private Gpu() {
    }

    public static void assumeAvailable() {
        Assumptions.assumeTrue(CudaDevice.isAvailable(), () -> "no CUDA device: " + CudaDevice.unavailableReason());
    }

    /** Skips unless the device is the host stand-in (for what only it can do, such as injecting faults). */
    public static void assumeStandIn(String why) {
        assumeAvailable();
        Assumptions.assumeTrue(StandIn.isLoaded(), why + " needs the host stand-in");
    }

    /** max |a - b| / max |b|: the relative error the GPU tests bound. */
    public static double relativeError(float[] actual, float[] expected) {
        if (actual.length != expected.length) {
            throw new AssertionError("lengths differ: " + actual.length + " vs " + expected.length);
        }
        double diff = 0, scale = 1e-12;
        for (int i = 0; i < actual.length; i++) {
            diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
            scale = Math.max(scale, Math.abs(expected[i]));
        }
        return diff / scale;
    }
}
