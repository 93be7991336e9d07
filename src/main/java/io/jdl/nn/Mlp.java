package io.jdl.nn;

import java.util.Random;
import java.util.function.Supplier;

/** Builds multi-layer perceptrons: Linear layers with an activation between them (none after the last). */
public final class Mlp {
    private Mlp() {
    }

    /** e.g. {@code Mlp.of(rng, Activations::relu, 784, 512, 512, 10)}. */
    public static Sequential of(Random rng, Supplier<Module> activation, int... sizes) {
        if (sizes.length < 2) {
            throw new IllegalArgumentException("an MLP needs at least an input and an output size");
        }
        Sequential s = new Sequential();
        for (int i = 0; i + 1 < sizes.length; i++) {
            s.add(new Linear(sizes[i], sizes[i + 1], rng));
            if (i + 2 < sizes.length) {
                s.add(activation.get());
            }
        }
        return s;
    }
}
