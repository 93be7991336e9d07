package io.jdl.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.autograd.GradCheck;
import io.jdl.backend.cuda.CudaBackend;
import io.jdl.cuda.Gpu;
import io.jdl.device.Device;
import io.jdl.nn.MultiHeadAttention;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import io.jdl.tensor.TensorScope;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The strided matmul (interleaved heads, padded rows, offsets, broadcast operands, odd shapes) and attention
 * read in place from a fused qkv projection equal the CPU reference on CUDA; no device memory is left behind.
 */
@Tag("gpu")
class StridedMatmulGpuTest {
    private static final double TOLERANCE = 1e-5;
    private static final Device GPU = Device.cuda(0);
    private final Random rng = new Random(2718);

    @BeforeEach
    void needsGpu() {
        Gpu.assumeAvailable();
        CudaBackend.get(0).cublas().setTf32(false);
    }

    @Test
    void stridedMatmulMatchesTheCpu() {
        Backend cpu = Backends.of(Device.CPU), gpu = Backends.of(GPU);
        long before = CudaBackend.get(0).allocator().allocatedBytes();
        for (StridedMatmulCases c : StridedMatmulCases.all()) {
            float[] av = StridedMatmulCases.random(rng, c.a().size()), bv = StridedMatmulCases.random(rng, c.b().size());
            float[] c0 = StridedMatmulCases.random(rng, c.c().size());
            float[] want = c.run(cpu, av, bv, c0), got = c.run(gpu, av, bv, c0);
            double err = Gpu.relativeError(got, want);
            assertTrue(err < TOLERANCE, c + ": relative error " + err);
        }
        assertEquals(before, CudaBackend.get(0).allocator().allocatedBytes());
    }

    @Test
    void selfAttentionOnAFusedProjectionMatchesTheCpu() {
        for (int t : new int[] {1, 7, 33}) {
            int b = 2, h = 3, d = 5;
            float[] mask = new float[b * t];
            for (int i = 0; i < mask.length; i++) {
                mask[i] = i % t == 0 || rng.nextInt(4) != 0 ? 1f : 0f;
            }
            for (boolean causal : new boolean[] {false, true}) {
                for (float p : new float[] {0f, 0.2f}) {
                    Parity.same("selfAttention T=" + t + " causal=" + causal + " dropout=" + p, GPU, rng,
                            (what, gpu, cpu) -> assertTrue(Gpu.relativeError(gpu, cpu) < 1e-4, what),
                            in -> {
                                try (TensorScope s = TensorScope.open()) {
                                    Tensor m = Tensor.of(mask, Shape.of(b, t), in[0].device());
                                    return s.keep(in[0].selfAttention(h, causal, m, p, 9L, false).output());
                                }
                            }, new float[][] {GradCheck.randn(rng, b * t * 3 * h * d)}, Shape.of(b, t, 3 * h * d));
                }
            }
        }
    }

    @Test
    void multiHeadAttentionModuleMatchesTheCpu() {
        int b = 3, t = 6, dim = 12;
        float[] x = GradCheck.randn(rng, b * t * dim);
        float[][] outs = new float[2][];
        for (int side = 0; side < 2; side++) {
            Device dev = side == 0 ? Device.CPU : GPU;
            try (MultiHeadAttention m = new MultiHeadAttention(dim, 4, true, 0f, new Random(5));
                 TensorScope s = TensorScope.open()) {
                m.to(dev);
                Tensor in = Tensor.of(x, Shape.of(b, t, dim), dev);
                outs[side] = m.forward(in).toArray();
            }
        }
        assertTrue(Gpu.relativeError(outs[1], outs[0]) < 1e-4);
    }
}
