package io.jdl.bench;

import io.jdl.backend.cuda.CudaBackend;
import io.jdl.cuda.CudaDevice;
import io.jdl.cuda.Event;
import io.jdl.cuda.Stream;
import io.jdl.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Where a training step's device time goes: the {@link TrainStepBenchmark} step split by CUDA events
 * into forward (with the loss), backward and optimizer (Adam update and zeroing the gradients). Prints one
 * line per row, {@code PHASES {json}}, with the median of each phase and of the whole step in
 * milliseconds of device time, the median wall-clock step and the peak device memory; scripts/bench_torch.py
 * prints the same phases for PyTorch, and the GPU bundle's summary puts them side by side.
 *
 * <pre>
 *   java -cp ... io.jdl.bench.TrainStepPhases [--steps 20] [--warmup 5] [--tf32 false,true] mlp:128 cnn:1024 gpt:64 ...
 * </pre>
 * Rows are {@code model:batch}; the MLP is 784-1024-1024-10 as in bench_torch.py. Needs a GPU: without
 * one it says why and exits with status 2. A row that fails prints {@code PHASES-ERROR} and the others run.
 */
public final class TrainStepPhases {
    private static final int MLP_HIDDEN = 1024;

    private TrainStepPhases() {
    }

    /** A training-step workload: model (mlp, cnn or gpt) at a batch size; written {@code model:batch}. */
    record Row(String model, int batch) {
        static Row parse(String text) {
            String[] mb = text.split(":");
            if (mb.length != 2 || !List.of("mlp", "cnn", "gpt").contains(mb[0])) {
                throw new IllegalArgumentException("a row is model:batch with model mlp, cnn or gpt, got '" + text + "'");
            }
            return new Row(mb[0], positive("batch of " + text, mb[1]));
        }
    }

    public static void main(String[] args) {
        int steps = 20, warmup = 5;
        List<Boolean> tf32Modes = List.of(false);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--steps" -> steps = positive("--steps", value(args, ++i));
                case "--warmup" -> warmup = positive("--warmup", value(args, ++i));
                case "--tf32" -> tf32Modes = Arrays.stream(value(args, ++i).split(",")).map(TrainStepPhases::bool).toList();
                default -> rows.add(Row.parse(args[i]));
            }
        }
        if (rows.isEmpty()) {
            throw new IllegalArgumentException("give rows as model:batch, e.g. mlp:128 cnn:1024 gpt:64");
        }
        if (!CudaDevice.isAvailable()) {
            System.out.println("PHASES-SKIPPED no CUDA device: " + CudaDevice.unavailableReason());
            System.exit(2);
        }
        for (boolean tf32 : tf32Modes) {
            for (Row row : rows) {
                try {
                    System.out.println("PHASES " + profile(row.model(), row.batch(), tf32, warmup, steps));
                } catch (RuntimeException e) {
                    System.out.println("PHASES-ERROR " + row.model() + ":" + row.batch() + " tf32=" + tf32 + ": " + e);
                    e.printStackTrace(System.out);
                }
                System.out.flush();
            }
        }
    }

    /** One row: warm-up steps, then {@code steps} steps each timed phase by phase. Returns a JSON object. */
    static String profile(String model, int batch, boolean tf32, int warmup, int steps) {
        try (TrainStepFixture f = new TrainStepFixture(model, "cuda", batch, MLP_HIDDEN, tf32, "fp32");
             Event start = Event.create(); Event forward = Event.create(); Event backward = Event.create();
             Event end = Event.create()) {
            CudaBackend cuda = f.bench.cuda();
            Stream stream = cuda.stream();
            for (int i = 0; i < warmup; i++) {
                f.step();
            }
            f.bench.startMeasuring();
            double[] fwd = new double[steps], bwd = new double[steps], opt = new double[steps], total = new double[steps],
                    wall = new double[steps];
            for (int i = 0; i < steps; i++) {
                long t0 = System.nanoTime();
                start.record(stream);
                try (Tensor logits = f.logits(); Tensor loss = f.loss(logits)) {
                    forward.record(stream);
                    loss.backward();
                    backward.record(stream);
                }
                f.optimizerStep();
                end.record(stream);
                end.synchronize();
                wall[i] = (System.nanoTime() - t0) / 1e6;
                fwd[i] = forward.elapsedMillisSince(start);
                bwd[i] = backward.elapsedMillisSince(forward);
                opt[i] = end.elapsedMillisSince(backward);
                total[i] = end.elapsedMillisSince(start);
            }
            return String.format(Locale.ROOT, "{\"row\": \"%s\", \"tf32\": %s, \"steps\": %d, \"forward_ms\": %.4f, "
                            + "\"backward_ms\": %.4f, \"optimizer_ms\": %.4f, \"event_ms\": %.4f, \"wall_ms\": %.4f, "
                            + "\"peak_bytes\": %d}", f.row(), tf32, steps, median(fwd), median(bwd), median(opt),
                    median(total), median(wall), cuda.allocator().peakAllocatedBytes());
        }
    }

    static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

    private static String value(String[] args, int i) {
        if (i >= args.length) {
            throw new IllegalArgumentException(args[i - 1] + " needs a value");
        }
        return args[i];
    }

    private static int positive(String what, String text) {
        try {
            int v = Integer.parseInt(text);
            if (v >= 1) {
                return v;
            }
        } catch (NumberFormatException e) {
            // reported below, with the others
        }
        throw new IllegalArgumentException(what + " must be a whole number >= 1, got '" + text + "'");
    }

    private static boolean bool(String text) {
        return switch (text) {
            case "true", "on" -> true;
            case "false", "off" -> false;
            default -> throw new IllegalArgumentException("--tf32 takes false, true or both comma-separated, got " + text);
        };
    }
}
