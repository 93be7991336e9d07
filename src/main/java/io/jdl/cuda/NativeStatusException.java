package io.jdl.cuda;

/**
 * A native library call returned an error status: the call, the status value and the library's own
 * name and description for it. Subclasses say which library. On the host stand-in the message also carries
 * the stand-in's own explanation (which argument overran which allocation, and by how much).
 */
public abstract class NativeStatusException extends RuntimeException {
    private final int status;
    private final String statusName;

    protected NativeStatusException(String call, int status, String statusName, String description) {
        super(call + " failed: " + statusName + " (" + status + "): " + description
                + StandIn.takeLastError().map(m -> " [host stand-in: " + m + "]").orElse(""));
        this.status = status;
        this.statusName = statusName;
    }

    /** The status value the library returned. */
    public int status() {
        return status;
    }

    /** The status as the library names it, e.g. {@code cudaErrorMemoryAllocation}. */
    public String statusName() {
        return statusName;
    }
}
