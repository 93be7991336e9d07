package io.jdl.samples;

import io.jdl.samples.cli.UserError;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * {@code scripts/sample SUBCOMMAND [flags]}: the command-line programs that train real models.
 *
 * <p>Every failure the user can cause ends as one line on stderr, {@code error: ...}, with exit code 2 for
 * a wrong flag or value and 1 for anything the machine refused; {@code --debug} adds the stack trace.
 */
@Command(name = "sample", mixinStandardHelpOptions = true, version = "jdl samples 0.1",
        description = "Train models with jdl on the GPU (or the CPU).",
        subcommands = {MlpSample.class, CnnSample.class, VitSample.class, CharLmSample.class, Demo.class,
                PerceptronSample.class, BaselineSample.class})
public final class Main implements Runnable {
    static {
        // The library's log lines (slf4j-simple) are output, not errors: stderr carries only "error:" lines.
        if (System.getProperty("org.slf4j.simpleLogger.logFile") == null) {
            System.setProperty("org.slf4j.simpleLogger.logFile", "System.out");
        }
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--debug", scope = ScopeType.INHERIT, description = "print the stack trace of an error")
    boolean debug;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(execute(args, new PrintWriter(System.err, true)));
    }

    /** Runs the launcher as {@link #main} does, reporting errors to {@code err}; returns the exit code. */
    static int execute(String[] args, PrintWriter err) {
        Main main = new Main();
        CommandLine cli = new CommandLine(main);
        cli.setErr(err);
        SampleHelp.describeDefaults(cli);
        cli.setParameterExceptionHandler((e, ignored) -> {
            String command = e.getCommandLine().getCommandSpec().qualifiedName(" ").replaceFirst("^sample", "scripts/sample");
            err.println("error: " + oneLine(e.getMessage()) + " (see '" + command + " --help')");
            return UserError.USAGE;
        });
        cli.setExecutionExceptionHandler((e, ignored, parsed) -> report(e, main.debug, err));
        try {
            return cli.execute(args);
        } catch (RuntimeException | Error e) {
            // picocli hands Errors (out of memory, a failed static initializer) straight through.
            return report(e, main.debug || java.util.Arrays.asList(args).contains("--debug"), err);
        }
    }

    private static int report(Throwable e, boolean debug, PrintWriter err) {
        if (debug) {
            e.printStackTrace(err);
        }
        if (e instanceof UserError user) {
            err.println("error: " + oneLine(user.getMessage()));
            return user.exitCode();
        }
        String what = e.getMessage() == null || e.getMessage().isBlank() ? e.getClass().getName() : oneLine(e.getMessage());
        err.println("error: " + what + (debug ? "" : " (run again with --debug for the stack trace)"));
        return UserError.RUNTIME;
    }

    /** The message on one line; library messages sometimes list alternatives on further lines. */
    private static String oneLine(String message) {
        String m = message.strip();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.replaceAll("\\s*\\n\\s*", "; ");
    }
}
