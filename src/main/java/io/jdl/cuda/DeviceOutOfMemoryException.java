package io.jdl.cuda;

/**
 * Device memory ran out ({@code cudaErrorMemoryAllocation}) even after the caching allocator gave its cached
 * blocks back and tried again: the message names the request and the allocator's figures. Like PyTorch's
 * {@code torch.cuda.OutOfMemoryError}, it can be caught to retry with less (a smaller batch); the failed
 * request leaves nothing allocated.
 */
public final class DeviceOutOfMemoryException extends CudaException {
    private final long requestedBytes;
    private final long allocatedBytes;
    private final long reservedBytes;

    DeviceOutOfMemoryException(long requestedBytes, long allocatedBytes, long reservedBytes, CudaException cause) {
        super("allocating " + requestedBytes + " bytes of device memory with " + allocatedBytes + " bytes in use and "
                + reservedBytes + " reserved (after releasing the allocator's cache)", cause.status(),
                cause.statusName(), cause.getMessage());
        this.requestedBytes = requestedBytes;
        this.allocatedBytes = allocatedBytes;
        this.reservedBytes = reservedBytes;
        initCause(cause);
    }

    /** The block size asked for (rounded to the allocator's size class). */
    public long requestedBytes() {
        return requestedBytes;
    }

    /** Bytes in blocks handed out when the request failed. */
    public long allocatedBytes() {
        return allocatedBytes;
    }

    /** Bytes obtained from CUDA when the request failed (in use plus cached). */
    public long reservedBytes() {
        return reservedBytes;
    }
}
