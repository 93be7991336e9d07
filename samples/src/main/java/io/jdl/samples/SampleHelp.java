package io.jdl.samples;

import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Puts each sample's own defaults into the help of the flags it shares with the others ({@code --epochs},
 * {@code --batch-size}, {@code --lr}, {@code --steps}): the shared option classes cannot know them.
 */
final class SampleHelp {
    /** Implemented by samples whose shared flags have sample-specific defaults: flag to default, as text. */
    interface Defaults {
        Map<String, String> defaultsHelp();
    }

    private SampleHelp() {
    }

    static void describeDefaults(CommandLine root) {
        for (CommandLine sub : root.getSubcommands().values()) {
            if (!(sub.getCommand() instanceof Defaults sample)) {
                continue;
            }
            var spec = sub.getCommandSpec();
            sample.defaultsHelp().forEach((flag, text) -> {
                OptionSpec old = spec.findOption(flag);
                if (old == null) {
                    throw new IllegalStateException(spec.name() + " has no option " + flag + " to describe");
                }
                String[] description = old.description().clone();
                description[description.length - 1] += " (default: " + text + ")";
                spec.remove(old);
                spec.addOption(old.toBuilder().description(description).build());
            });
        }
    }

    /** "15 on the CPU, 30 on a GPU", or just "128" when both are the same. */
    static String perDevice(Object cpu, Object gpu) {
        return cpu.equals(gpu) ? String.valueOf(cpu) : cpu + " on the CPU, " + gpu + " on a GPU";
    }

    /** The defaults of one or two image-classification recipes (the second one named by its flag). */
    static Map<String, String> of(ImageClassification.Recipe r) {
        return Map.of("--epochs", perDevice(r.cpuEpochs(), r.gpuEpochs()),
                "--batch-size", String.valueOf(r.batchSize()),
                "--lr", String.valueOf(r.lr()),
                "--steps", "all steps of the epochs");
    }

    static Map<String, String> of(ImageClassification.Recipe r, String flag, ImageClassification.Recipe other) {
        Map<String, String> a = of(r), b = of(other);
        var merged = new java.util.LinkedHashMap<String, String>();
        a.forEach((k, v) -> merged.put(k, v.equals(b.get(k)) ? v : v + "; with " + flag + ": " + b.get(k)));
        return merged;
    }
}
