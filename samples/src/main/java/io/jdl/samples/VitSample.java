package io.jdl.samples;

import io.jdl.autograd.Autograd;
import io.jdl.autograd.NoGrad;
import io.jdl.data.Augmentation;
import io.jdl.data.DataLoader;
import io.jdl.data.Dataset;
import io.jdl.models.VisionTransformer;
import io.jdl.nn.Module;
import io.jdl.samples.cli.UserError;
import io.jdl.samples.viz.Charts;
import io.jdl.tensor.Tensor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A vision transformer on Fashion-MNIST: each image is cut into patches that attend to each other
 * through stacked transformer blocks. Writes, besides the usual files, the last block's attention
 * map for one test image ({@code attention.png}).
 */
@Command(name = "vit", mixinStandardHelpOptions = true, description = "Vision transformer on Fashion-MNIST (target >= 90%% test accuracy)")
final class VitSample implements Callable<Integer>, SampleHelp.Defaults {
    @Mixin
    TrainOptions options;

    @Mixin
    DataOptions dataOptions;

    @Option(names = "--patch", description = "patch side in pixels, dividing 28 (default: 4 on a GPU, 7 on the CPU)")
    Integer patch;

    @Option(names = "--dim", description = "token width (default: 128 on a GPU, 64 on the CPU)")
    Integer dim;

    @Option(names = "--layers", description = "transformer blocks (default: 6 on a GPU, 3 on the CPU)")
    Integer layers;

    @Option(names = "--heads", description = "attention heads, dividing --dim (default: 4)")
    Integer heads;

    /** The recipe; the flags may override epochs, batch size and learning rate. */
    static final ImageClassification.Recipe RECIPE = new ImageClassification.Recipe("vit", 3, 40, 128, 1e-3f, 0.05f, false,
            Augmentation.flipAndShift(2), null);

    @Override
    public java.util.Map<String, String> defaultsHelp() {
        return SampleHelp.of(RECIPE);
    }

    @Override
    public Integer call() throws Exception {
        Architecture arch = ImageClassification.architecture("vit", options, dataOptions);
        options.refuseCudaGraph("vit", "uploads its position ids every step (positional embedding)");
        boolean gpu = options.onGpu();
        int p = arch.integer("--patch", patch, gpu ? 4 : 7, 1);
        if (28 % p != 0) {
            throw UserError.usage("--patch", p, "must divide the image side 28 (1, 2, 4, 7, 14 or 28)");
        }
        int h = arch.integer("--heads", heads, 4, 1);
        int d = arch.integer("--dim", dim, gpu ? 128 : 64, 1);
        if (d % h != 0) {
            throw UserError.usage("--dim", d, "must be a multiple of --heads " + h + " (each head gets dim/heads channels)");
        }
        int l = arch.integer("--layers", layers, gpu ? 6 : 3, 1);
        // Not a flag, but it depends on the device: a run resumed on another device keeps its start's.
        float dropout = arch.training("dropout", null, gpu ? 0.1f : 0f, Float::valueOf);
        return ImageClassification.run("vit", RECIPE, options, dataOptions, arch,
                rng -> new VisionTransformer(1, 28, p, d, h, l, dropout, 10, rng), VitSample::attentionMap);
    }

    /** The last block's attention between patches for the first test image, averaged over heads. */
    static void attentionMap(Module model, Dataset test, DataLoader loader, RunFolder out) throws IOException {
        VisionTransformer vit = (VisionTransformer) model;
        vit.eval();
        vit.recordAttentionWeights(true);
        try (NoGrad ignored = Autograd.noGrad(); DataLoader.Epoch batches = loader.epoch(0)) {
            DataLoader.Batch batch = batches.next();
            try (batch; Tensor logits = vit.forward(batch.inputs())) {
                Tensor weights = vit.blocks().getLast().attention().lastWeights(); // [B, H, T, T], owned by the module
                int h = weights.shape().dim(1), t = weights.shape().dim(2);
                float[] all = weights.toArray();
                float[] mean = new float[t * t];
                for (int head = 0; head < h; head++) {
                    for (int i = 0; i < t * t; i++) {
                        mean[i] += all[head * t * t + i] / h;
                    }
                }
                List<String> labels = new ArrayList<>();
                for (int i = 0; i < t; i++) {
                    labels.add(i % vit.grid() + "," + i / vit.grid());
                }
                float[] image = java.util.Arrays.copyOf(batch.inputs().toArray(), 28 * 28); // [28, 28] of [B, 1, 28, 28]
                String label = test.classNames().get(batch.labels()[0]);
                Charts.heatmap(out.file("attention.png"), new Charts.Heatmap(
                        "Last block's attention between patches, mean of " + h + " heads", mean, t, t, labels, labels,
                        "query patch (x,y): the patch that looks", "key patch (x,y): the patch looked at"),
                        new Charts.Inset("first test image: " + label, image, 28, 28));
                out.wrote("attention.png");
            }
        } finally {
            vit.recordAttentionWeights(false);
        }
    }
}
