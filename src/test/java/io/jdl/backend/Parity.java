package io.jdl.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jdl.device.Device;
import io.jdl.autograd.GradCheck;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import java.util.function.Function;

/** Runs an op on CPU and GPU copies of the same inputs and compares its output and every input's gradient. */
final class Parity {
    /** Asserts that {@code gpu} is close enough to {@code cpu}, naming {@code what} on failure. */
    @FunctionalInterface
    interface Check {
        void close(String what, float[] gpu, float[] cpu);
    }

    private Parity() {
    }

    /**
     * Applies {@code f} to CPU and {@code gpu} tensors holding {@code values}; back-propagates a random
     * projection r·f(x) (the same r on both sides) and checks outputs and input gradients with {@code check}.
     */
    static void same(String name, Device gpu, Random rng, Check check, Function<Tensor[], Tensor> f, float[][] values,
                     Shape... shapes) {
        float[][] outs = new float[2][], grads[] = new float[2][][];
        float[] r = null;
        for (int side = 0; side < 2; side++) {
            Device d = side == 0 ? Device.CPU : gpu;
            Tensor[] in = new Tensor[values.length];
            for (int i = 0; i < in.length; i++) {
                in[i] = Tensor.of(values[i], shapes[i], d).requiresGrad(true);
            }
            try {
                Tensor out = f.apply(in);
                assertEquals(d, out.device());
                outs[side] = out.toArray();
                if (r == null) {
                    r = GradCheck.randn(rng, outs[side].length);
                }
                try (Tensor rt = Tensor.of(r, out.shape(), d); Tensor prod = out.mul(rt); Tensor loss = prod.sum()) {
                    loss.backward();
                }
                out.close();
                grads[side] = new float[in.length][];
                for (int i = 0; i < in.length; i++) {
                    grads[side][i] = in[i].grad() == null ? new float[0] : in[i].grad().toArray();
                }
            } finally {
                for (Tensor t : in) {
                    t.close();
                }
            }
        }
        check.close(name + " forward", outs[1], outs[0]);
        for (int i = 0; i < values.length; i++) {
            check.close(name + " gradient of input " + i, grads[1][i], grads[0][i]);
        }
    }
}
