package io.jdl.nn;

import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;

/**
 * Weight initialisations from a seeded {@link Random}: the same seed gives the same weights on any
 * device. fanIn/fanOut are the inputs/outputs one weight connects (in·kh·kw for a convolution).
 * A fan or scale that would give infinite or NaN weights is refused, never used.
 */
public final class Init {
    private Init() {
    }

    /** U(-bound, bound). */
    public static Tensor uniform(Random rng, Shape shape, double bound) {
        float[] v = values("uniform", rng, shape, "bound", bound);
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
        }
        return Tensor.of(v, shape, Device.CPU);
    }

    /** N(0, std²). */
    public static Tensor normal(Random rng, Shape shape, double std) {
        float[] v = values("normal", rng, shape, "std", std);
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rng.nextGaussian() * std);
        }
        return Tensor.of(v, shape, Device.CPU);
    }

    /** The array to fill, once the arguments are known to be usable. */
    private static float[] values(String init, Random rng, Shape shape, String scaleName, double scale) {
        if (rng == null || shape == null) {
            throw new IllegalArgumentException("Init." + init + ": " + (rng == null ? "rng" : "shape") + " is null");
        }
        if (shape.numel() > 0 && !(scale >= 0 && scale < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException("Init." + init + ": " + scaleName + " must be finite and >= 0, got " + scale);
        }
        return new float[Math.toIntExact(shape.numel())];
    }

    /** A fan to divide by: at least 1, except for an empty shape, which draws nothing (as in PyTorch). */
    private static long fan(String init, String name, long fan, Shape shape) {
        if (fan < 0 || (fan == 0 && shape != null && shape.numel() > 0)) {
            throw new IllegalArgumentException("Init." + init + ": " + name + " must be >= 1, got " + fan);
        }
        return fan;
    }

    /** fanIn + fanOut, for Glorot's scales; each fan non-negative. */
    private static long fans(String init, int fanIn, int fanOut, Shape shape) {
        if (fanIn < 0 || fanOut < 0) {
            throw new IllegalArgumentException("Init." + init + ": fanIn and fanOut must be >= 0, got " + fanIn + " and " + fanOut);
        }
        return fan(init, "fanIn + fanOut", (long) fanIn + fanOut, shape);
    }

    /** He et al. for ReLU networks: N(0, 2/fanIn). */
    public static Tensor kaimingNormal(Random rng, Shape shape, int fanIn) {
        return normal(rng, shape, Math.sqrt(2.0 / fan("kaimingNormal", "fanIn", fanIn, shape)));
    }

    /** He et al., uniform: U(±√(6/fanIn)). */
    public static Tensor kaimingUniform(Random rng, Shape shape, int fanIn) {
        return uniform(rng, shape, Math.sqrt(6.0 / fan("kaimingUniform", "fanIn", fanIn, shape)));
    }

    /** Glorot and Bengio: U(±√(6/(fanIn+fanOut))). */
    public static Tensor xavierUniform(Random rng, Shape shape, int fanIn, int fanOut) {
        return uniform(rng, shape, Math.sqrt(6.0 / fans("xavierUniform", fanIn, fanOut, shape)));
    }

    /** Glorot and Bengio, normal: N(0, 2/(fanIn+fanOut)). */
    public static Tensor xavierNormal(Random rng, Shape shape, int fanIn, int fanOut) {
        return normal(rng, shape, Math.sqrt(2.0 / fans("xavierNormal", fanIn, fanOut, shape)));
    }

    /**
     * PyTorch's default for Linear/Conv weights and biases: U(±1/√fanIn) (its kaiming_uniform with a = √5), and
     * zeros when fanIn is 0 (as PyTorch). jdl's {@link Linear} and {@link Conv2d} use it for biases only; their
     * weights use {@link #kaimingUniform}, whose bound √(6/fanIn) is √6 times larger.
     */
    public static Tensor pytorchDefault(Random rng, Shape shape, int fanIn) {
        if (fanIn < 0) {
            throw new IllegalArgumentException("Init.pytorchDefault: fanIn must be >= 0, got " + fanIn);
        }
        return uniform(rng, shape, fanIn == 0 ? 0 : 1 / Math.sqrt(fanIn));
    }
}
