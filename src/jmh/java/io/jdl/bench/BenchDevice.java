package io.jdl.bench;

import io.jdl.backend.cuda.CudaBackend;
import io.jdl.device.Device;
import io.jdl.device.Precision;

/**
 * The device side that the GPU benchmarks share: the TF32 switch, one synchronisation per timed call, and
 * the peak device memory printed as a {@code PEAK {"row": ..., "tf32": ..., "peak_bytes": ...}} line that
 * scripts/gpu_summary.py reads from the JMH log. On the CPU every method but {@link #device()} does nothing.
 */
final class BenchDevice {
    private final Device device;
    /** Null on the CPU. */
    private final CudaBackend cuda;

    /**
     * @param tf32 TF32 tensor-core math for matrix products and convolutions on a GPU ({@link Precision#tf32}: both
     *             on or both off, as bench_torch.py's --tf32 on / off)
     */
    BenchDevice(String name, boolean tf32) {
        device = Device.parse(name);
        cuda = device.isCuda() ? CudaBackend.get(device.index()) : null;
        if (cuda != null) {
        }
        Precision.tf32(tf32);
    }

    Device device() {
        return device;
    }

    /** The CUDA backend, or null on the CPU. */
    CudaBackend cuda() {
        return cuda;
    }

    /** Waits for the queued device work, so that a call's time is the device's. */
    void synchronize() {
        if (cuda != null) {
            cuda.synchronize();
        }
    }

    /** After set-up: waits for it and starts the peak-memory count afresh. */
    void startMeasuring() {
        if (cuda != null) {
            cuda.synchronize();
            cuda.allocator().resetPeak();
        }
    }

    /** Prints the peak device memory since {@link #startMeasuring()} for {@code row} (bench_torch.py's name). */
    void printPeak(String row, boolean tf32) {
        if (cuda != null) {
            System.out.printf("%nPEAK {\"row\": \"%s\", \"tf32\": %s, \"peak_bytes\": %d}%n", row, tf32,
                    cuda.allocator().peakAllocatedBytes());
        }
    }
}
