package io.jdl.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jdl.backend.cpu.CpuStorage;
import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A multi-head attention block allocates only what it computes: the head split and merge are read and written
 * in place by the GEMMs (issue #13 item 4). Before views, forward allocated 14 buffers (10 of them copies for
 * reshape, permute, split) and backward 22.
 */
class AttentionCopiesTest {
    @Test
    void forwardAndBackwardAllocateNoCopies() {
        try (MultiHeadAttention m = new MultiHeadAttention(8, 2, true, 0.1f, new Random(1));
             Tensor x = Tensor.randn(new Random(2), Shape.of(2, 5, 8), Device.CPU).requiresGrad(true)) {
            m.eval();
            for (int rep = 0; rep < 2; rep++) {
                long start = CpuStorage.allocationCount();
                Tensor y = m.forward(x);
                // qkv projection, scores/probabilities, attention output [B, T, H·hd], output projection
                assertEquals(4, CpuStorage.allocationCount() - start, "forward allocations");
                try (Tensor loss = y.sum()) {
                    long beforeBackward = CpuStorage.allocationCount();
                    loss.backward();
                    // seed 1, sum's broadcast, proj dx/dW/db, one d(qkv) for q, k and v, dScores, qkv dx/dW/db
                    assertEquals(10, CpuStorage.allocationCount() - beforeBackward, "backward allocations");
                }
                y.close();
                x.zeroGrad();
                m.zeroGrad();
            }
        }
    }
}
