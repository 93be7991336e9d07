package io.jdl.data;

import java.io.IOException;

/**
 * A data file exists but its content is not what its format promises: a wrong magic number, a truncated
 * file, a corrupt gzip stream, dimensions that overflow, or two files that disagree (images vs labels).
 * The message names the file and the expected and found values. A missing file is reported as a plain
 * {@link IOException} (for example {@link java.nio.file.NoSuchFileException}) or, for a whole data set that
 * cannot be found, a {@link DataNotFoundException}.
 */
public class DataFormatException extends IOException {
    public DataFormatException(String message) {
        super(message);
    }

    public DataFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
