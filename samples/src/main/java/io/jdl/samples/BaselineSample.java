package io.jdl.samples;

import io.jdl.autograd.Autograd;
import io.jdl.autograd.NoGrad;
import io.jdl.device.Device;
import io.jdl.data.DataFormatException;
import io.jdl.data.DataLoader;
import io.jdl.data.DataSource;
import io.jdl.nn.Activations;
import io.jdl.nn.Conv2d;
import io.jdl.nn.Linear;
import io.jdl.nn.Mlp;
import io.jdl.nn.Module;
import io.jdl.nn.Pool2d;
import io.jdl.nn.Sequential;
import io.jdl.optim.Adam;
import io.jdl.samples.cli.MetricsJson;
import io.jdl.samples.cli.UserError;
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
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The course's second lab, "a first baseline on your modality": points at the user's data, finds its modality
 * ({@link BaselineData#detect}), trains the matching small model with early stopping on the validation metric,
 * and reports that metric beside a trivial reference (majority class, mean predictor, unigram model), so that
 * the user knows whether the model learned anything. Text is handed to {@link BaselineText}.
 */
@Command(name = "baseline", mixinStandardHelpOptions = true,
        description = "A first baseline on your data: a CSV/TSV table, a folder of class subfolders of images, or a text file",
        footer = "%nTrains in float32 only, without --precision (which mlp, cnn, vit and charlm take): a baseline is"
                + " the plain float32 reference that other runs are measured against.")
final class BaselineSample implements Callable<Integer> {
    @Option(names = "--data", required = true, description = "a .csv/.tsv table, a folder of class subfolders of images, or a UTF-8 text file")
    Path data;

    @Option(names = "--target", description = "the table's target column (default: its last column)")
    String target;

    @Option(names = "--validation", defaultValue = "0.2", description = "fraction held out for validation (default: ${DEFAULT-VALUE})")
    double validation;

    @Option(names = "--epochs", defaultValue = "100", description = "most passes over the training data (default: ${DEFAULT-VALUE})")
    int epochs;

    @Option(names = "--patience", defaultValue = "8", description = "stop after this many epochs without a better validation"
            + " metric (default: ${DEFAULT-VALUE})")
    int patience;

    @Option(names = "--image-size", defaultValue = "32", description = "images are resized to this many pixels square (default: ${DEFAULT-VALUE})")
    int imageSize;

    @Option(names = "--steps", defaultValue = "300", description = "text only: training steps of the character model (default: ${DEFAULT-VALUE})")
    int textSteps;

    @Option(names = "--seed", defaultValue = "0", description = "seed for the split, initialisation and shuffling (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--device", description = "cuda, cuda:N or cpu (default: cuda when a usable GPU exists, else cpu)")
    String deviceName;

    @Mixin
    OutputOptions output;

    static final int BATCH = 32, HIDDEN = 64;
    static final float LR = 3e-3f;

    @Override
    public Integer call() throws Exception {
        UserError.atLeast("--epochs", epochs, 1);
        UserError.atLeast("--patience", patience, 1);
        UserError.atLeast("--image-size", imageSize, 4);
        if (!(validation > 0 && validation < 1)) {
            throw UserError.usage("--validation", validation, "must be a fraction between 0 and 1");
        }
        if (!Files.exists(data)) {
            throw UserError.runtime("--data", data, "does not exist", null);
        }
        BaselineData.Modality modality = BaselineData.detect(data);
        RunFolder run = output.open("baseline", false);
        Device device = GpuReport.choose("--device", deviceName);
        if (modality == BaselineData.Modality.TEXT) {
            return BaselineText.run(data, validation, textSteps, seed, device, run);
        }
        BaselineData split;
        try {
            split = modality == BaselineData.Modality.TABLE ? BaselineData.table(data, target, validation, seed)
                    : BaselineData.images(data, imageSize, validation, seed);
        } catch (DataFormatException | IllegalArgumentException e) {
            throw UserError.runtime(e.getMessage(), e);
        }
        System.out.printf("%s: %s, %d training and %d validation samples, %s%n", data, modality.name().toLowerCase(Locale.ROOT),
                split.train().size(), split.validation().size(),
                split.classification() ? split.classNames().size() + " classes" : "regression");
        Random rng = new Random(seed);
        try (Module model = model(split, rng)) {
            model.to(device);
            return train(split, model, device, run);
        }
    }

    /** An MLP for a table; for images two conv-ReLU-maxpool stages and a linear classifier. */
    static Module model(BaselineData d, Random rng) {
        int outputs = d.classification() ? d.classNames().size() : 1;
        if (d.modality() == BaselineData.Modality.TABLE) {
            return Mlp.of(rng, Activations::relu, d.train().inputSize(), HIDDEN, HIDDEN, outputs);
        }
        int[] chw = d.train().inputShape(), side = {chw[1] / 4, chw[2] / 4};
        return new Sequential(new Conv2d(chw[0], 16, 3, 1, rng), Activations.relu(), Pool2d.max(2),
                new Conv2d(16, 32, 3, 1, rng), Activations.relu(), Pool2d.max(2), Activations.flatten(),
                new Linear(32 * side[0] * side[1], outputs, rng));
    }

    /** Trains with Adam until the validation metric has not improved for --patience epochs; keeps the best weights. */
    private int train(BaselineData d, Module model, Device device, RunFolder run) throws IOException {
        DataLoader.Builder common = DataLoader.builder(d.train()).batchSize(BATCH).device(device);
        if (d.channelMean() != null) {
            common.normalize(d.channelMean(), d.channelStd());
        }
        DataLoader train = common.shuffle(true).seed(seed).build();
        DataLoader.Builder val = DataLoader.builder(d.validation()).batchSize(256).device(device);
        if (d.channelMean() != null) {
            val.normalize(d.channelMean(), d.channelStd());
        }
        DataLoader validation = val.build();
        String metricName = d.classification() ? "accuracy" : "rmse";
        Evaluation reference = Evaluation.reference(d);
        List<Double> trainLoss = new ArrayList<>(), valLoss = new ArrayList<>(), valMetric = new ArrayList<>();
        Evaluation best = null;
        int bestEpoch = 0;
        try (Adam adam = Adam.builder().lr(LR).build(model.parameters())) {
            for (int epoch = 1; epoch <= epochs && epoch - bestEpoch <= patience; epoch++) {
                model.train(true);
                double sum = 0;
                int count = 0;
                try (DataLoader.Epoch batches = train.epoch(epoch)) {
                    for (DataLoader.Batch batch : batches) {
                        try (batch; Tensor y = model.forward(batch.inputs()); Tensor loss = lossOf(d, y, batch)) {
                            adam.zeroGrad();
                            loss.backward();
                            adam.step();
                            sum += loss.item() * batch.size();
                            count += batch.size();
                        }
                    }
                }
                Evaluation e = Evaluation.of(d, model, validation);
                trainLoss.add(sum / count);
                valLoss.add(e.loss());
                valMetric.add(e.metric());
                if (best == null || e.betterThan(best)) {
                    best = e;
                    bestEpoch = epoch;
                    Checkpoints.saveModel(run, model, Map.of(Checkpoints.SAMPLE, "baseline", "modality", d.modality().name(),
                            "epoch", String.valueOf(epoch)));
                }
                System.out.printf(Locale.ROOT, "epoch %3d  train loss %.4f  validation loss %.4f  validation %s %.4f%n",
                        epoch, sum / count, e.loss(), metricName, e.metric());
            }
        }
        boolean learned = best.betterThan(reference);
        String line = String.format(Locale.ROOT, "validation %s %.4f (best, epoch %d) against %.4f for the %s: %s", metricName,
                best.metric(), bestEpoch, reference.metric(), d.classification() ? "majority class" : "mean predictor",
                learned ? "the model learned something" : "no better than the trivial reference");
        System.out.println(line);
        artifacts(d, run, metricName, reference, trainLoss, valLoss, valMetric, best);
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("modality", d.modality().name().toLowerCase(Locale.ROOT));
        metrics.put("task", d.classification() ? "classification" : "regression");
        metrics.put("validation_" + metricName, best.metric());
        metrics.put("reference_" + metricName, reference.metric());
        metrics.put("best_epoch", bestEpoch);
        metrics.put("epochs_run", valMetric.size());
        metrics.put("beats_reference", learned);
        metrics.put("validation_" + metricName + "_per_epoch", valMetric);
        MetricsJson.write(run.file("metrics.json"), metrics);
        run.wrote("metrics.json");
        System.out.println(run.summary());
        return 0;
    }

    static Tensor lossOf(BaselineData d, Tensor y, DataLoader.Batch batch) {
        return d.classification() ? y.crossEntropy(batch.labels()) : y.mse(batch.targets());
    }

    private static void artifacts(BaselineData d, RunFolder run, String metricName, Evaluation reference, List<Double> trainLoss,
                                  List<Double> valLoss, List<Double> valMetric, Evaluation best) throws IOException {
        String lossName = d.classification() ? "cross-entropy" : "squared error (standardised target)";
        Charts.lines(run.file("loss.png"), "Loss", "epoch", lossName,
                List.of(Charts.Series.of("train", unbox(trainLoss)), Charts.Series.of("validation", unbox(valLoss))));
        run.wrote("loss.png");
        double[] flat = new double[valMetric.size()];
        java.util.Arrays.fill(flat, reference.metric());
        Charts.lines(run.file(metricName + ".png"), "Validation " + metricName, "epoch", metricName,
                List.of(Charts.Series.of("model", unbox(valMetric)),
                        Charts.Series.of(d.classification() ? "majority class" : "mean predictor", flat)));
        run.wrote(metricName + ".png");
        if (d.classification()) {
            Charts.confusionMatrix(run.file("confusion.png"), best.confusion(), d.classNames());
            run.wrote("confusion.png");
        }
    }

    private static double[] unbox(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).toArray();
    }

    /** A validation result: mean loss, the metric (accuracy, or RMSE in the target's units) and, for classes, the confusion counts. */
    record Evaluation(double loss, double metric, boolean higherIsBetter, int[][] confusion) {
        boolean betterThan(Evaluation other) {
            return higherIsBetter ? metric > other.metric : metric < other.metric;
        }

        static Evaluation of(BaselineData d, Module model, DataLoader validation) {
            model.eval();
            int k = d.classNames().size();
            int[][] confusion = new int[k][k];
            double loss = 0, squared = 0;
            int right = 0, n = 0;
            try (NoGrad ignored = Autograd.noGrad(); DataLoader.Epoch batches = validation.epoch(0)) {
                for (DataLoader.Batch batch : batches) {
                    try (batch; Tensor y = model.forward(batch.inputs()); Tensor l = lossOf(d, y, batch)) {
                        loss += l.item() * batch.size();
                        n += batch.size();
                        float[] out = y.toArray();
                        if (d.classification()) {
                            for (int i = 0; i < batch.size(); i++) {
                                int predicted = argmax(out, i * k, k), actual = batch.labels()[i];
                                confusion[actual][predicted]++;
                                right += predicted == actual ? 1 : 0;
                            }
                        } else {
                            squared += l.item() * batch.size() * d.targetStd() * d.targetStd();
                        }
                    }
                }
            }
            return d.classification() ? new Evaluation(loss / n, (double) right / n, true, confusion)
                    : new Evaluation(loss / n, Math.sqrt(squared / n), false, null);
        }

        /** The trivial reference: always the training set's most frequent class, or always its mean target. */
        static Evaluation reference(BaselineData d) {
            DataSource train = d.train(), val = d.validation();
            if (d.classification()) {
                int k = d.classNames().size();
                int[] counts = new int[k];
                for (int i = 0; i < train.size(); i++) {
                    counts[train.label(i)]++;
                }
                int majority = argmax(counts), right = 0;
                for (int i = 0; i < val.size(); i++) {
                    right += val.label(i) == majority ? 1 : 0;
                }
                return new Evaluation(Double.NaN, (double) right / val.size(), true, null);
            }
            // Standardised targets have training mean 0: the mean predictor's error is the validation target itself.
            float[] t = new float[1];
            double squared = 0;
            for (int i = 0; i < val.size(); i++) {
                val.target(i, t, 0);
                squared += (double) t[0] * t[0] * d.targetStd() * d.targetStd();
            }
            return new Evaluation(Double.NaN, Math.sqrt(squared / val.size()), false, null);
        }

        private static int argmax(float[] v, int from, int n) {
            int best = 0;
            for (int j = 1; j < n; j++) {
                best = v[from + j] > v[from + best] ? j : best;
            }
            return best;
        }

        private static int argmax(int[] v) {
            int best = 0;
            for (int j = 1; j < v.length; j++) {
                best = v[j] > v[best] ? j : best;
            }
            return best;
        }
    }
}
