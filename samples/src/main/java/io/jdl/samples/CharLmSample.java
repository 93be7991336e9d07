package io.jdl.samples;

import io.jdl.autograd.Autograd;
import io.jdl.autograd.NoGrad;
import io.jdl.device.Device;
import io.jdl.data.CharDataset;
import io.jdl.data.CharDataset.Split;
import io.jdl.data.CharDataset.Windows;
import io.jdl.data.MaskedLm;
import io.jdl.io.Checkpoint;
import io.jdl.nn.Transformer;
import io.jdl.optim.Adam;
import io.jdl.optim.LrSchedule;
import io.jdl.samples.cli.ProgressBar;
import io.jdl.samples.cli.UserError;
import io.jdl.samples.viz.Charts;
import io.jdl.tensor.Autocast;
import io.jdl.tensor.Tensor;
import io.jdl.tensor.TensorScope;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A character-level transformer on any UTF-8 text. By default a decoder-only causal model that learns
 * to predict the next character and then writes text from a prompt; with {@code --mlm} a bidirectional
 * model trained by masked language modelling that fills in hidden characters. Reports the validation
 * loss in nats per character and ends with {@code val_loss=X.XXXX}.
 */
@Command(name = "charlm", mixinStandardHelpOptions = true,
        description = "Character-level transformer on a text file: causal language model, or --mlm masked model")
final class CharLmSample implements Callable<Integer>, SampleHelp.Defaults {
    @Mixin
    TrainOptions options;

    @Option(names = "--text", description = "UTF-8 text file to learn (default: Shakespeare, 1.1 MB, bundled with the samples)")
    Path text;

    @Option(names = "--mlm", description = "train a bidirectional masked language model instead of a causal one")
    Boolean mlm;

    @Option(names = "--context", description = "characters per window (default: 256 on a GPU, 64 on the CPU)")
    Integer context;

    @Option(names = "--dim", description = "model width (default: 384 on a GPU, 96 on the CPU)")
    Integer dim;

    @Option(names = "--layers", description = "transformer blocks (default: 6 on a GPU, 2 on the CPU)")
    Integer layers;

    @Option(names = "--heads", description = "attention heads (default: 6 on a GPU, 4 on the CPU)")
    Integer heads;

    @Option(names = "--eval-every", description = "steps between validation losses, each followed by saving the training"
            + " state (default: a tenth of the run)")
    Integer evalEvery;

    @Option(names = "--stop-after", description = "end this run after this many of the --steps in all, saving the training"
            + " state; the learning-rate schedule still spans --steps, so --resume continues the run as if never stopped")
    Integer stopAfter;

    @Option(names = "--prompt", description = "text to continue after training (default: ROMEO: where the text has those"
            + " characters, else its first line)")
    String prompt;

    @Option(names = "--generate", defaultValue = "300", description = "characters to generate (default: ${DEFAULT-VALUE})")
    int generate;

    @Option(names = "--temperature", defaultValue = "0.8", description = "sampling temperature (default: ${DEFAULT-VALUE})")
    double temperature;

    static final int CPU_STEPS = 400, GPU_STEPS = 5000, CPU_BATCH = 16, GPU_BATCH = 64;
    static final float LR = 1e-3f;

    private Device device;
    private TrainPrecision precision;
    private CharDataset data;
    private Transformer model;
    private boolean masked;
    private int vocab, maskId, ctx, batch;
    private long seed;

    @Override
    public Map<String, String> defaultsHelp() {
        return Map.of("--steps", SampleHelp.perDevice(CPU_STEPS, GPU_STEPS), "--batch-size", SampleHelp.perDevice(CPU_BATCH, GPU_BATCH),
                "--lr", String.valueOf(LR));
    }

