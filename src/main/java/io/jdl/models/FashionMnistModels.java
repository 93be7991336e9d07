package io.jdl.models;

import io.jdl.nn.Activations;
import io.jdl.nn.BatchNorm2d;
import io.jdl.nn.Conv2d;
import io.jdl.nn.Dropout;
import io.jdl.nn.Linear;
import io.jdl.nn.Module;
import io.jdl.nn.Pool2d;
import io.jdl.nn.Residual;
import io.jdl.nn.Sequential;
import java.util.Random;

/**
 * The networks the samples train on 28×28 grey images with 10 classes, and that the benchmarks time
 * (scripts/bench_torch.py builds the same ones in PyTorch). Parameter names follow PyTorch's
 * {@code nn.Sequential} numbering. Every weight comes from {@code rng}, so a seed fixes the model.
 */
public final class FashionMnistModels {
    private FashionMnistModels() {
    }

    /** 784 → hidden → hidden → 10 with ReLU, and dropout {@code p} after each hidden layer (0 for none). */
    public static Sequential mlp(Random rng, int hidden, float dropout) {
        Sequential net = new Sequential(new Linear(784, hidden, rng), Activations.relu());
        if (dropout > 0) {
            net.add(new Dropout(dropout, rng.nextLong()));
        }
        net.add(new Linear(hidden, hidden, rng)).add(Activations.relu());
        if (dropout > 0) {
            net.add(new Dropout(dropout, rng.nextLong()));
        }
        return net.add(new Linear(hidden, 10, rng));
    }

    /**
     * Two conv(3×3)-BN-ReLU-maxpool(2) stages of {@code width} and 2·{@code width} channels (28 → 14 → 7),
     * then dropout 0.25, Linear(2·width·49 → 128), ReLU, dropout 0.25, Linear(128 → 10). Width 32 is the
     * benchmark's `cnn` network.
     */
    public static Sequential cnn(Random rng, int width) {
        int c = width;
        return new Sequential(
                new Conv2d(1, c, 3, 1, rng), new BatchNorm2d(c), Activations.relu(), Pool2d.max(2),
                new Conv2d(c, 2 * c, 3, 1, rng), new BatchNorm2d(2 * c), Activations.relu(), Pool2d.max(2),
                Activations.flatten(), new Dropout(0.25f, rng.nextLong()),
                new Linear(2 * c * 7 * 7, 128, rng), Activations.relu(), new Dropout(0.25f, rng.nextLong()),
                new Linear(128, 10, rng));
    }

    /**
     * A small ResNet: a 3×3 stem of {@code width} channels, three stages of two residual blocks
     * (conv-BN-ReLU-conv-BN plus the identity, then ReLU) at 28, 14 and 7 pixels, each later stage
     * entered through a strided conv that doubles the channels, then global average pooling and a linear head.
     */
    public static Sequential resnet(Random rng, int width) {
        Sequential net = new Sequential(new Conv2d(1, width, 3, 1, rng), new BatchNorm2d(width), Activations.relu());
        int c = width;
        for (int stage = 0; stage < 3; stage++) {
            if (stage > 0) {
                net.add(new Conv2d(c, 2 * c, 3, 2, 1, 1, 1, false, rng)).add(new BatchNorm2d(2 * c)).add(Activations.relu());
                c *= 2;
            }
            net.add(residualBlock(rng, c)).add(residualBlock(rng, c));
        }
        return net.add(Pool2d.avg(7)).add(Activations.flatten()).add(new Linear(c, 10, rng));
    }

    private static Module residualBlock(Random rng, int c) {
        return new Sequential(new Residual(new Sequential(
                new Conv2d(c, c, 3, 1, 1, 1, 1, false, rng), new BatchNorm2d(c), Activations.relu(),
                new Conv2d(c, c, 3, 1, 1, 1, 1, false, rng), new BatchNorm2d(c))), Activations.relu());
    }
}
