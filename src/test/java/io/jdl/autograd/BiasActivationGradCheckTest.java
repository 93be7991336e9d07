package io.jdl.autograd;

import static io.jdl.autograd.GradCheck.randn;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.jdl.device.Device;
import io.jdl.tensor.FusedActivation;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Linear and conv2d with a fused activation on the CPU: finite-difference gradients for every activation (inputs
 * kept away from ReLU's kink), and results and gradients equal, bit for bit, to the unfused ops.
 */
class BiasActivationGradCheckTest {
    private static final double EPS = 1e-2;

    /** Every fused activation with the unfused op it stands for. */
    private static final List<Object[]> ACTIVATIONS = List.of(
            new Object[] {FusedActivation.relu(), (Function<Tensor, Tensor>) Tensor::relu},
            new Object[] {FusedActivation.leakyRelu(-0.3f), (Function<Tensor, Tensor>) t -> t.leakyRelu(-0.3f)},
            new Object[] {FusedActivation.sigmoid(), (Function<Tensor, Tensor>) Tensor::sigmoid},
            new Object[] {FusedActivation.tanh(), (Function<Tensor, Tensor>) Tensor::tanh},
            new Object[] {FusedActivation.gelu(), (Function<Tensor, Tensor>) Tensor::gelu});

    @Test
    void linearGradients() {
        Random rng = new Random(41);
        for (Object[] a : ACTIVATIONS) {
            FusedActivation act = (FusedActivation) a[0];
            GradCheck.check("linear " + act, in -> in[0].linear(in[1], in[2], act), EPS,
                    new float[][] {GradCheck.awayFromZero(rng, 5 * 4, 0.3), randn(rng, 3 * 4), randn(rng, 3)},
                    Shape.of(5, 4), Shape.of(3, 4), Shape.of(3));
        }
        GradCheck.check("linear without bias, relu", in -> in[0].linear(in[1], null, FusedActivation.relu()), EPS,
                new float[][] {randn(rng, 5 * 4), randn(rng, 3 * 4)}, Shape.of(5, 4), Shape.of(3, 4));
    }

    @Test
    void conv2dGradients() {
        Shape xs = Shape.of(2, 2, 4, 4), ws = Shape.of(3, 2, 3, 3), bs = Shape.of(3);
        float[][] values = convInputsAwayFromTheKink(xs, ws, bs);
        for (Object[] a : ACTIVATIONS) {
            FusedActivation act = (FusedActivation) a[0];
            GradCheck.check("conv2d " + act, in -> in[0].conv2d(in[1], in[2], 1, 1, 1, 1, act), EPS,
                    new float[][] {values[0].clone(), values[1].clone(), values[2].clone()}, xs, ws, bs);
        }
    }

    /**
     * Inputs whose pre-activations all lie at least 0.2 from 0: a finite-difference step (0.01 on one input moves a
     * pre-activation by at most 0.01·|w|, well under 0.2) then never straddles ReLU's or leaky ReLU's kink.
     */
    private static float[][] convInputsAwayFromTheKink(Shape xs, Shape ws, Shape bs) {
        Random rng = new Random(42);
        for (int attempt = 0; attempt < 100; attempt++) {
            float[][] v = {randn(rng, (int) xs.numel()), randn(rng, (int) ws.numel()), randn(rng, (int) bs.numel())};
            try (Tensor x = Tensor.of(v[0], xs, Device.CPU); Tensor w = Tensor.of(v[1], ws, Device.CPU);
                 Tensor b = Tensor.of(v[2], bs, Device.CPU); Tensor pre = x.conv2d(w, b, 1, 1, 1, 1)) {
                float min = Float.POSITIVE_INFINITY;
                for (float p : pre.toArray()) {
                    min = Math.min(min, Math.abs(p));
                }
                if (min > 0.2f) {
                    return v;
                }
            }
        }
        throw new AssertionError("no inputs away from the kink in 100 draws");
    }

    /** Output, input gradient and bias gradient of f on fresh copies of the inputs. */
    private static List<float[]> run(Function<Tensor[], Tensor> f, float[][] values, Shape... shapes) {
        Tensor[] in = new Tensor[values.length];
        for (int i = 0; i < in.length; i++) {
            in[i] = Tensor.of(values[i], shapes[i], Device.CPU).requiresGrad(true);
        }
        try (Tensor out = f.apply(in); Tensor loss = out.mul(out).sum()) {
            float[] y = out.toArray();
            loss.backward();
            return List.of(y, in[0].grad().toArray(), in[1].grad().toArray(), in[2].grad().toArray());
        } finally {
            for (Tensor t : in) {
                t.close();
            }
        }
    }

    @Test
    @SuppressWarnings("unchecked")
    void fusedEqualsUnfusedExactly() {
        Random rng = new Random(43);
        float[][] lin = {randn(rng, 7 * 5), randn(rng, 6 * 5), randn(rng, 6)};
        float[][] conv = {randn(rng, 2 * 3 * 5 * 5), randn(rng, 4 * 3 * 3 * 3), randn(rng, 4)};
        for (Object[] a : ACTIVATIONS) {
            FusedActivation act = (FusedActivation) a[0];
            Function<Tensor, Tensor> unfused = (Function<Tensor, Tensor>) a[1];
            List<float[]> f = run(in -> in[0].linear(in[1], in[2], act), lin, Shape.of(7, 5), Shape.of(6, 5), Shape.of(6));
            List<float[]> u = run(in -> unfused.apply(in[0].linear(in[1], in[2])), lin, Shape.of(7, 5), Shape.of(6, 5),
                    Shape.of(6));
            for (int i = 0; i < f.size(); i++) {
                assertArrayEquals(u.get(i), f.get(i), "linear " + act + " output/gradient " + i);
            }
            f = run(in -> in[0].conv2d(in[1], in[2], 2, 1, 1, 1, act), conv, Shape.of(2, 3, 5, 5), Shape.of(4, 3, 3, 3),
                    Shape.of(4));
            u = run(in -> unfused.apply(in[0].conv2d(in[1], in[2], 2, 1, 1, 1)), conv, Shape.of(2, 3, 5, 5),
                    Shape.of(4, 3, 3, 3), Shape.of(4));
            for (int i = 0; i < f.size(); i++) {
                assertArrayEquals(u.get(i), f.get(i), "conv2d " + act + " output/gradient " + i);
            }
        }
    }
}
