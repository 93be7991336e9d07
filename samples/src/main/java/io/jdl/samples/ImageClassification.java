package io.jdl.samples;

import io.jdl.autograd.Autograd;
import io.jdl.autograd.NoGrad;
import io.jdl.backend.Device;
import io.jdl.data.Augmentation;
import io.jdl.data.DataLoader;
import io.jdl.data.Dataset;
import io.jdl.data.FashionMnist;
import io.jdl.nn.Module;
import io.jdl.optim.Adam;
import io.jdl.optim.LrSchedule;
import io.jdl.samples.cli.MetricsJson;
import io.jdl.samples.cli.ProgressBar;
import io.jdl.samples.viz.Charts;
import io.jdl.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

/**
 * Trains and evaluates an image classifier on Fashion-MNIST: the loop shared by {@code mlp}, {@code cnn}
 * and {@code vit}. AdamW with a cosine schedule over the epochs; test accuracy after every epoch.
 * Writes loss/accuracy curves, a confusion matrix, the first convolution's kernels (if any), metrics
 * and a safetensors checkpoint into the output folder, and ends with {@code test_accuracy=0.XXXX}.
 */
final class ImageClassification {
    /** Fashion-MNIST's pixel mean and standard deviation (over the training set, scaled to [0, 1]). */
    static final float MEAN = 0.2860f, STD = 0.3530f;

    /** What a sample chooses; {@link TrainOptions} may override epochs, batch size and learning rate. */
    record Recipe(String name, int cpuEpochs, int gpuEpochs, int batchSize, float lr, float weightDecay,
                  boolean flatten, Augmentation augmentation, Integer cpuTrainLimit) {
    }

    private ImageClassification() {
    }

    /** Writes a sample's own pictures from the trained model (e.g. attention maps) into the output folder. */
    @FunctionalInterface
    interface Extra {
        void write(Module model, Dataset test, DataLoader testLoader, Path out) throws IOException;
    }

    static int run(Recipe recipe, TrainOptions o, DataOptions dataOptions, Function<Random, Module> build)
            throws IOException {
        return run(recipe, o, dataOptions, build, null);
    }

    static int run(Recipe recipe, TrainOptions o, DataOptions dataOptions, Function<Random, Module> build, Extra extra)
            throws IOException {
        Path dataDir = dataOptions.data;
        Integer trainLimit = dataOptions.trainLimit;
        Device device = o.device();
        Path out = o.out(recipe.name());
        Files.createDirectories(out);
        FashionMnist data = dataDir != null ? FashionMnist.load(dataDir) : FashionMnist.load();
        Dataset train = data.train(), test = data.test();
        Integer limit = trainLimit != null ? trainLimit : device.isCuda() ? null : recipe.cpuTrainLimit();
        if (limit != null && limit < train.size()) {
            train = train.subset(0, limit);
        }
        int epochs = o.evalOnly ? 0 : o.epochs(recipe.cpuEpochs(), recipe.gpuEpochs(), device);
        int batchSize = o.batchSize(recipe.batchSize());
        float lr = o.lr(recipe.lr());
        System.out.printf(Locale.ROOT, "%s on Fashion-MNIST: %d training / %d test images, %d epochs, batch %d, lr %g%n",
                recipe.name(), train.size(), test.size(), epochs, batchSize, lr);

        try (Module model = build.apply(new Random(o.seed))) {
            model.to(device);
            o.resumeInto(model);
            System.out.printf(Locale.ROOT, "Model: %,d parameters%n", model.parameters().stream().mapToLong(Tensor::numel).sum());
            DataLoader trainLoader = DataLoader.builder(train).device(device).batchSize(batchSize).shuffle(true)
                    .seed(o.seed).flatten(recipe.flatten()).normalize(MEAN, STD).augmentation(recipe.augmentation()).build();
            DataLoader testLoader = DataLoader.builder(test).device(device).batchSize(1000).shuffle(false)
                    .flatten(recipe.flatten()).normalize(MEAN, STD).build();

            List<Double> stepLoss = new ArrayList<>();
            List<EpochResult> results = new ArrayList<>();
            Evaluation eval = null;
            int step = 0;
            boolean stopped = false;
            LrSchedule schedule = LrSchedule.cosine(lr, Math.max(1, epochs), lr / 100);
            try (Adam opt = Adam.adamW(model.parameters(), lr, recipe.weightDecay())) {
                for (int epoch = 0; epoch < epochs && !stopped; epoch++) {
                    opt.setLr(schedule.lr(epoch));
                    model.train(true);
                    long correct = 0, seen = 0;
                    String label = String.format(Locale.ROOT, "epoch %d/%d", epoch + 1, epochs);
                    try (ProgressBar bar = new ProgressBar(label, trainLoader.samplesPerEpoch(), "img");
                         DataLoader.Epoch batches = trainLoader.epoch(epoch)) {
                        for (DataLoader.Batch batch : batches) {
                            try (batch; Tensor logits = model.forward(batch.inputs()).retain();
                                 Tensor loss = logits.crossEntropy(batch.labels())) {
                                loss.backward();
                                opt.step();
                                opt.zeroGrad();
                                step++;
                                // Reading values syncs the GPU: only every few steps (and for the epoch's accuracy).
                                double lossValue = Double.NaN;
                                if (step % 10 == 1 || !device.isCuda()) {
                                    lossValue = loss.item();
                                    stepLoss.add(lossValue);
                                    correct += countCorrect(logits.toArray(), batch.labels());
                                    seen += batch.size();
                                }
                                bar.advance(batch.size(), lossValue);
                            }
                            if (o.steps != null && step >= o.steps) {
                                stopped = true;
                                break;
                            }
                        }
                    }
                    eval = evaluate(model, testLoader, test.numClasses());
                    double trainAccuracy = seen == 0 ? Double.NaN : (double) correct / seen;
                    results.add(new EpochResult(trainAccuracy, eval.loss(), eval.accuracy()));
                    System.out.printf(Locale.ROOT, "epoch %d: train accuracy %.4f, test loss %.4f, test accuracy %.4f%n",
                            epoch + 1, trainAccuracy, eval.loss(), eval.accuracy());
                }
            }
            if (eval == null) {
                eval = evaluate(model, testLoader, test.numClasses());
            }
            if (extra != null) {
                extra.write(model, test, testLoader, out);
            }
            writeArtifacts(out, recipe, model, stepLoss, trainLoader.batchesPerEpoch(), results, eval,
                    test.classNames(), device, train.size(), batchSize, lr, o.seed);
            System.out.println("Wrote " + out.toAbsolutePath() + ": loss.png, accuracy.png, confusion.png, metrics.json, model.safetensors");
            System.out.printf(Locale.ROOT, "test_accuracy=%.4f%n", eval.accuracy());
            return 0;
        }
    }

