package io.jdl.autograd;

import static io.jdl.autograd.GradCheck.check;
import static io.jdl.autograd.GradCheck.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Finite-difference gradients of the view ops, alone and where one tensor's views meet again, and of attention
 * read in place from a fused projection, which must equal the split / permute / merge path bit for bit.
 */
class ViewGradCheckTest {
    private static final double EPS = 1e-2;
    private final Random rng = new Random(5);

    @Test
    void eachViewOp() {
        float[][] xw = {randn(rng, 24), randn(rng, 24)};
        check("reshape", x -> x[0].reshape(4, -1, 2).mul(x[1].reshape(4, 3, 2)), EPS, xw, Shape.of(2, 3, 4),
                Shape.of(24));
        check("flatten", x -> x[0].flatten(1).mul(x[1].reshape(2, 12)), EPS, xw, Shape.of(2, 3, 4), Shape.of(24));
        check("unsqueeze", x -> x[0].unsqueeze(1).mul(x[1].reshape(2, 1, 3, 4)), EPS, xw, Shape.of(2, 3, 4),
                Shape.of(24));
        check("squeeze", x -> x[0].squeeze(1).mul(x[1].reshape(2, 3, 4)), EPS, xw, Shape.of(2, 1, 3, 4),
                Shape.of(24));
    }

    @Test
    void viewsOfOneTensorMeetAgain() {
        check("x.reshape * x.flatten + x", x -> x[0].reshape(6, 2).matmul(x[0].flatten(0).reshape(2, 6))
                .add(x[0].reshape(6, 2).matmul(x[0].reshape(2, 6))), EPS, new float[][] {randn(rng, 12)},
                Shape.of(3, 4));
    }

    @Test
    void selfAttentionOnAFusedProjection() {
        int b = 2, t = 4, h = 2, d = 3;
        try (Tensor mask = Tensor.of(new float[] {1, 1, 0, 1, 1, 1, 1, 0}, 2, 4)) {
            for (boolean causal : new boolean[] {false, true}) {
                check("selfAttention causal=" + causal, x -> x[0].selfAttention(h, causal, mask, 0f, 0L, false).output(),
                        EPS, new float[][] {randn(rng, b * t * 3 * h * d)}, Shape.of(b, t, 3 * h * d));
            }
        }
    }

    @Test
    void selfAttentionEqualsSplittingAndMergingHeadsBitForBit() {
        int b = 3, t = 5, h = 4, d = 2;
        float[] values = randn(rng, b * t * 3 * h * d), r = randn(rng, b * t * h * d);
        float[][] outs = new float[2][], grads = new float[2][];
        for (int path = 0; path < 2; path++) {
            try (Tensor qkv = Tensor.of(values, b, t, 3 * h * d).requiresGrad(true); Tensor rt = Tensor.of(r, b, t, h * d)) {
                Tensor out;
                if (path == 0) {
                    out = qkv.selfAttention(h, true, null, 0.25f, 11L, false).output();
                } else {
                    Tensor[] parts = qkv.reshape(b, t, 3, h, d).permute(2, 0, 3, 1, 4).split(0, 1, 1, 1);
                    Tensor o = parts[0].reshape(b, h, t, d).scaledDotProductAttention(parts[1].reshape(b, h, t, d),
                            parts[2].reshape(b, h, t, d), true, null, 0.25f, 11L);
                    out = o.permute(0, 2, 1, 3).reshape(b, t, h * d);
                }
                outs[path] = out.toArray();
                try (Tensor loss = out.mul(rt).sum()) {
                    loss.backward();
                }
                out.close();
                grads[path] = qkv.grad().toArray();
            }
        }
        assertArrayEquals(outs[1], outs[0]);
        assertArrayEquals(grads[1], grads[0]);
    }
}
