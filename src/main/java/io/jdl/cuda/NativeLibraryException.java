package io.jdl.cuda;

/** A native library is missing, fails to load, or has a version the bindings were not generated for. */
public class NativeLibraryException extends RuntimeException {
    public NativeLibraryException(String message) {
        super(message);
    }

    public NativeLibraryException(String message, Throwable cause) {
        super(message, cause);
    }
}
