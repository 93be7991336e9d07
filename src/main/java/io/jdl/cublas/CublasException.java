package io.jdl.cublas;

/** A cuBLAS call failed; carries {@code cublasGetStatusName} and {@code cublasGetStatusString}. */
public class CublasException extends RuntimeException {
    private final int status;
    private final String statusName;

    public CublasException(String call, int status, String statusName, String description) {
        super(call + " failed: " + statusName + " (" + status + "): " + description);
        this.status = status;
        this.statusName = statusName;
    }

    public int status() {
        return status;
    }

    public String statusName() {
        return statusName;
    }
}
