package io.jdl.samples;

import io.jdl.data.Augmentation;
import io.jdl.models.FashionMnistModels;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** A multi-layer perceptron on flattened Fashion-MNIST images: 784-1024-1024-10 with ReLU and dropout. */
@Command(name = "mlp", mixinStandardHelpOptions = true, description = "MLP on Fashion-MNIST (target >= 89%% test accuracy)")
final class MlpSample implements Callable<Integer>, SampleHelp.Defaults {
    @Mixin
    TrainOptions options;

    @Mixin
    DataOptions dataOptions;

    @Option(names = "--hidden", description = "width of the two hidden layers (default: 1024)")
    Integer hidden;

    /** The recipe; the flags may override epochs, batch size and learning rate. */
    static final ImageClassification.Recipe RECIPE = new ImageClassification.Recipe("mlp", 15, 30, 128, 1e-3f, 1e-4f, true,
            Augmentation.NONE, null);

    @Override
    public java.util.Map<String, String> defaultsHelp() {
        return SampleHelp.of(RECIPE);
    }

    @Override
    public Integer call() throws Exception {
        Architecture arch = ImageClassification.architecture("mlp", options, dataOptions);
        int h = arch.integer("--hidden", hidden, 1024, 1);
        return ImageClassification.run("mlp", RECIPE, options, dataOptions, arch, rng -> FashionMnistModels.mlp(rng, h, 0.2f));
    }
}
