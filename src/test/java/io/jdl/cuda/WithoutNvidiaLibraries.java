package io.jdl.cuda;

import io.jdl.device.Device;
import io.jdl.cublas.Cublas;
import io.jdl.cudnn.Cudnn;
import io.jdl.nn.Conv2d;
import io.jdl.nn.Flatten;
import io.jdl.nn.Linear;
import io.jdl.nn.Pool2d;
import io.jdl.nn.Sequential;
import io.jdl.optim.Sgd;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import java.util.function.Supplier;

/**
 * Run by {@link WithoutNvidiaLibrariesTest} in a JVM that can find no NVIDIA library: everything on the CPU
 * works, GPU questions get answers with the reason, and only asking for the GPU throws. Prints one line
 * per check; exits 1 at the first that fails.
 */
public final class WithoutNvidiaLibraries {
    private WithoutNvidiaLibraries() {
    }

    public static void main(String[] args) {
        for (NativeLibraries.Library lib : NativeLibraries.Library.values()) {
            check(!NativeLibraries.isAvailable(lib), () -> lib + " was found although the search was restricted");
        }
        check(!CudaDevice.isAvailable() && CudaDevice.count() == 0, () -> "a CUDA device was reported");
        String reason = CudaDevice.unavailableReason();
        check(reason.contains("libcudart.so.13") && reason.contains("was not found"), () -> "reason: " + reason);
        System.out.println("reason=" + reason.lines().findFirst().orElseThrow());
        check(Device.best().equals(Device.CPU), () -> "Device.best() is " + Device.best());
        check(Cuda.loadFailure().isPresent() && Cublas.loadFailure().isPresent() && Cudnn.loadFailure().isPresent(),
                () -> "a library reports itself loaded");
        // Asked twice: the same clear exception, never NoClassDefFoundError the second time.
        for (int attempt = 0; attempt < 2; attempt++) {
            expectNativeLibraryException("Cuda.runtimeVersion", Cuda::runtimeVersion);
            expectNativeLibraryException("Cublas.version", Cublas::version);
            expectNativeLibraryException("Cudnn.version", Cudnn::version);
        }
        try {
            Tensor.zeros(Shape.of(2), Device.cuda(0)).close();
            check(false, () -> "a CUDA tensor was created");
        } catch (CudaUnavailableException e) {
            check(e.getMessage().contains("libcudart.so.13"), () -> "CUDA tensor refusal lacks the reason: " + e.getMessage());
        }
        System.out.println("loss=" + trainOnCpu());
        System.out.println("ok");
    }

    /** A few SGD steps of a small CNN on the CPU; returns the loss of the last step, checked to have fallen. */
    private static float trainOnCpu() {
        Random rng = new Random(1);
        float[] pixels = new float[4 * 8 * 8];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = rng.nextFloat();
        }
        int[] labels = {0, 1, 0, 1};
        float first = Float.NaN, last = Float.NaN;
        try (Sequential model = new Sequential(new Conv2d(1, 2, 3, 1, rng), Pool2d.max(2), new Flatten(),
                new Linear(2 * 4 * 4, 2, rng));
             Tensor x = Tensor.of(pixels, Shape.of(4, 1, 8, 8), Device.best());
             Sgd opt = new Sgd(model.parameters(), 0.1f)) {
            for (int step = 0; step < 20; step++) {
                opt.zeroGrad();
                try (Tensor logits = model.forward(x).retain(); Tensor loss = logits.crossEntropy(labels)) {
                    loss.backward();
                    last = loss.item();
                }
                opt.step();
                first = step == 0 ? last : first;
            }
        }
        float firstLoss = first, lastLoss = last;
        check(lastLoss < firstLoss, () -> "loss did not fall: " + firstLoss + " -> " + lastLoss);
        return lastLoss;
    }

    private static void expectNativeLibraryException(String call, Supplier<Number> version) {
        try {
            version.get();
            check(false, () -> call + " returned without a library");
        } catch (NativeLibraryException e) {
            check(e.getMessage().contains("was not found") && e.getMessage().contains("explicit-only"),
                    () -> call + ": " + e.getMessage());
        }
    }

    private static void check(boolean ok, Supplier<String> failure) {
        if (!ok) {
            System.out.println("FAILED: " + failure.get());
            System.exit(1);
        }
    }
}