    record Evaluation(double accuracy, double loss, int[][] confusion) {
    }

    /** What one epoch ended with: the curves and metrics are columns of these. */
    record EpochResult(double trainAccuracy, double testLoss, double testAccuracy) {
    }

    private static double[] column(List<EpochResult> results, java.util.function.ToDoubleFunction<EpochResult> field) {
        return results.stream().mapToDouble(field).toArray();
    }

    static Evaluation evaluate(Module model, DataLoader loader, int classes) {
        model.eval();
        int[][] confusion = new int[classes][classes];
        long correct = 0, seen = 0;
        double lossSum = 0;
        try (NoGrad ignored = Autograd.noGrad(); DataLoader.Epoch batches = loader.epoch(0)) {
            for (DataLoader.Batch batch : batches) {
                try (batch; Tensor logits = model.forward(batch.inputs()); Tensor loss = logits.crossEntropy(batch.labels())) {
                    float[] values = logits.toArray();
                    int[] labels = batch.labels();
                    for (int i = 0; i < labels.length; i++) {
                        int predicted = argmax(values, i * classes, classes);
                        confusion[labels[i]][predicted]++;
                        correct += predicted == labels[i] ? 1 : 0;
                    }
                    lossSum += loss.item() * labels.length;
                    seen += labels.length;
                }
            }
        }
        return new Evaluation((double) correct / seen, lossSum / seen, confusion);
    }

    private static long countCorrect(float[] logits, int[] labels) {
        int classes = logits.length / labels.length;
        long correct = 0;
        for (int i = 0; i < labels.length; i++) {
            correct += argmax(logits, i * classes, classes) == labels[i] ? 1 : 0;
        }
        return correct;
    }

    static int argmax(float[] v, int from, int n) {
        int best = 0;
        for (int j = 1; j < n; j++) {
            if (v[from + j] > v[from + best]) {
                best = j;
            }
        }
        return best;
    }

    private static void writeArtifacts(Path out, Recipe recipe, Module model, List<Double> stepLoss, int stepsPerEpoch,
                                       List<EpochResult> results, Evaluation eval,
                                       List<String> classNames, Device device, int trainSize, int batchSize, float lr,
                                       long seed) throws IOException {
        double[] steps = stepLoss.stream().mapToDouble(Double::doubleValue).toArray();
        double[] trainAcc = column(results, EpochResult::trainAccuracy);
        double[] testLoss = column(results, EpochResult::testLoss);
        double[] testAcc = column(results, EpochResult::testAccuracy);
        // On a GPU the loss is read every 10th step: place the points at their steps.
        int every = device.isCuda() ? 10 : 1;
        Charts.lossAndAccuracy(out, steps.length == 0 ? new double[] {Double.NaN} : steps,
                Math.max(1, stepsPerEpoch / every), testLoss, trainAcc, testAcc);
        Charts.confusionMatrix(out.resolve("confusion.png"), eval.confusion(), classNames);
        firstConvKernels(model).ifPresent(w -> {
            int[] d = w.shape().dims();
            try {
                Charts.imageGrid(out.resolve("conv1_kernels.png"), w.toArray(), d[0], d[1], d[2], d[3], 12);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("sample", recipe.name());
        metrics.put("device", device.toString());
        metrics.put("train_images", trainSize);
        metrics.put("batch_size", batchSize);
        metrics.put("lr", lr);
        metrics.put("seed", seed);
        metrics.put("test_accuracy", eval.accuracy());
        metrics.put("test_loss", eval.loss());
        metrics.put("train_accuracy_per_epoch", trainAcc);
        metrics.put("test_accuracy_per_epoch", testAcc);
        metrics.put("test_loss_per_epoch", testLoss);
        MetricsJson.write(out.resolve("metrics.json"), metrics);
        Checkpoints.save(model, out.resolve("model.safetensors"), Map.of("sample", recipe.name(),
                "test_accuracy", String.format(Locale.ROOT, "%.4f", eval.accuracy())));
    }

    /** The weights [K, C, R, S] of the first 4-d parameter (the first convolution), if the model has one. */
    private static java.util.Optional<Tensor> firstConvKernels(Module model) {
        return model.namedParameters().values().stream().filter(t -> t.shape().rank() == 4).findFirst();
    }
}