    @Override
    public Integer call() throws Exception {
        long started = System.nanoTime();
        options.validate();
        options.refuseCudaGraph("charlm", "uploads new token ids every step");
        if (generate < 0) {
            throw UserError.usage("--generate", generate, "must be at least 0");
        }
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw UserError.usage("--temperature", temperature, "must be a number above 0");
        }
        Architecture arch = new Architecture(options.resumeMetadata("charlm"));
        boolean gpu = options.onGpu();
        masked = arch.flag("--mlm", mlm);
        ctx = arch.integer("--context", context, gpu ? 256 : 64, 2);
        int h = arch.integer("--heads", heads, gpu ? 6 : 4, 1);
        int d = arch.integer("--dim", dim, gpu ? 384 : 96, 1);
        if (d % h != 0) {
            throw UserError.usage("--dim", d, "must be a multiple of --heads " + h + " (each head gets dim/heads channels)");
        }
        int l = arch.integer("--layers", layers, gpu ? 6 : 2, 1);
        if (evalEvery != null) {
            UserError.atLeast("--eval-every", evalEvery, 1);
        }
        if (stopAfter != null) {
            UserError.atLeast("--stop-after", stopAfter, 1);
            if (options.evalOnly) {
                throw UserError.usage("--eval-only trains nothing, so --stop-after does not apply");
            }
        }
        device = options.device();
        precision = options.evalOnly ? TrainPrecision.FP32 : options.precision(arch);
        RunFolder out = options.outputFolder("charlm");
        TextCorpus.Loaded corpus = TextCorpus.load(text);
        data = corpus.data();
        checkFits(arch, options.resume);
        // Not a flag: the text itself. Its windows would differ from those of the run a resumed one continues.
        int characters = arch.training("characters", null, data.length(), Integer::valueOf);
        if (characters != data.length()) {
            throw UserError.runtime("--text", text == null ? TextCorpus.DEFAULT_NAME : text, "has " + data.length()
                    + " characters, the text of the --resume checkpoint's run had " + characters
                    + "; resume with the text that run started with", null);
        }
        String start = prompt(data);
        batch = options.batchSize(arch, gpu ? GPU_BATCH : CPU_BATCH);
        int steps = options.evalOnly ? 0 : arch.plan("--steps", options.steps, gpu ? GPU_STEPS : CPU_STEPS);
        if (stopAfter != null && stopAfter > steps) {
            throw UserError.usage("--stop-after", stopAfter, "is beyond the run's end at --steps " + steps);
        }
        int end = stopAfter != null ? stopAfter : steps;
        float lr = options.lr(arch, LR);
        seed = options.seed(arch);
        // Not a flag, but it depends on the device: a run resumed on another device keeps its start's.
        float dropout = arch.training("dropout", null, gpu ? 0.2f : 0f, Float::valueOf);
        // The masked model reads one extra token id: the mask.
        vocab = data.vocabSize() + (masked ? 1 : 0);
        maskId = data.vocabSize();
        var config = new Transformer.Config(vocab, ctx, d, h, l, dropout, false);
        String name = masked ? "charlm --mlm" : "charlm";
        if (options.evalOnly) {
            System.out.printf(Locale.ROOT, "%s: evaluating %s on %s (%,d characters, vocabulary %d), context %d%n",
                    name, options.resume, corpus.name(), data.length(), data.vocabSize(), ctx);
        } else {
            System.out.printf(Locale.ROOT, "%s on %s: %,d characters, vocabulary %d, context %d, batch %d, %,d step%s%s, lr %s, %s%n",
                    name, corpus.name(), data.length(), data.vocabSize(), ctx, batch, steps, steps == 1 ? "" : "s",
                    end < steps ? " (stopping after " + end + ")" : "", lr, precision);
            System.out.println("Output: " + out.dir());
        }

