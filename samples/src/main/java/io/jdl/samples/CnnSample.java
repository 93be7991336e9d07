package io.jdl.samples;

import io.jdl.data.Augmentation;
import io.jdl.nn.Activations;
import io.jdl.nn.BatchNorm2d;
import io.jdl.nn.Conv2d;
import io.jdl.nn.Dropout;
import io.jdl.nn.Linear;
import io.jdl.nn.Module;
import io.jdl.nn.Pool2d;
import io.jdl.nn.Residual;
import io.jdl.nn.Sequential;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A convolutional network on Fashion-MNIST: convolution, batch norm, ReLU, max pooling, dropout, and
 * flip/shift augmentation. {@code --resnet} swaps in residual (skip-connection) blocks.
 */
@Command(name = "cnn", mixinStandardHelpOptions = true,
        description = "CNN on Fashion-MNIST (target >= 93% test accuracy; --resnet aims at >= 95% on a GPU)")
final class CnnSample implements Callable<Integer> {
    @Mixin
    TrainOptions options;

    @Option(names = "--data", description = "folder with the four Fashion-MNIST IDX files (default: Debian's package)")
    Path data;

    @Option(names = "--train-limit", description = "use only the first N training images")
    Integer trainLimit;

    @Option(names = "--width", description = "channels of the first convolution; the second has twice as many (default: 32, 16 on the CPU)")
    Integer width;

    @Option(names = "--resnet", description = "residual network (3 stages of 2 blocks) instead of the 2-convolution network")
    boolean resnet;

    @Override
    public Integer call() throws Exception {
        boolean gpu = options.device == null ? io.jdl.cuda.CudaDevice.isAvailable() : options.device.startsWith("cuda");
        int c = width != null ? width : gpu ? 32 : 16;
        var recipe = resnet
                ? new ImageClassification.Recipe("cnn-resnet", 3, 30, 128, 2e-3f, 5e-4f, false, Augmentation.flipAndShift(2), null)
                : new ImageClassification.Recipe("cnn", 3, 30, 128, 2e-3f, 1e-4f, false, Augmentation.flipAndShift(2), null);
        return ImageClassification.run(recipe, options, data, trainLimit, rng -> resnet ? resnet(rng, c) : cnn(rng, c));
    }

    /** Two conv-BN-ReLU-pool stages and a dropout MLP head (the benchmark's `cnn` network at width 32). */
    static Sequential cnn(Random rng, int c) {
        return new Sequential(
                new Conv2d(1, c, 3, 1, rng), new BatchNorm2d(c), Activations.relu(), Pool2d.max(2),          // 14x14
                new Conv2d(c, 2 * c, 3, 1, rng), new BatchNorm2d(2 * c), Activations.relu(), Pool2d.max(2),  // 7x7
                Activations.flatten(), new Dropout(0.25f, rng.nextLong()),
                new Linear(2 * c * 7 * 7, 128, rng), Activations.relu(), new Dropout(0.25f, rng.nextLong()),
                new Linear(128, 10, rng));
    }

    /** A small ResNet: stem, then stages of two residual blocks (28 → 14 → 7), global average pool, linear. */
    static Sequential resnet(Random rng, int c) {
        Sequential net = new Sequential(new Conv2d(1, c, 3, 1, rng), new BatchNorm2d(c), Activations.relu());
        int channels = c;
        for (int stage = 0; stage < 3; stage++) {
            if (stage > 0) {
                // Downsample and widen between stages: strided conv, as in ResNet's projection path.
                net.add(new Conv2d(channels, 2 * channels, 3, 2, 1, 1, 1, false, rng)).add(new BatchNorm2d(2 * channels))
                        .add(Activations.relu());
                channels *= 2;
            }
            net.add(block(rng, channels)).add(block(rng, channels));
        }
        int side = 7;
        return net.add(Pool2d.avg(side)).add(Activations.flatten()).add(new Linear(channels, 10, rng));
    }

    private static Module block(Random rng, int c) {
        return new Sequential(new Residual(new Sequential(
                new Conv2d(c, c, 3, 1, 1, 1, 1, false, rng), new BatchNorm2d(c), Activations.relu(),
                new Conv2d(c, c, 3, 1, 1, 1, 1, false, rng), new BatchNorm2d(c))), Activations.relu());
    }
}
