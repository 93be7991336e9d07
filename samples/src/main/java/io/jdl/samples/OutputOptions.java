package io.jdl.samples;

import io.jdl.samples.cli.UserError;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Where a run writes: {@code --out} and {@code --overwrite}, a picocli mixin of every sample. */
public final class OutputOptions {
    @Option(names = "--out", description = "folder for the run's files (plots, metrics, a checkpoint); must be new or empty"
            + " unless --overwrite (default: a new folder out/<sample>/<date-time> under the current directory)")
    Path out;

    @Option(names = "--overwrite", description = "allow --out to be a folder that already holds files, replacing them")
    boolean overwrite;

    /** Refuses {@code --overwrite} without {@code --out} (exit code 2), before anything is loaded. */
    void validate() {
        if (overwrite && out == null) {
            throw UserError.usage("--overwrite needs --out DIR: without --out every run gets a new folder");
        }
    }

    /**
     * Creates and checks the run's folder ({@code evalOnly}: a folder named for an evaluation); call before loading
     * data, so that nothing trains into the void.
     */
    RunFolder open(String sample, boolean evalOnly) {
        validate();
        return RunFolder.open(out, overwrite, sample, evalOnly);
    }
}
