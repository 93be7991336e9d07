package io.jdl.samples;

import io.jdl.autograd.Autograd;
import io.jdl.autograd.NoGrad;
import io.jdl.device.Device;
import io.jdl.data.Augmentation;
import io.jdl.data.DataLoader;
import io.jdl.data.Dataset;
import io.jdl.data.FashionMnist;
import io.jdl.io.Checkpoint;
import io.jdl.nn.Module;
import io.jdl.optim.Adam;
import io.jdl.optim.LrSchedule;
import io.jdl.samples.cli.ProgressBar;
import io.jdl.samples.cli.UserError;
import io.jdl.tensor.Tensor;
import java.io.IOException;
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

    /** What a sample chooses; the flags may override epochs, batch size and learning rate. */
    record Recipe(String name, int cpuEpochs, int gpuEpochs, int batchSize, float lr, float weightDecay,
                  boolean flatten, Augmentation augmentation, Integer cpuTrainLimit) {
        Recipe withAugmentation(Augmentation a) {
            return new Recipe(name, cpuEpochs, gpuEpochs, batchSize, lr, weightDecay, flatten, a, cpuTrainLimit);
        }
    }

    private ImageClassification() {
    }

    /** Writes a sample's own pictures from the trained model (e.g. attention maps) into the output folder. */
    @FunctionalInterface
    interface Extra {
        void write(Module model, Dataset test, DataLoader testLoader, RunFolder out) throws IOException;
    }

    /**
     * Checks the flags and decides the architecture's source: the {@code --resume} checkpoint of {@code sample}
     * if given. Call first; the sample then reads its architecture settings through the result.
     */
    static Architecture architecture(String sample, TrainOptions o, DataOptions dataOptions) {
        o.validate();
        dataOptions.validate(o);
        return new Architecture(o.resumeMetadata(sample));
    }

    static int run(String sample, Recipe recipe, TrainOptions o, DataOptions dataOptions, Architecture arch,
                   Function<Random, Module> build) throws IOException {
        return run(sample, recipe, o, dataOptions, arch, build, null);
    }

    static int run(String sample, Recipe recipe, TrainOptions o, DataOptions dataOptions, Architecture arch,
                   Function<Random, Module> build, Extra extra) throws IOException {
        long started = System.nanoTime();
        Device device = o.device();
        o.checkCudaGraph(device);
        TrainPrecision precision = o.evalOnly ? TrainPrecision.FP32 : o.precision(arch);
        RunFolder out = o.outputFolder(sample);
        FashionMnist data = dataOptions.load();
        Dataset train = data.train(), test = data.test();
        Integer limit = arch.training("--train-limit", dataOptions.trainLimit, device.isCuda() ? null : recipe.cpuTrainLimit(),
                Integer::valueOf);
        if (limit != null && limit < train.size()) {
            train = train.subset(0, limit);
        }
        // Not a flag: the data itself. The position a resumed run continues from means nothing in other data.
        int trainImages = arch.training("train_images", null, train.size(), Integer::valueOf);
        if (trainImages != train.size()) {
            throw UserError.runtime("--data", dataOptions.data != null ? dataOptions.data : "Fashion-MNIST", "has "
                    + train.size() + " training images to use, the --resume checkpoint's run had " + trainImages
                    + "; resume with the data that run started with", null);
        }
        int epochs = o.evalOnly ? 0 : arch.plan("--epochs", dataOptions.epochs, device.isCuda() ? recipe.gpuEpochs() : recipe.cpuEpochs());
        int batchSize = o.batchSize(arch, recipe.batchSize());
        float lr = o.lr(arch, recipe.lr());
        long seed = o.seed(arch);

        try (Module model = build.apply(new Random(seed))) {
            model.to(device);
            System.out.printf(Locale.ROOT, "Model: %,d parameters%n", model.parameters().stream().mapToLong(Tensor::numel).sum());
            DataLoader trainLoader = DataLoader.builder(train).device(device).batchSize(batchSize).shuffle(true)
                    .seed(seed).flatten(recipe.flatten()).normalize(MEAN, STD).augmentation(recipe.augmentation()).build();
            DataLoader testLoader = DataLoader.builder(test).device(device).batchSize(1000).shuffle(false)
                    .flatten(recipe.flatten()).normalize(MEAN, STD).build();
            int perEpoch = trainLoader.batchesPerEpoch();
            int planned = o.steps != null ? (int) Math.min(o.steps, (long) epochs * perEpoch) : epochs * perEpoch;
            if (o.evalOnly) {
                Checkpoints.loadWeights(model, o.resume);
                System.out.printf(Locale.ROOT, "%s: evaluating %s on %,d test images%n", recipe.name(), o.resume, test.size());
                Evaluation eval = evaluate(model, testLoader, test.numClasses());
                ImageArtifacts.evaluation(out, sample, o, device, arch, eval, test.classNames());
                if (extra != null) {
                    extra.write(model, test, testLoader, out);
                }
                return finish(out, eval);
            }
            if (perEpoch == 0) {
                throw UserError.usage("--batch-size", batchSize, "leaves no full batch in the " + train.size() + " training images");
            }
            System.out.printf(Locale.ROOT, "%s on Fashion-MNIST: %,d training / %,d test images; %s, batch %d, lr %s, %s%n",
                    recipe.name(), train.size(), test.size(), ImageArtifacts.plan(planned, perEpoch), batchSize, lr, precision);
            System.out.println("Output: " + out.dir());

            ImageArtifacts.Curves curves = new ImageArtifacts.Curves(perEpoch);
            if (o.resume != null) {
                SavedCurves.restore(arch, curves.byName());
            }
            Evaluation eval = null;
            int step;
            LrSchedule schedule = LrSchedule.cosine(lr, Math.max(1, epochs), lr / 100);
            try (Adam opt = Adam.adamW(model.parameters(), lr, recipe.weightDecay());
                 PrecisionStep amp = new PrecisionStep(precision, opt);
                 TrainingSteps steps = new TrainingSteps(model, opt, device, o.cudaGraph, precision, amp)) {
                Checkpoint.Progress from = o.resume == null ? new Checkpoint.Progress(0, 0, 0)
                        : Checkpoints.resume(model, opt, amp.scaler(), o.resume);
                if (from.step() >= planned) {
                    throw UserError.usage(o.steps != null ? "--steps" : "--epochs", o.steps != null ? o.steps : epochs,
                            "is already reached: the --resume checkpoint has trained " + from.step() + " steps (" + perEpoch
                            + " per epoch); pass a larger value to train further");
                }
                step = (int) from.step();
                for (int epoch = from.epoch(); epoch < epochs && step < planned; epoch++) {
                    opt.setLr(schedule.lr(epoch));
                    steps.newEpoch();
                    model.train(true);
                    long correct = 0, seen = 0;
                    int batchInEpoch = epoch == from.epoch() ? from.batchInEpoch() : 0;
                    // --steps may end the run inside an earlier epoch than the schedule's last: count the epochs that run.
                    String label = String.format(Locale.ROOT, "epoch %d/%d", epoch + 1, Math.ceilDiv(planned, perEpoch));
                    long images = trainLoader.samplesPerEpoch() - (long) batchInEpoch * batchSize;
                    try (ProgressBar bar = new ProgressBar(label, images, "img");
                         DataLoader.Epoch batches = trainLoader.epoch(epoch, batchInEpoch)) {
                        for (DataLoader.Batch batch : batches) {
                            try (batch) {
                                // Reading values syncs the GPU: only every few steps (and for the epoch's accuracy).
                                boolean read = (step + 1) % 10 == 1 || !device.isCuda();
                                TrainingSteps.Read r = steps.step(batch, read);
                                step++;
                                batchInEpoch++;
                                double lossValue = Double.NaN;
                                if (read) {
                                    lossValue = r.loss();
                                    curves.trainLoss(step, lossValue);
                                    correct += countCorrect(r.logits(), batch.labels());
                                    seen += batch.size();
                                }
                                bar.advance(batch.size(), lossValue);
                            }
                            if (step >= planned) {
                                break;
                            }
                        }
                    }
                    eval = evaluate(model, testLoader, test.numClasses());
                    double trainAccuracy = seen == 0 ? Double.NaN : (double) correct / seen;
                    curves.evaluation(step, trainAccuracy, eval);
                    System.out.printf(Locale.ROOT, "epoch %d: train accuracy %.4f, test loss %.4f, test accuracy %.4f%n",
                            epoch + 1, trainAccuracy, eval.loss(), eval.accuracy());
                    Checkpoint.Progress at = batchInEpoch == perEpoch ? new Checkpoint.Progress(epoch + 1, 0, step)
                            : new Checkpoint.Progress(epoch, batchInEpoch, step);
                    Map<String, String> metadata = arch.trainingMetadata(sample);
                    SavedCurves.save(metadata, curves.byName());
                    Checkpoints.saveTraining(out, model, opt, amp.scaler(), at, metadata);
                }
            }
            var run = new ImageArtifacts.Run(sample, device, precision, arch, train.size(), batchSize, lr, recipe.weightDecay(), seed,
                    step, (System.nanoTime() - started) / 1e9);
            ImageArtifacts.training(out, run, model, curves, eval, test.classNames());
            if (extra != null) {
                extra.write(model, test, testLoader, out);
            }
            return finish(out, eval);
        }
    }

    private static int finish(RunFolder out, Evaluation eval) {
        System.out.println(out.summary());
        System.out.printf(Locale.ROOT, "test_accuracy=%.4f%n", eval.accuracy());
        return 0;
    }

    record Evaluation(double accuracy, double loss, int[][] confusion) {
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
}
