package io.jdl.samples;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code scripts/sample SUBCOMMAND [flags]}: the command-line programs that train real models. */
@Command(name = "sample", mixinStandardHelpOptions = true, version = "jdl samples 0.1",
        description = "Train models with jdl on the GPU (or the CPU).",
        subcommands = {MlpSample.class, CnnSample.class, VitSample.class, CharLmSample.class, Demo.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).execute(args));
    }
}
