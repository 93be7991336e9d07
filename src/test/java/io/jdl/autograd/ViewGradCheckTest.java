package io.jdl.autograd;

import static io.jdl.autograd.GradCheck.check;
import static io.jdl.autograd.GradCheck.randn;

import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Finite-difference gradients of the view ops, alone and where one tensor's views meet again. */
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
}
