package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.cuda.Gpu;
import io.jdl.device.DType;
import io.jdl.device.Device;
import io.jdl.nn.Activations;
import io.jdl.nn.BatchNorm2d;
import io.jdl.nn.Conv2d;
import io.jdl.nn.Linear;
import io.jdl.nn.Module;
import io.jdl.nn.Sequential;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Dtypes on CUDA against the CPU reference: every conversion between every pair of dtypes bit for bit (jdl's
 * {@code jdl_cast} kernel against the Java rules), every dtype's bytes up and down unchanged, and half-precision ops
 * (float32 arithmetic rounded once) within accumulation-order error.
 */
@Tag("gpu")
class DTypeGpuTest {
    private static final Device GPU = Device.cuda(0);

    @BeforeEach
    void needsGpu() {
        Gpu.assumeAvailable();
    }

    /** Bytes of every dtype with the values that matter: specials, halfway cases, out-of-range, wrap-around. */
    private static byte[] sample(DType d, Random rng) {
        try (TensorScope s = TensorScope.open()) {
            float[] specials = {Float.NaN, -Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, 1f, -1.7f,
                2.5f, 255.9f, 256.5f, -255f, 300f, 3e9f, -3e9f, 1e20f, 65520f, 1e-8f, 16777217f, 0x1p63f, -0x1p63f, 0x1p31f};
            float[] x = new float[specials.length + 200];
            System.arraycopy(specials, 0, x, 0, specials.length);
            for (int i = specials.length; i < x.length; i++) {
                x[i] = (float) (rng.nextGaussian() * Math.pow(10, rng.nextInt(12) - 3));
            }
            if (d.isFloatingPoint()) {
                return Tensor.of(x, x.length).to(d).toBytes();
            }
            byte[] bytes = new byte[x.length * d.bytes()];
            rng.nextBytes(bytes);
            if (d == DType.BOOL) {
                for (int i = 0; i < bytes.length; i++) {
                    bytes[i] &= 1;
                }
            }
            return bytes;
        }
    }

    @Test
    void everyConversionMatchesTheCpuBitForBit() {
        Random rng = new Random(7);
        for (DType from : DType.values()) {
            byte[] bytes = sample(from, rng);
            Shape shape = Shape.of(bytes.length / from.bytes());
            for (DType to : DType.values()) {
                try (Tensor cpu = Tensor.ofBytes(bytes, shape, from, Device.CPU); Tensor gpu = cpu.to(GPU);
                     Tensor cpuOut = cpu.to(to); Tensor gpuOut = gpu.to(to)) {
                    assertEquals(to, gpuOut.dtype());
                    assertArrayEquals(bytes, gpu.toBytes(), from + " up and down");
                    assertArrayEquals(cpuOut.toBytes(), gpuOut.toBytes(), from + " -> " + to);
                }
            }
        }
    }

    @Test
    void halfOpsAgreeWithTheCpuWithinAccumulationOrder() {
        Random rng = new Random(8);
        float[] a = DTypeTest.randn(rng, 33 * 64), b = DTypeTest.randn(rng, 64 * 17), bias = DTypeTest.randn(rng, 17);
        for (DType d : new DType[] {DType.BFLOAT16, DType.FLOAT16}) {
            try (TensorScope s = TensorScope.open()) {
                Tensor ca = Tensor.of(a, 33, 64).to(d), cb = Tensor.of(b, 17, 64).to(d), cbias = Tensor.of(bias, 17).to(d);
                Tensor ga = ca.to(GPU), gb = cb.to(GPU), gbias = cbias.to(GPU);
                Tensor cpu = ca.linear(cb, cbias).gelu().softmax(), gpu = ga.linear(gb, gbias).gelu().softmax();
                assertEquals(d, gpu.dtype());
                float[] want = cpu.toArray(), got = gpu.toArray();
                double ulp = d == DType.BFLOAT16 ? 1.0 / 128 : 1.0 / 1024;
                for (int i = 0; i < want.length; i++) {
                    // at most one unit of the half's last place apart: float32 sums in another order may round the
                    // other way at a halfway point
                    assertTrue(Math.abs(want[i] - got[i]) <= ulp * Math.abs(want[i]) + 1e-30, d + " element " + i + ": "
                            + want[i] + " vs " + got[i]);
                }
                Tensor w = Tensor.of(b, 17, 64).requiresGrad(true), gw = Tensor.of(b, Shape.of(17, 64), GPU).requiresGrad(true);
                ca.linear(w.to(d), null).to(DType.FLOAT32).mean().backward();
                ga.linear(gw.to(d), null).to(DType.FLOAT32).mean().backward();
                assertEquals(DType.FLOAT32, gw.grad().dtype());
                assertArrayEquals(w.grad().toArray(), gw.grad().toArray(), (float) ulp);
            }
        }
    }

