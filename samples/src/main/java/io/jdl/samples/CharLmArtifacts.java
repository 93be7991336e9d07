package io.jdl.samples;

import io.jdl.device.Device;
import io.jdl.nn.Module;
import io.jdl.samples.CharLmSample.Curves;
import io.jdl.samples.cli.MetricsJson;
import io.jdl.samples.viz.Charts;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a {@code charlm} run leaves in its {@link RunFolder}: during training the training state (see
 * {@link Checkpoints}), after it the model's checkpoint first, then
 * {@code metrics.json} and {@code loss.png}; after {@code --eval-only} only {@code evaluation.json}. Both
 * also get the attention map, drawn by the sample.
 */
final class CharLmArtifacts {
    /** Metadata key of the characters the model knows, in id order: a checkpoint decodes without its text. */
    static final String VOCABULARY = "vocabulary";

    private CharLmArtifacts() {
    }

    record Run(String name, Device device, TrainPrecision precision, Architecture arch, String text, int batch, int steps, float lr, long seed,
               double wallSeconds) {
    }

    static void training(RunFolder out, Run run, Module model, String vocabulary, Curves curves, double valLoss)
            throws IOException {
        Map<String, String> meta = run.arch().metadata("charlm");
        meta.put(VOCABULARY, vocabulary);
        meta.put("val_loss", String.format(Locale.ROOT, "%.4f", valLoss));
        meta.put("steps", Integer.toString(run.steps()));
        meta.put("seed", Long.toString(run.seed()));
        Checkpoints.saveModel(out, model, meta);

        Map<String, Object> metrics = common(run, valLoss);
        metrics.put("batch_size", run.batch());
        metrics.put("lr", run.lr());
        metrics.put("seed", run.seed());
        metrics.put("steps_run", run.steps());
        metrics.put("wall_seconds", Math.round(run.wallSeconds() * 10) / 10.0);
        metrics.put("validation_steps", column(curves.validation(), 0));
        metrics.put("validation_loss", column(curves.validation(), 1));
        MetricsJson.write(out.file("metrics.json"), metrics);
        out.wrote("metrics.json");

        List<Charts.Series> series = new ArrayList<>();
        series.add(new Charts.Series("train", column(curves.train(), 0), column(curves.train(), 1)));
        series.add(new Charts.Series("validation", column(curves.validation(), 0), column(curves.validation(), 1)));
        Charts.lines(out.file("loss.png"), "Loss (nats/char)", "optimizer step", "loss", series);
        out.wrote("loss.png");
    }

    static void evaluation(RunFolder out, Run run, Path checkpoint, double valLoss) throws IOException {
        Map<String, Object> metrics = common(run, valLoss);
        metrics.put("checkpoint", checkpoint.toAbsolutePath().normalize().toString());
        MetricsJson.write(out.file("evaluation.json"), metrics);
        out.wrote("evaluation.json");
    }

    private static Map<String, Object> common(Run run, double valLoss) {
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("sample", run.name());
        metrics.put("device", run.device().toString());
        metrics.put("precision", run.precision().toString());
        metrics.put("architecture", run.arch().settings());
        metrics.put("text", run.text());
        metrics.put("val_loss", valLoss);
        return metrics;
    }

    private static double[] column(List<double[]> rows, int c) {
        return rows.stream().mapToDouble(r -> r[c]).toArray();
    }
}
