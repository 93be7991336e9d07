package io.jdl.samples;

import io.jdl.data.Augmentation;
import io.jdl.models.FashionMnistModels;
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

    @Mixin
    DataOptions dataOptions;

    @Option(names = "--width", description = "channels of the first convolution; the second has twice as many (default: 32, 16 on the CPU)")
    Integer width;

    @Option(names = "--max-shift", description = "random shift in pixels for augmentation, with random flips"
            + " (default: 2 on a GPU; 0 on the CPU, whose short runs underfit rather than overfit)")
    Integer maxShift;

    @Option(names = "--resnet", description = "residual network (3 stages of 2 blocks) instead of the 2-convolution network")
    boolean resnet;

    @Override
    public Integer call() throws Exception {
        boolean gpu = options.onGpu();
        int c = width != null ? width : gpu ? 32 : 16;
        Augmentation augmentation = Augmentation.flipAndShift(maxShift != null ? maxShift : gpu ? 2 : 0);
        var recipe = resnet
                ? new ImageClassification.Recipe("cnn-resnet", 3, 30, 128, 2e-3f, 5e-4f, false, augmentation, null)
                : new ImageClassification.Recipe("cnn", 8, 30, 128, 2e-3f, 1e-4f, false, augmentation, null);
        return ImageClassification.run(recipe, options, dataOptions, rng -> resnet ? FashionMnistModels.resnet(rng, c) : FashionMnistModels.cnn(rng, c));
    }
}