    /** The loss and every parameter's gradient of one conv / batch-norm / linear step under autocast on device. */
    private static List<float[]> autocastStep(Device device, DType dtype) {
        Random init = new Random(21);
        float[] x = DTypeTest.randn(init, 8 * 2 * 6 * 6);
        try (Module m = new Sequential(new Conv2d(2, 4, 3, 1, new Random(1)), new BatchNorm2d(4), Activations.relu(),
                Activations.flatten(), new Linear(4 * 6 * 6, 3, new Random(2)))) {
            m.to(device);
            try (TensorScope s = TensorScope.open()) {
                Tensor loss;
                try (Autocast ac = dtype == DType.BFLOAT16 ? Autocast.bf16() : Autocast.fp16()) {
                    loss = m.forward(Tensor.of(x, Shape.of(8, 2, 6, 6), device)).crossEntropy(new int[] {0, 1, 2, 0, 1, 2, 0, 1});
                }
                loss.backward();
                List<float[]> out = new java.util.ArrayList<>(List.of(new float[] {loss.item()}));
                m.parameters().forEach(p -> {
                    assertEquals(DType.FLOAT32, p.grad().dtype());
                    out.add(p.grad().toArray());
                });
                return out;
            }
        }
    }

    @Test
    void anAutocastTrainingStepAgreesWithTheCpu() {
        for (DType d : new DType[] {DType.BFLOAT16, DType.FLOAT16}) {
            List<float[]> cpu = autocastStep(Device.CPU, d), gpu = autocastStep(GPU, d);
            assertEquals(cpu.get(0)[0], gpu.get(0)[0], 1e-2 * Math.abs(cpu.get(0)[0]), d + " loss");
            for (int i = 1; i < cpu.size(); i++) {
                assertTrue(Gpu.relativeError(gpu.get(i), cpu.get(i)) < 2e-2, d + " gradient of parameter " + (i - 1) + ": "
                        + Gpu.relativeError(gpu.get(i), cpu.get(i)));
            }
        }
    }

    @Test
    void everyHalfOpAgreesWithTheCpu() {
        for (HalfOpCases.Case c : HalfOpCases.all()) {
            for (DType d : new DType[] {DType.BFLOAT16, DType.FLOAT16}) {
                HalfOpCases.Result cpu = HalfOpCases.run(c, d, Device.CPU), gpu = HalfOpCases.run(c, d, GPU);
                // float32 sums in another order may round to the neighbouring half: within a few of its ulps
                double tol = d == DType.BFLOAT16 ? 1e-2 : 2e-3;
                assertTrue(Gpu.relativeError(gpu.output(), cpu.output()) < tol, c.name() + " " + d + " output");
                for (int i = 0; i < cpu.grads().size(); i++) {
                    double err = Gpu.relativeError(gpu.grads().get(i), cpu.grads().get(i));
                    assertTrue(err < tol, c.name() + " " + d + " gradient " + i + ": " + err);
                }
            }
        }
    }
}
