package io.jdl.samples;

import io.jdl.data.CharDataset;
import io.jdl.data.DataFormatException;
import io.jdl.samples.cli.UserError;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The text {@code charlm} learns: a UTF-8 file given with {@code --text}, or by default Shakespeare
 * ({@value #DEFAULT_NAME}, 1.1 MB, public domain), which ships inside the samples jar so that it is there
 * in every clone, whatever the working directory.
 */
final class TextCorpus {
    static final String DEFAULT_NAME = "tinyshakespeare.txt";
    /** The share of the text (from its start) used for training; the rest is the validation part. */
    static final double TRAIN_FRACTION = 0.9;

    private TextCorpus() {
    }

    /** What {@link #load} read: the data set and the name to show for it. */
    record Loaded(CharDataset data, String name) {
    }

    /** Reads {@code file}, or the bundled default when it is null; every problem names {@code --text} and the file. */
    static Loaded load(Path file) {
        if (file == null) {
            try (InputStream in = TextCorpus.class.getResourceAsStream(DEFAULT_NAME)) {
                if (in == null) {
                    throw new IllegalStateException("the samples jar lacks its default text " + DEFAULT_NAME + "; pass --text FILE");
                }
                return new Loaded(CharDataset.fromText(new String(in.readAllBytes(), StandardCharsets.UTF_8), TRAIN_FRACTION),
                        DEFAULT_NAME + " (bundled)");
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        if (Files.isDirectory(file)) {
            throw UserError.runtime("--text", file, "is a folder; pass a UTF-8 text file", null);
        }
        if (!Files.isRegularFile(file)) {
            throw UserError.runtime("--text", file, Files.exists(file) ? "is not a regular file" : "no such file", null);
        }
        try {
            if (Files.size(file) == 0) {
                throw UserError.runtime("--text", file, "is empty", null);
            }
            byte[] head = new byte[(int) Math.min(4096, Files.size(file))];
            try (InputStream in = Files.newInputStream(file)) {
                in.readNBytes(head, 0, head.length);
            }
            for (byte b : head) {
                if (b == 0) {
                    throw UserError.runtime("--text", file, "is a binary file (it holds NUL bytes), not UTF-8 text", null);
                }
            }
            return new Loaded(CharDataset.fromFile(file, TRAIN_FRACTION), file.getFileName().toString());
        } catch (DataFormatException e) {
            throw UserError.runtime("--text", file, "is not UTF-8 text", e);
        } catch (IOException e) {
            throw UserError.runtime("--text", file, "cannot be read: " + e.getMessage(), e);
        }
    }
}
