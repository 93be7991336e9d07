package io.jdl.cudnn;

/** A cuDNN call failed; carries the status and {@code cudnnGetErrorString}'s text. */
public class CudnnException extends RuntimeException {
    private final int status;

    public CudnnException(String call, int status, String description) {
        super(call + " failed: " + description + " (" + status + ")");
        this.status = status;
    }

    public int status() {
        return status;
    }
}