        Random init = new Random(seed);
        try (Transformer m = masked ? Transformer.encoder(config, init) : Transformer.causalLm(config, init)) {
            model = m;
            model.to(device);
            if (options.evalOnly) {
                Checkpoints.loadWeights(model, options.resume);
            }
            System.out.printf(Locale.ROOT, "Model: %s, %,d parameters%n", model,
                    model.parameters().stream().mapToLong(Tensor::numel).sum());
            Curves curves = new Curves(new ArrayList<>(), new ArrayList<>());
            if (!options.evalOnly) {
                if (options.resume != null) {
                    SavedCurves.restore(arch, curves.byName());
                }
                train(steps, end, lr, curves, out, arch.trainingMetadata("charlm"));
            }
            double valLoss = validationLoss();
            System.out.printf(Locale.ROOT, "validation loss %.4f nats/char%n", valLoss);
            if (masked) {
                showMaskedPredictions();
            } else {
                System.out.println("--- generated from \"" + start + "\" ---");
                System.out.println(generate(start, generate, new SplittableRandom(seed)));
                System.out.println("---");
            }
            var run = new CharLmArtifacts.Run(name, device, precision, arch, corpus.name(), batch, end, lr, seed,
                    (System.nanoTime() - started) / 1e9);
            if (options.evalOnly) {
                CharLmArtifacts.evaluation(out, run, options.resume, valLoss);
            } else {
                CharLmArtifacts.training(out, run, model, vocabulary(), curves, valLoss);
            }
            attentionMap(out);
            System.out.println(out.summary());
            System.out.printf(Locale.ROOT, "val_loss=%.4f%n", valLoss);
            return 0;
        }
    }

    /** A resumed model reads characters by their ids: the text must have the checkpoint's vocabulary. */
    private void checkFits(Architecture arch, Path checkpoint) {
        String saved = arch.savedText(CharLmArtifacts.VOCABULARY);
        if (saved != null && !saved.equals(vocabulary())) {
            throw UserError.runtime("--text", text == null ? TextCorpus.DEFAULT_NAME : text, "has another character set ("
                    + data.vocabSize() + " characters) than the text the --resume checkpoint " + checkpoint + " was trained on ("
                    + saved.codePointCount(0, saved.length()) + " characters)", null);
        }
        if (data.validationLength() <= ctx || data.trainLength() <= ctx) {
            throw UserError.usage("--context", ctx, "needs more text: the validation part (the last 10%) of "
                    + (text == null ? TextCorpus.DEFAULT_NAME : text) + " has only " + data.validationLength() + " characters");
        }
    }

    /** The characters the model knows, in id order, as one string. */
    private String vocabulary() {
        int[] ids = new int[data.vocabSize()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i;
        }
        return data.decode(ids);
    }

    /** The prompt to continue, checked against the vocabulary before any training. */
    private String prompt(CharDataset text) {
        if (prompt != null) {
            for (int cp : prompt.codePoints().toArray()) {
                if (java.util.Arrays.binarySearch(text.vocabulary(), cp) < 0) {
                    throw UserError.usage("--prompt", "'" + prompt + "'", "the character '" + Character.toString(cp)
                            + "' never occurs in the text, so the model cannot read it");
                }
            }
            return prompt;
        }
        String fallback = "ROMEO:";
        boolean known = fallback.codePoints().allMatch(cp -> java.util.Arrays.binarySearch(text.vocabulary(), cp) >= 0);
        if (known) {
            return fallback;
        }
        String first = text.decode(java.util.Arrays.copyOf(text.validationIds(), Math.min(20, text.validationLength())));
        int newline = first.indexOf('\n');
        return newline > 0 ? first.substring(0, newline) : first;
    }

    record Curves(List<double[]> train, List<double[]> validation) {
        /** The curves by name, for {@link SavedCurves}. */
        Map<String, List<double[]>> byName() {
            return Map.of("train_loss", train, "validation_loss", validation);
        }
    }

    /** One window batch as (inputs, targets): shifted by one (causal) or masked (MLM). */
    private int[][] example(Windows w, SplittableRandom rng) {
        if (!masked) {
            return new int[][] {w.inputs(), w.targets()};
        }
        MaskedLm.Masked masked = MaskedLm.mask(w.inputs(), maskId, data.vocabSize(), rng);
        return new int[][] {masked.inputs(), masked.targets()};
    }

    /**
     * Trains from the {@code --resume} checkpoint's step (or the first) up to step {@code end} of a run of
     * {@code steps}, saving the training state at every validation and at {@code end}.
     */
    private void train(int steps, int end, float lr, Curves curves, RunFolder out, Map<String, String> metadata)
            throws IOException {
        int every = evalEvery != null ? evalEvery : Math.max(1, steps / 10);
        int readEvery = device.isCuda() ? 10 : 1;
        SplittableRandom rng = new SplittableRandom(seed);
        LrSchedule schedule = LrSchedule.cosine(lr, steps, lr / 10);
        try (Adam opt = Adam.adamW(model.parameters(), lr, 0.1f); PrecisionStep amp = new PrecisionStep(precision, opt)) {
            int from = 0;
            if (options.resume != null) {
                from = (int) Checkpoints.resume(model, opt, amp.scaler(), options.resume).step();
                if (from >= end) {
                    throw UserError.usage(stopAfter != null ? "--stop-after" : "--steps", end, "is already reached: the"
                            + " --resume checkpoint has trained " + from + " steps; pass a larger value to train further");
                }
                // The windows and masks come from one random stream that cannot be saved: draw the ones already
                // trained on again (cheap: indices only), so that the next draws are those of an uninterrupted run.
                for (int step = 1; step <= from; step++) {
                    example(data.sample(Split.TRAIN, batch, ctx, rng), rng);
                }
            }
            try (ProgressBar bar = new ProgressBar(masked ? "mlm" : "causal", (long) (end - from) * batch * ctx, "tok")) {
                for (int step = from + 1; step <= end; step++) {
                    opt.setLr(schedule.lr(step - 1));
                    model.train(true);
                    int[][] xy = example(data.sample(Split.TRAIN, batch, ctx, rng), rng);
                    double lossValue = Double.NaN;
                    // The scope frees whatever the step makes outside the modules (autocast casts, fp16's scaled loss).
                    try (TensorScope scope = TensorScope.open(); Autocast ac = precision.autocast();
                         Tensor logits = model.forward(xy[0], batch, ctx, null);
                         Tensor loss = logits.crossEntropy(xy[1], MaskedLm.IGNORE_INDEX)) {
                        amp.backwardAndStep(loss);
                        opt.zeroGrad();
                        if (step % readEvery == 0 || step == 1) {
                            lossValue = loss.item();
                            curves.train().add(new double[] {step, lossValue});
                        }
                    }
                    bar.advance((long) batch * ctx, lossValue);
                    if (step % every == 0 || step == steps) {
                        curves.validation().add(new double[] {step, validationLoss()});
                    }
                    if (step % every == 0 || step == end) {
                        // charlm has no epochs: the step alone says where the run stands.
                        Map<String, String> withCurves = new HashMap<>(metadata);
                        SavedCurves.save(withCurves, curves.byName());
                        Checkpoints.saveTraining(out, model, opt, amp.scaler(), new Checkpoint.Progress(0, 0, step), withCurves);
                    }
                }
            }
        }
    }

    /** Mean loss per predicted character over a fixed set of validation windows (masks seeded too). */
    double validationLoss() {
        Windows all = data.sequential(Split.VALIDATION, ctx, 8 * batch);
        SplittableRandom rng = new SplittableRandom(12345);
        model.eval();
        double sum = 0;
        long count = 0;
        try (NoGrad ignored = Autograd.noGrad()) {
            for (int b0 = 0; b0 < all.batch(); b0 += batch) {
                int n = Math.min(batch, all.batch() - b0);
                int[] in = java.util.Arrays.copyOfRange(all.inputs(), b0 * ctx, (b0 + n) * ctx);
                int[] tg = java.util.Arrays.copyOfRange(all.targets(), b0 * ctx, (b0 + n) * ctx);
                int[][] xy = example(new Windows(n, ctx, in, tg), rng);
                int predicted = 0;
                for (int t : xy[1]) {
                    predicted += t == MaskedLm.IGNORE_INDEX ? 0 : 1;
                }
                if (predicted == 0) {
                    continue;
                }
                try (Tensor logits = model.forward(xy[0], n, ctx, null);
                     Tensor loss = logits.crossEntropy(xy[1], MaskedLm.IGNORE_INDEX)) {
                    sum += loss.item() * predicted;
                    count += predicted;
                }
            }
        }
        return sum / count;
    }

    /** Continues {@code start} by sampling one character at a time from the causal model. */
    String generate(String start, int n, SplittableRandom rng) {
        List<Integer> ids = new ArrayList<>();
        for (int id : data.encode(start.isEmpty() ? "\n" : start)) {
            ids.add(id);
        }
        StringBuilder text = new StringBuilder(start);
        model.eval();
        try (NoGrad ignored = Autograd.noGrad()) {
            for (int i = 0; i < n; i++) {
                int from = Math.max(0, ids.size() - ctx);
                int[] window = ids.subList(from, ids.size()).stream().mapToInt(Integer::intValue).toArray();
                try (Tensor logits = model.forward(window, 1, window.length, null)) {
                    float[] all = logits.toArray();
                    int next = sample(all, (window.length - 1) * vocab, vocab, temperature, rng);
                    ids.add(next);
                    text.append(data.decode(new int[] {next}));
                }
            }
        }
        return text.toString();
    }

    static int sample(float[] logits, int from, int n, double temperature, SplittableRandom rng) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            max = Math.max(max, logits[from + j]);
        }
        double[] p = new double[n];
        double total = 0;
        for (int j = 0; j < n; j++) {
            p[j] = Math.exp((logits[from + j] - max) / Math.max(1e-6, temperature));
            total += p[j];
        }
        double u = rng.nextDouble() * total;
        for (int j = 0; j < n; j++) {
            u -= p[j];
            if (u <= 0) {
                return j;
            }
        }
        return n - 1;
    }

    /** Masks a validation window and prints the model's guess for each hidden character. */
    private void showMaskedPredictions() {
        Windows w = data.sequential(Split.VALIDATION, ctx, 1);
        int[][] xy = example(w, new SplittableRandom(7));
        model.eval();
        StringBuilder shown = new StringBuilder();
        int right = 0, total = 0;
        try (NoGrad ignored = Autograd.noGrad(); Tensor logits = model.forward(xy[0], 1, ctx, null)) {
            float[] all = logits.toArray();
            for (int t = 0; t < ctx; t++) {
                String original = data.decode(new int[] {w.inputs()[t]});
                if (xy[1][t] == MaskedLm.IGNORE_INDEX) {
                    shown.append(original);
                    continue;
                }
                int guess = ImageClassification.argmax(all, t * vocab, data.vocabSize());
                total++;
                right += guess == w.inputs()[t] ? 1 : 0;
                shown.append('[').append(Charts.visible(original)).append("→")
                        .append(Charts.visible(data.decode(new int[] {guess}))).append(']');
            }
        }
        System.out.println("--- masked characters [actual→predicted] in a validation window (↵ newline, ␣ space) ---");
        System.out.println(shown);
        System.out.printf(Locale.ROOT, "--- %d of %d masked characters recovered ---%n", right, total);
    }

    /** The last block's attention (first head) over the first validation window, up to 64 characters. */
    private void attentionMap(RunFolder out) throws IOException {
        int t = Math.min(ctx, 64);
        Windows w = data.sequential(Split.VALIDATION, t, 1);
        model.eval();
        model.recordAttentionWeights(true);
        try (NoGrad ignored = Autograd.noGrad(); Tensor logits = model.forward(w.inputs(), 1, t, null)) {
            float[] weights = model.blocks().getLast().attention().lastWeights().toArray(); // [1, H, t, t]
            float[] head0 = java.util.Arrays.copyOf(weights, t * t);
            List<String> labels = new ArrayList<>();
            for (int i = 0; i < t; i++) {
                labels.add(data.decode(new int[] {w.inputs()[i]}));
            }
            Charts.heatmap(out.file("attention.png"), new Charts.Heatmap((masked ? "Masked" : "Causal")
                    + " model: last block, head 1, first validation window", head0, t, t, labels, labels,
                    "query: the character that looks", "key: the character looked at"), null);
            out.wrote("attention.png");
        } finally {
            model.recordAttentionWeights(false);
        }
    }
}
