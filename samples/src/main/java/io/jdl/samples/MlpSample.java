package io.jdl.samples;

import io.jdl.data.Augmentation;
import io.jdl.models.FashionMnistModels;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** A multi-layer perceptron on flattened Fashion-MNIST images: 784-1024-1024-10 with ReLU and dropout. */
@Command(name = "mlp", mixinStandardHelpOptions = true, description = "MLP on Fashion-MNIST (target >= 89% test accuracy)")
final class MlpSample implements Callable<Integer> {
    @Mixin
    TrainOptions options;

    @Mixin
    DataOptions dataOptions;

    @Option(names = "--hidden", defaultValue = "1024", description = "width of the two hidden layers (default: ${DEFAULT-VALUE})")
    int hidden;

    @Override
    public Integer call() throws Exception {
        var recipe = new ImageClassification.Recipe("mlp", 15, 30, 128, 1e-3f, 1e-4f, true, Augmentation.NONE, null);
        return ImageClassification.run(recipe, options, dataOptions, rng -> FashionMnistModels.mlp(rng, hidden, 0.2f));
    }
}
