package io.jdl.nn;

import io.jdl.backend.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;

/**
 * Weight initialisations from a seeded {@link Random}: the same seed gives the same weights on any
 * device. fanIn/fanOut are the inputs/outputs one weight connects (in·kh·kw for a convolution).
 */
public final class Init {
    private Init() {
    }

    /** U(-bound, bound). */
    public static Tensor uniform(Random rng, Shape shape, double bound) {
        float[] v = new float[Math.toIntExact(shape.numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
        }
        return Tensor.of(v, shape, Device.CPU);
    }

    /** N(0, std²). */
    public static Tensor normal(Random rng, Shape shape, double std) {
        float[] v = new float[Math.toIntExact(shape.numel())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rng.nextGaussian() * std);
        }
        return Tensor.of(v, shape, Device.CPU);
    }

    /** He et al. for ReLU networks: N(0, 2/fanIn). */
    public static Tensor kaimingNormal(Random rng, Shape shape, int fanIn) {
        return normal(rng, shape, Math.sqrt(2.0 / fanIn));
    }

    /** He et al., uniform: U(±√(6/fanIn)). */
    public static Tensor kaimingUniform(Random rng, Shape shape, int fanIn) {
        return uniform(rng, shape, Math.sqrt(6.0 / fanIn));
    }

    /** Glorot and Bengio: U(±√(6/(fanIn+fanOut))). */
    public static Tensor xavierUniform(Random rng, Shape shape, int fanIn, int fanOut) {
        return uniform(rng, shape, Math.sqrt(6.0 / (fanIn + fanOut)));
    }

    /** Glorot and Bengio, normal: N(0, 2/(fanIn+fanOut)). */
    public static Tensor xavierNormal(Random rng, Shape shape, int fanIn, int fanOut) {
        return normal(rng, shape, Math.sqrt(2.0 / (fanIn + fanOut)));
    }

    /** PyTorch's default for Linear/Conv weights and biases: U(±1/√fanIn). */
    public static Tensor pytorchDefault(Random rng, Shape shape, int fanIn) {
        return uniform(rng, shape, 1 / Math.sqrt(fanIn));
    }
}
