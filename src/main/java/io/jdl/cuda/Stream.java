package io.jdl.cuda;

import static io.jdl.bindings.cudart.cuda_runtime_api_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A CUDA stream: an ordered queue of device work. Copies and kernels queued here run in order and
 * asynchronously to the host; {@link #synchronize()} waits for all of them.
 *
 * <p>Asynchronous copies read or write host memory after the call returns: the host segment must stay
 * alive (its arena open) until the stream is synchronised. Pinned memory ({@link PinnedBuffer}) makes
 * the copies truly asynchronous; pageable memory works but is staged by the driver.
 */
public final class Stream extends NativeResource {
    private final MemorySegment handle;
    private final java.util.concurrent.atomic.AtomicLong hostSyncs = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong stagingWaits = new java.util.concurrent.atomic.AtomicLong();
    /** Between {@link #beginCapture} and {@link #endCapture}: host reads, uploads and waits are refused. */
    private volatile boolean capturing;

    private Stream(MemorySegment handle) {
        this.handle = handle;
    }

    /** A new stream that does not synchronise with the legacy default stream. */
    public static Stream create() {
        Cuda.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            Cuda.check(cudaStreamCreateWithFlags(out, cudaStreamNonBlocking()), "cudaStreamCreateWithFlags");
            return new Stream(out.get(ValueLayout.ADDRESS, 0));
        }
    }

    /** The {@code cudaStream_t}, for binding library handles to this stream. */
    public MemorySegment handle() {
        checkOpen();
        return handle;
    }

    /** Blocks until all work queued on this stream has finished. */
    public void synchronize() {
        if (capturing) {
            throw new GraphCaptureException("cannot wait for the stream inside CUDA graph capture (its work is recorded,"
                    + " not run)");
        }
        hostSyncs.incrementAndGet();
        Cuda.check(cudaStreamSynchronize(handle()), "cudaStreamSynchronize");
    }

    /**
     * How many times the host has waited for this stream's work ({@link #synchronize()}, or a staging
     * buffer still in flight): a training step that never reads a value should add none while the device
     * keeps up with the host.
     */
    public long hostSyncCount() {
        return hostSyncs.get();
    }

    /**
     * The part of {@link #hostSyncCount()} that was flow control: uploads waiting for a staging buffer the
     * device had not finished reading, which happens only when the device runs behind the host by all the
     * buffers (never the case for a GPU that keeps up; always on the slow host stand-in).
     */
    public long stagingWaitCount() {
        return stagingWaits.get();
    }

    /** Records a wait for a staging buffer still in flight (a host wait outside {@link #synchronize()}). */
    void countStagingWait() {
        stagingWaits.incrementAndGet();
        hostSyncs.incrementAndGet();
    }

    /** Queues a copy of {@code bytes} from native host memory to device memory. */
    public void copyToDevice(MemorySegment src, long srcOffset, DeviceMemory dst, long dstOffset, long bytes) {
        if (capturing) {
            checkNotCapturing(false, bytes + " bytes host to device");
        }
        checkHost(src, srcOffset, bytes);
        dst.checkRange(dstOffset, bytes);
        Cuda.checkCopy(cudaMemcpyAsync(dst.pointer(dstOffset), src.asSlice(srcOffset), bytes, cudaMemcpyHostToDevice(),
                handle()), "host to device", bytes);
    }

    /** Queues a copy of {@code bytes} from device memory to native host memory. */
    public void copyToHost(DeviceMemory src, long srcOffset, MemorySegment dst, long dstOffset, long bytes) {
        if (capturing) {
            checkNotCapturing(true, bytes + " bytes device to host");
        }
        src.checkRange(srcOffset, bytes);
        checkHost(dst, dstOffset, bytes);
        Cuda.checkCopy(cudaMemcpyAsync(dst.asSlice(dstOffset), src.pointer(srcOffset), bytes, cudaMemcpyDeviceToHost(),
                handle()), "device to host", bytes);
    }

    /** Queues a copy of {@code bytes} between device blocks. */
    public void copyOnDevice(DeviceMemory src, long srcOffset, DeviceMemory dst, long dstOffset, long bytes) {
        src.checkRange(srcOffset, bytes);
        dst.checkRange(dstOffset, bytes);
        Cuda.checkCopy(cudaMemcpyAsync(dst.pointer(dstOffset), src.pointer(srcOffset), bytes, cudaMemcpyDeviceToDevice(),
                handle()), "device to device", bytes);
    }

    /** Queues setting {@code bytes} of device memory to the byte {@code value}. */
    public void memset(DeviceMemory dst, long offset, int value, long bytes) {
        dst.checkRange(offset, bytes);
        Cuda.check(cudaMemsetAsync(dst.pointer(offset), value, bytes, handle()), "cudaMemsetAsync");
    }

    /** Whether this stream is capturing a CUDA graph ({@link CudaGraph#capture}). */
    public boolean isCapturing() {
        return capturing;
    }

    /**
     * Throws {@link GraphCaptureException} naming {@code what} while this stream captures: a host read
     * ({@code read}) or an upload would be recorded as a copy from or to host memory that a replay reuses.
     */
    public void checkNotCapturing(boolean read, String what) {
        if (capturing) {
            throw read ? GraphCaptureException.hostRead(what) : GraphCaptureException.upload(what);
        }
    }

    void beginCapture() {
        checkOpen();
        if (capturing) {
            throw new IllegalStateException("the stream is already capturing a CUDA graph");
        }
        Cuda.check(cudaStreamBeginCapture(handle, cudaStreamCaptureModeThreadLocal()), "cudaStreamBeginCapture");
        capturing = true;
    }

    /** Ends the capture; the graph, or NULL when CUDA invalidated it (the status is then left to the caller). */
    MemorySegment endCapture() {
        capturing = false;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            int status = cudaStreamEndCapture(handle, out);
            if (status == cudaErrorStreamCaptureInvalidated()) {
                return MemorySegment.NULL;
            }
            Cuda.check(status, "cudaStreamEndCapture");
            return out.get(ValueLayout.ADDRESS, 0);
        }
    }

    private static void checkHost(MemorySegment host, long offset, long bytes) {
        if (!host.isNative()) {
            throw new IllegalArgumentException("host memory for a CUDA copy must be native (off-heap), not a heap segment");
        }
        if (offset < 0 || bytes < 0 || offset + bytes > host.byteSize()) {
            throw new IndexOutOfBoundsException("range [" + offset + ", " + (offset + bytes)
                    + ") outside host segment of " + host.byteSize() + " bytes");
        }
    }

    @Override
    protected void release() {
        Cuda.check(cudaStreamDestroy(handle), "cudaStreamDestroy");
    }

    @Override
    protected String describe() {
        return "CUDA stream";
    }
}
