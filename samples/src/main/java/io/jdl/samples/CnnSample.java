package io.jdl.samples;

import io.jdl.data.Augmentation;
import io.jdl.models.FashionMnistModels;
import io.jdl.samples.cli.UserError;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A convolutional network on Fashion-MNIST: convolution, batch norm, ReLU, max pooling, dropout, and
 * flip/shift augmentation. {@code --resnet} swaps in residual (skip-connection) blocks.
 */
@Command(name = "cnn", mixinStandardHelpOptions = true,
        description = "CNN on Fashion-MNIST (target >= 93%% test accuracy; --resnet aims at >= 95%% on a GPU)")
final class CnnSample implements Callable<Integer>, SampleHelp.Defaults {
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
    Boolean resnet;

    /** The recipes (augmentation aside); the flags may override epochs, batch size and learning rate. */
    static final ImageClassification.Recipe CNN = new ImageClassification.Recipe("cnn", 8, 30, 128, 2e-3f, 1e-4f, false,
            Augmentation.NONE, null);
    static final ImageClassification.Recipe RESNET = new ImageClassification.Recipe("cnn --resnet", 3, 30, 128, 2e-3f, 5e-4f,
            false, Augmentation.NONE, null);

    @Override
    public java.util.Map<String, String> defaultsHelp() {
        return SampleHelp.of(CNN, "--resnet", RESNET);
    }

    @Override
    public Integer call() throws Exception {
        Architecture arch = ImageClassification.architecture("cnn", options, dataOptions);
        boolean gpu = options.onGpu();
        boolean residual = arch.flag("--resnet", resnet);
        int c = arch.integer("--width", width, gpu ? 32 : 16, 1);
        if (maxShift != null) {
            UserError.atLeast("--max-shift", maxShift, 0);
        }
        // Augmentation draws from the data order's random stream: a resumed run must shift as its start did.
        int shift = arch.training("--max-shift", maxShift, gpu ? 2 : 0, Integer::valueOf);
        var recipe = (residual ? RESNET : CNN).withAugmentation(Augmentation.flipAndShift(shift));
        return ImageClassification.run("cnn", recipe, options, dataOptions, arch,
                rng -> residual ? FashionMnistModels.resnet(rng, c) : FashionMnistModels.cnn(rng, c));
    }
}
