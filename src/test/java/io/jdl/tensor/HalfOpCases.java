package io.jdl.tensor;

import io.jdl.device.DType;
import io.jdl.device.Device;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Function;

/**
 * Every op that takes bfloat16 / float16 tensors, as cases for the dtype tests: inputs of given shapes and the op.
 * {@link #run} computes an op's output and its inputs' gradients in a dtype on a device, so that the CPU test can
 * compare them with the float32 op on the rounded inputs, and the GPU test with the CPU.
 */
final class HalfOpCases {
    record Case(String name, int[][] shapes, Function<Tensor[], Tensor> op) {
    }

    /** The output and each input's gradient, as float32 arrays. */
    record Result(float[] output, List<float[]> grads) {
    }

    private static Case c(String name, Function<Tensor[], Tensor> op, int[]... shapes) {
        return new Case(name, shapes, op);
    }

    static final int[] M = {3, 4}, V = {4}, IMG = {2, 3, 5, 5};

    static List<Case> all() {
        return List.of(
                c("add", t -> t[0].add(t[1]), M, M),
                c("sub broadcast", t -> t[0].sub(t[1]), M, V),
                c("mul", t -> t[0].mul(t[1]), M, M),
                c("scale", t -> t[0].scale(0.3f), M),
                c("addBias", t -> t[0].addBias(t[1]), M, V),
                c("relu", t -> t[0].relu(), M),
                c("leakyRelu", t -> t[0].leakyRelu(0.1f), M),
                c("sigmoid", t -> t[0].sigmoid(), M),
                c("tanh", t -> t[0].tanh(), M),
                c("gelu", t -> t[0].gelu(), M),
                c("softmax", t -> t[0].softmax(), M),
                c("logSoftmax", t -> t[0].logSoftmax(), M),
                c("dropout", t -> t[0].dropout(0.3f, 9, true), M),
                c("crossEntropy", t -> t[0].crossEntropy(new int[] {1, 0, 3}), M),
                c("mse", t -> t[0].mse(t[1]), M, M),
                c("sum", t -> t[0].sum(), M),
                c("mean", t -> t[0].mean(), M),
                c("sum axis", t -> t[0].sum(1), M),
                c("mean axis", t -> t[0].mean(0), M),
                c("expand", t -> t[0].expand(2, 3, 4), new int[] {1, 3, 4}),
                c("transpose", t -> t[0].transpose(0, 1), M),
                c("permute", t -> t[0].permute(1, 0), M),
                c("concat", t -> Tensor.concat(1, t[0], t[1]), M, M),
                c("reshape", t -> t[0].reshape(4, 3), M),
                c("maxPool2d", t -> t[0].maxPool2d(2, 2, 0), IMG),
                c("avgPool2d", t -> t[0].avgPool2d(3, 1, 1), IMG),
                c("embedding", t -> t[0].embedding(new int[] {2, 0, 2}, 3), M),
                c("matmul", t -> t[0].matmul(t[1]), M, new int[] {4, 5}),
                c("linear", t -> t[0].linear(t[1], t[2]), M, new int[] {2, 4}, new int[] {2}),
                // without a bias: a convolution's bias adds one rounding in half (HalfProductsTest checks it)
                c("conv2d", t -> t[0].conv2d(t[1], null, 1, 1, 1, 1), IMG, new int[] {2, 3, 3, 3}),
                c("layerNorm", t -> t[0].layerNorm(t[1], t[2], 1e-5f), M, V, V),
                c("batchNorm2d", t -> t[0].batchNorm2d(t[1], t[2], Tensor.zeros(Shape.of(3), t[0].device()),
                        Tensor.full(Shape.of(3), 1f, t[0].device()), true, 0.1f, 1e-5f), IMG, new int[] {3}, new int[] {3}),
                c("attention", t -> t[0].scaledDotProductAttention(t[1], t[2], true, null, 0f, 0), new int[] {1, 2, 3, 4},
                        new int[] {1, 2, 3, 4}, new int[] {1, 2, 3, 4}));
    }

    /** The case's inputs rounded to {@code dtype} (leaves that require grad), on {@code device}. */
    static Tensor[] inputs(Case c, DType dtype, Device device, long seed) {
        Random rng = new Random(seed);
        Tensor[] t = new Tensor[c.shapes().length];
        for (int i = 0; i < t.length; i++) {
            Shape s = Shape.of(c.shapes()[i]);
            t[i] = Tensor.randn(rng, s, device).to(dtype).requiresGrad(true);
        }
        return t;
    }

    /**
     * Output and gradients of the case in {@code dtype} on {@code device}; the loss is a weighted sum of the output
     * (fixed weights), so that every output element has its own gradient.
     */
    static Result run(Case c, DType dtype, Device device) {
        return run(c, dtype, dtype, device);
    }

    /**
     * As {@link #run(Case, DType, Device)} with the inputs rounded to {@code rounding} and then converted to
     * {@code dtype} (float32 leaves holding half values: the reference computation).
     */
    static Result run(Case c, DType rounding, DType dtype, Device device) {
        try (TensorScope s = TensorScope.open()) {
            Tensor[] in = inputs(c, rounding, device, c.name().hashCode());
            for (int i = 0; i < in.length; i++) {
                in[i] = rounding == dtype ? in[i] : in[i].detach().to(dtype).requiresGrad(true);
            }
            Tensor out = c.op().apply(in);
            if (rounding != dtype) {
                out = out.to(rounding); // the half op's one rounding of its result
            }
            float[] output = out.toArray(); // before backward(), which frees the intermediates
            Tensor f = out.to(DType.FLOAT32);
            Tensor weights = Tensor.randn(new Random(3), f.shape(), device);
            f.mul(weights).sum().backward();
            List<float[]> grads = new ArrayList<>();
            for (Tensor t : in) {
                if (t.grad() != null && t.grad().dtype() != dtype) {
                    throw new AssertionError(c.name() + ": a " + dtype + " input got a gradient of " + t.grad().dtype());
                }
                grads.add(t.grad() == null ? new float[0] : t.grad().toArray());
            }
            return new Result(output, grads);
        }
    }
}
