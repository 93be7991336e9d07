package io.jdl.cpunative;

/** A native CPU library (oneDNN) that is missing or failed to load; the message says where jdl looked. */
public final class CpuNativeLibraryException extends RuntimeException {
    CpuNativeLibraryException(String message) {
        super(message);
    }

    CpuNativeLibraryException(String message, Throwable cause) {
        super(message, cause);
    }
}
