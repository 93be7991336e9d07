package io.jdl.samples;

import io.jdl.data.FashionMnist;
import io.jdl.samples.cli.UserError;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Where the Fashion-MNIST samples read their data, how much of it, and how many passes they make over it. */
public final class DataOptions {
    @Option(names = "--data", description = "folder with the four Fashion-MNIST IDX files (default: $JDL_FASHION_MNIST,"
            + " then Debian's package in " + FashionMnist.DEBIAN_DIR + ")")
    Path data;

    @Option(names = "--train-limit", description = "use only the first N training images")
    Integer trainLimit;

    @Option(names = "--epochs", description = "passes over the training data")
    Integer epochs;

    /** Refuses values that cannot work on any machine (exit code 2). */
    void validate(TrainOptions o) {
        if (epochs != null) {
            UserError.atLeast("--epochs", epochs, 1);
        }
        if (trainLimit != null) {
            UserError.atLeast("--train-limit", trainLimit, 1);
        }
        if (o.evalOnly && (epochs != null || trainLimit != null)) {
            throw UserError.usage("--eval-only trains nothing, so --epochs and --train-limit do not apply");
        }
    }

    /** Both splits, from {@code --data} or the default places; a missing or corrupt file is an error naming them. */
    FashionMnist load() {
        if (data != null && !Files.isDirectory(data)) {
            throw UserError.runtime("--data", data, Files.exists(data) ? "is not a folder" : "no such folder", null);
        }
        try {
            return data != null ? FashionMnist.load(data) : FashionMnist.load();
        } catch (IOException | RuntimeException e) {
            String problem = e.getMessage() == null ? e.toString() : e.getMessage();
            if (data != null) {
                throw UserError.runtime("--data", data, problem, e);
            }
            throw UserError.runtime("Fashion-MNIST: " + problem + " (pass --data DIR)", e);
        }
    }
}
