package io.jdl.samples;

import io.jdl.samples.cli.UserError;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * A sample's architecture settings (widths, layers, patch size, ...) as they were decided: from the
 * {@code --resume} checkpoint when there is one (its network must be rebuilt exactly), else from the flag,
 * else the sample's default. A flag that contradicts the checkpoint is a usage error. The settings are then
 * written into the checkpoint's metadata and {@code metrics.json} under the flag's name without dashes.
 *
 * <p>The same goes for the {@linkplain #training training settings} a resumed run must share with the run it
 * continues (seed, batch size, learning rate, dropout...): they are kept under {@value #TRAINING}{@code <name>}
 * in the training state only, and the run's {@linkplain #plan plan} (epochs or steps in all) may be extended.
 */
final class Architecture {
    private final Map<String, String> checkpoint;
    private final Map<String, Object> settings = new LinkedHashMap<>();
    private final Map<String, String> training = new LinkedHashMap<>();

    /** Metadata prefix of the training settings. */
    static final String TRAINING = "train.";

    /** {@code checkpoint}: the resumed checkpoint's metadata, empty without {@code --resume}. */
    Architecture(Map<String, String> checkpoint) {
        this.checkpoint = checkpoint;
    }

    /** A whole-number setting of at least {@code min}. */
    int integer(String flag, Integer given, int fallback, int min) {
        String key = key(flag);
        int value;
        if (checkpoint.containsKey(key)) {
            value = Integer.parseInt(checkpoint.get(key));
            if (given != null && given != value) {
                throw conflict(flag, given, value);
            }
        } else {
            value = UserError.atLeast(flag, given != null ? given : fallback, min);
        }
        settings.put(key, value);
        return value;
    }

    /** An on/off setting ({@code given} is null when the flag was not passed). */
    boolean flag(String flag, Boolean given) {
        String key = key(flag);
        boolean value;
        if (checkpoint.containsKey(key)) {
            value = Boolean.parseBoolean(checkpoint.get(key));
            if (given != null && given != value) {
                throw conflict(flag, given, value);
            }
        } else {
            value = given != null && given;
        }
        settings.put(key, value);
        return value;
    }

    /**
     * A training setting ({@code name} is its flag, or a plain name where no flag sets it): the checkpoint's
     * value when resuming, where a {@code given} flag that differs is a usage error (the run would not continue
     * as it started); else {@code given}, else {@code fallback}. Null values are kept as such.
     */
    <T> T training(String name, T given, T fallback, Function<String, T> parse) {
        String key = TRAINING + key(name);
        T value;
        if (checkpoint.containsKey(key)) {
            String saved = checkpoint.get(key);
            value = saved.equals("null") ? null : parse.apply(saved);
            if (given != null && !given.equals(value)) {
                throw UserError.usage(name, given, "contradicts the --resume checkpoint, whose run had "
                        + (value == null ? "no " + name : name + " " + value) + "; leave the flag out to continue that run"
                        + " as it started");
            }
        } else {
            value = given != null ? given : fallback;
        }
        training.put(key, String.valueOf(value));
        return value;
    }

    /**
     * The length of the run in all ({@code --epochs}, charlm's {@code --steps}), counted from the start of the
     * original run: the flag when given (it may extend a resumed run), else the checkpoint's, else {@code fallback}.
     */
    int plan(String flag, Integer given, int fallback) {
        String key = TRAINING + key(flag);
        int value = given != null ? given : checkpoint.containsKey(key) ? Integer.parseInt(checkpoint.get(key)) : fallback;
        training.put(key, Integer.toString(value));
        return value;
    }

    /** A text setting saved in the checkpoint (e.g. charlm's vocabulary), or null without one. */
    String savedText(String key) {
        return checkpoint.get(key);
    }

    private static UserError conflict(String flag, Object given, Object saved) {
        return UserError.usage(flag, given, "contradicts the --resume checkpoint, which was trained with " + flag + " "
                + saved + "; leave the flag out (the checkpoint decides the architecture)");
    }

    private static String key(String flag) {
        return flag.replaceFirst("^--", "").replace('-', '_');
    }

    /** The settings in the order they were decided, for {@code metrics.json}. */
    Map<String, Object> settings() {
        return Collections.unmodifiableMap(settings);
    }

    /** The training state's metadata: {@link #metadata} and the training settings. */
    Map<String, String> trainingMetadata(String sample) {
        Map<String, String> m = metadata(sample);
        m.putAll(training);
        return m;
    }

    /** The checkpoint metadata: the sample's name and each setting as text. */
    Map<String, String> metadata(String sample) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(Checkpoints.SAMPLE, sample);
        settings.forEach((k, v) -> m.put(k, String.valueOf(v)));
        return m;
    }
}
