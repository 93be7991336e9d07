package io.jdl.cuda;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A block of device memory, handed out by a {@link CachingAllocator} and given back to it on close.
 *
 * <p>The device address is only ever exposed as a zero-length {@link MemorySegment}: it can be passed
 * to CUDA, cuBLAS and cuDNN, but any host access to it throws, so a device pointer can never be
 * dereferenced on the host. Data moves between host and device only through {@link Stream}'s copies.
 */
public final class DeviceMemory extends NativeResource {
    private final long address;
    private final long bytes;
    private final long blockBytes;
    private final CachingAllocator owner;
    /** The address as a zero-length segment, made once: a block is passed to a native call several times per step. */
    private final MemorySegment pointer;
    /** The graph pool this block was allocated for, or null (see {@link CachingAllocator}). */
    CachingAllocator.GraphPool pool;

    DeviceMemory(long address, long bytes, long blockBytes, CachingAllocator owner) {
        this.address = address;
        this.bytes = bytes;
        this.blockBytes = blockBytes;
        this.owner = owner;
        this.pointer = MemorySegment.ofAddress(address);
    }

    /** Size in bytes, as requested. */
    public long bytes() {
        return bytes;
    }

    long blockBytes() {
        return blockBytes;
    }

    long address() {
        return address;
    }

    /** The device pointer, as an opaque zero-length segment for native calls. */
    public MemorySegment pointer() {
        checkOpen();
        return pointer;
    }

    /** The device pointer {@code offset} bytes in; throws if outside this block. */
    public MemorySegment pointer(long offset) {
        checkOpen();
        Objects.checkFromIndexSize(offset, 0, bytes);
        return MemorySegment.ofAddress(address + offset);
    }

    /** Throws unless [offset, offset + length) lies inside this block. */
    void checkRange(long offset, long length) {
        checkOpen();
        if (offset < 0 || length < 0 || offset + length > bytes) {
            throw new IndexOutOfBoundsException("range [" + offset + ", " + (offset + length)
                    + ") outside device block of " + bytes + " bytes");
        }
    }

    @Override
    protected void release() {
        owner.free(this);
    }

    @Override
    protected String describe() {
        return "device memory (" + bytes + " bytes)";
    }
}
