package io.jdl.samples;

import io.jdl.device.Device;
import io.jdl.data.CharDataset;
import io.jdl.samples.cli.MetricsJson;
import io.jdl.samples.cli.UserError;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The text branch of {@code baseline}: the {@code charlm} sample's causal character transformer, trained into
 * the run folder's {@code charlm/} subfolder (its curves, generated text and checkpoint), judged against a
 * unigram model (each character's training frequency, add-one smoothed) on the same validation part. The split
 * is charlm's: the first 90% of the text trains, the rest validates, since shuffled windows of one text would
 * overlap across the split. Both losses are in nats per character.
 */
final class BaselineText {
    private static final Pattern VAL_LOSS = Pattern.compile("\"val_loss\": ([-0-9.eE+]+)");

    private BaselineText() {
    }

    static int run(Path text, double validation, int steps, long seed, Device device, RunFolder run) throws IOException {
        UserError.atLeast("--steps", steps, 1);
        if (Math.abs(validation - (1 - TextCorpus.TRAIN_FRACTION)) > 1e-9) {
            System.out.println("text: the validation part is the text's last 10% (charlm's split), not --validation " + validation);
        }
        CharDataset chars = TextCorpus.load(text).data();
        double unigram = unigramLoss(chars);
        Path charlm = run.file("charlm");
        int code = new picocli.CommandLine(new CharLmSample()).setExecutionExceptionHandler((e, cli, parsed) -> {
            throw e;
        }).execute("--text", text.toString(), "--steps", String.valueOf(steps), "--seed", String.valueOf(seed),
                "--device", device.isCuda() ? "cuda:" + device.index() : "cpu", "--out", charlm.toString(), "--generate", "200");
        if (code != 0) {
            throw UserError.runtime("the character model's training failed (exit code " + code + ")", null);
        }
        Matcher m = VAL_LOSS.matcher(Files.readString(charlm.resolve("metrics.json")));
        if (!m.find()) {
            throw new IllegalStateException(charlm.resolve("metrics.json") + " has no val_loss");
        }
        double model = Double.parseDouble(m.group(1));
        boolean learned = model < unigram;
        System.out.printf(Locale.ROOT, "validation loss %.4f nats/char against %.4f for the unigram model: %s%n", model, unigram,
                learned ? "the model learned something" : "no better than the trivial reference");
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("modality", "text");
        metrics.put("task", "character language model");
        metrics.put("validation_loss", model);
        metrics.put("reference_loss", unigram);
        metrics.put("beats_reference", learned);
        metrics.put("steps", steps);
        MetricsJson.write(run.file("metrics.json"), metrics);
        run.wrote("charlm");
        run.wrote("metrics.json");
        System.out.println(run.summary());
        return 0;
    }

    /** Cross-entropy in nats/char of the training part's character frequencies (add-one smoothed) on the validation part. */
    static double unigramLoss(CharDataset chars) {
        double[] counts = new double[chars.vocabSize()];
        java.util.Arrays.fill(counts, 1);
        for (int id : chars.trainIds()) {
            counts[id]++;
        }
        double total = chars.trainLength() + chars.vocabSize(), loss = 0;
        for (int id : chars.validationIds()) {
            loss -= Math.log(counts[id] / total);
        }
        return loss / chars.validationLength();
    }
}
