package io.jdl.samples;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Where the Fashion-MNIST samples read their data, and how much of it. */
public final class DataOptions {
    @Option(names = "--data", description = "folder with the four Fashion-MNIST IDX files (default: Debian's package)")
    Path data;

    @Option(names = "--train-limit", description = "use only the first N training images")
    Integer trainLimit;
}
