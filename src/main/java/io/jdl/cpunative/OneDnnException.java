package io.jdl.cpunative;

/** A oneDNN call that returned an error status; the message names the call and the status. */
public final class OneDnnException extends RuntimeException {
    OneDnnException(String message) {
        super(message);
    }
}
