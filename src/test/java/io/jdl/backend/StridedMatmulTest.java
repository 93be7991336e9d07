package io.jdl.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jdl.device.Device;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The CPU reference of the strided matmul against a float64 triple loop, and bit for bit against the packed one. */
class StridedMatmulTest {
    private final Random rng = new Random(31);

    @Test
    void matchesTheNaiveProductAndLeavesGapsAlone() {
        Backend cpu = Backends.of(Device.CPU);
        for (StridedMatmulCases c : StridedMatmulCases.all()) {
            float[] av = StridedMatmulCases.random(rng, c.a().size()), bv = StridedMatmulCases.random(rng, c.b().size());
            float[] c0 = StridedMatmulCases.random(rng, c.c().size());
            float[] got = c.run(cpu, av, bv, c0);
            float[] want = c.reference(av, bv, c0);
            for (int i = 0; i < want.length; i++) {
                assertEquals(want[i], got[i], 1e-5 * (1 + Math.abs(want[i])) * Math.sqrt(c.k()), c + " element " + i);
            }
        }
    }

    @Test
    void packedLayoutIsBitIdenticalToThePackedMatmul() {
        Backend cpu = Backends.of(Device.CPU);
        int outer = 2, inner = 3, m = 5, n = 6, k = 7;
        float[] av = StridedMatmulCases.random(rng, outer * inner * m * k);
        float[] bv = StridedMatmulCases.random(rng, outer * inner * k * n);
        try (Storage a = cpu.upload(av); Storage b = cpu.upload(bv); Storage c1 = cpu.allocate(outer * inner * m * n);
             Storage c2 = cpu.allocate(outer * inner * m * n)) {
            cpu.matmul(false, true, outer * inner, m, n, k, a, b, c1);
            cpu.matmul(false, true, outer, inner, m, n, k, MatrixBatch.packed(a, inner, m, k),
                    MatrixBatch.packed(b, inner, n, k), MatrixBatch.packed(c2, inner, m, n));
            assertArrayEquals(cpu.download(c1, c1.numel()), cpu.download(c2, c2.numel()));
        }
    }
}
