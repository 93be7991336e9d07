package io.jdl.samples;

import io.jdl.device.Device;
import io.jdl.nn.Module;
import io.jdl.samples.ImageClassification.Evaluation;
import io.jdl.samples.cli.MetricsJson;
import io.jdl.samples.viz.Charts;
import io.jdl.samples.viz.Charts.Series;
import io.jdl.tensor.Tensor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * What an image classifier's run leaves in its {@link RunFolder}: during training the training state (see
 * {@link Checkpoints}), after it the model's checkpoint first (the model must survive a failing plot), then
 * {@code metrics.json}, then the pictures; after {@code --eval-only} only {@code evaluation.json} and
 * {@code confusion.png}.
 */
final class ImageArtifacts {
    private ImageArtifacts() {
    }

    /** The training side of a run, as {@code metrics.json} reports it. */
    record Run(String sample, Device device, TrainPrecision precision, Architecture arch, int trainImages, int batchSize,
               float lr, float weightDecay, long seed, int steps, double wallSeconds) {
    }

    /** Training loss at the steps where it was read, and each evaluation at the step where it happened. */
    static final class Curves {
        private final int stepsPerEpoch;
        private final List<double[]> trainLoss = new ArrayList<>(); // (step, loss)
        private final List<double[]> evaluations = new ArrayList<>(); // (step, train accuracy, test loss, test accuracy)

        Curves(int stepsPerEpoch) {
            this.stepsPerEpoch = stepsPerEpoch;
        }

        void trainLoss(int step, double loss) {
            trainLoss.add(new double[] {step, loss});
        }

        void evaluation(int step, double trainAccuracy, Evaluation eval) {
            evaluations.add(new double[] {step, trainAccuracy, eval.loss(), eval.accuracy()});
        }

        /** The curves by name, for {@link SavedCurves}. */
        Map<String, List<double[]>> byName() {
            return Map.of("train_loss", trainLoss, "evaluations", evaluations);
        }

        private double[] column(List<double[]> rows, int c) {
            return rows.stream().mapToDouble(r -> r[c]).toArray();
        }

        /** Epochs (possibly fractional, after {@code --steps}) at which the evaluations happened. */
        private double[] evaluationEpochs() {
            return evaluations.stream().mapToDouble(r -> r[0] / stepsPerEpoch).toArray();
        }
    }

    /** "8 epochs of 469 steps (3,752 steps)" or "50 steps (0.11 of an epoch of 469 steps)". */
    static String plan(int steps, int perEpoch) {
        if (steps % perEpoch == 0) {
            int epochs = steps / perEpoch;
            return String.format(Locale.ROOT, "%d epoch%s of %,d steps (%,d steps)", epochs, epochs == 1 ? "" : "s", perEpoch, steps);
        }
        return String.format(Locale.ROOT, "%,d step%s (%.2f epochs of %,d steps)", steps, steps == 1 ? "" : "s",
                (double) steps / perEpoch, perEpoch);
    }

    static void training(RunFolder out, Run run, Module model, Curves curves, Evaluation eval, List<String> classNames)
            throws IOException {
        Map<String, String> meta = run.arch().metadata(run.sample());
        meta.put("test_accuracy", String.format(Locale.ROOT, "%.4f", eval.accuracy()));
        meta.put("steps", Integer.toString(run.steps()));
        meta.put("seed", Long.toString(run.seed()));
        Checkpoints.saveModel(out, model, meta);

        double[] steps = curves.column(curves.evaluations, 0);
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("sample", run.sample());
        metrics.put("device", run.device().toString());
        metrics.put("precision", run.precision().toString());
        metrics.put("architecture", run.arch().settings());
        metrics.put("train_images", run.trainImages());
        metrics.put("batch_size", run.batchSize());
        metrics.put("lr", run.lr());
        metrics.put("weight_decay", run.weightDecay());
        metrics.put("seed", run.seed());
        metrics.put("steps_run", run.steps());
        metrics.put("epochs_run", (double) run.steps() / curves.stepsPerEpoch);
        metrics.put("steps_per_epoch", curves.stepsPerEpoch);
        metrics.put("wall_seconds", Math.round(run.wallSeconds() * 10) / 10.0);
        metrics.put("test_accuracy", eval.accuracy());
        metrics.put("test_loss", eval.loss());
        metrics.put("eval_steps", steps);
        metrics.put("train_accuracy_per_eval", curves.column(curves.evaluations, 1));
        metrics.put("test_loss_per_eval", curves.column(curves.evaluations, 2));
        metrics.put("test_accuracy_per_eval", curves.column(curves.evaluations, 3));
        MetricsJson.write(out.file("metrics.json"), metrics);
        out.wrote("metrics.json");

        Charts.lossAndAccuracy(out.dir(),
                new Series("train (per step)", curves.column(curves.trainLoss, 0), curves.column(curves.trainLoss, 1)),
                new Series("test (after each epoch)", steps, curves.column(curves.evaluations, 2)),
                new Series("train", curves.evaluationEpochs(), curves.column(curves.evaluations, 1)),
                new Series("test", curves.evaluationEpochs(), curves.column(curves.evaluations, 3)));
        out.wrote("loss.png");
        out.wrote("accuracy.png");
        confusion(out, eval, classNames);
        Optional<Tensor> kernels = firstConvKernels(model);
        if (kernels.isPresent()) {
            int[] d = kernels.get().shape().dims(); // [K, C, R, S]
            Charts.imageGrid(out.file("conv1_kernels.png"), String.format(Locale.ROOT,
                    "First convolution: %d kernels of %dx%d", d[0], d[2], d[3]), kernels.get().toArray(), d[0], d[1], d[2], d[3]);
            out.wrote("conv1_kernels.png");
        }
    }

    /** After {@code --eval-only}: the evaluation's numbers and its confusion matrix, nothing else. */
    static void evaluation(RunFolder out, String sample, TrainOptions o, Device device, Architecture arch, Evaluation eval,
                           List<String> classNames) throws IOException {
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("sample", sample);
        metrics.put("checkpoint", o.resume.toAbsolutePath().normalize().toString());
        metrics.put("device", device.toString());
        metrics.put("architecture", arch.settings());
        metrics.put("test_accuracy", eval.accuracy());
        metrics.put("test_loss", eval.loss());
        MetricsJson.write(out.file("evaluation.json"), metrics);
        out.wrote("evaluation.json");
        confusion(out, eval, classNames);
    }

    private static void confusion(RunFolder out, Evaluation eval, List<String> classNames) throws IOException {
        Charts.confusionMatrix(out.file("confusion.png"), eval.confusion(), classNames);
        out.wrote("confusion.png");
    }

    /** The weights [K, C, R, S] of the first 4-d parameter (the first convolution), if the model has one. */
    private static Optional<Tensor> firstConvKernels(Module model) {
        return model.namedParameters().values().stream().filter(t -> t.shape().rank() == 4).findFirst();
    }
}
