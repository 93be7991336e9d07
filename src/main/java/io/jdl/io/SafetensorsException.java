package io.jdl.io;

import java.io.IOException;

/**
 * A safetensors file that cannot be read as one: a corrupt header (bad JSON, a header length past the end of
 * the file, offsets out of range, overlapping or leaving holes, a size that does not match the shape), an
 * unsupported dtype, or a tensor name that the file does not hold. The message names the file and the
 * offending entry.
 */
public class SafetensorsException extends IOException {
    public SafetensorsException(String message) {
        super(message);
    }

    public SafetensorsException(String message, Throwable cause) {
        super(message, cause);
    }
}
