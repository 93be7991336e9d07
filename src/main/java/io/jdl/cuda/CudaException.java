package io.jdl.cuda;

/**
 * A CUDA runtime call returned an error. Carries the runtime's own status code and name
 * ({@code cudaGetErrorName}) and its description ({@code cudaGetErrorString}).
 */
public class CudaException extends RuntimeException {
    private final int status;
    private final String statusName;

    public CudaException(String call, int status, String statusName, String description) {
        super(call + " failed: " + statusName + " (" + status + "): " + description);
        this.status = status;
        this.statusName = statusName;
    }

    /** The {@code cudaError_t} value. */
    public int status() {
        return status;
    }

    /** The status as the runtime names it, e.g. {@code cudaErrorMemoryAllocation}. */
    public String statusName() {
        return statusName;
    }
}
