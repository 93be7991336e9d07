package io.jdl.cuda;

import java.lang.foreign.MemorySegment;

/**
 * Asynchronous uploads from Java arrays: each copy goes through one of a few pinned buffers used in
 * turn, and an event marks when the device has read it. The host waits only when it comes back to a
 * buffer whose copy has not finished yet, that is when it runs {@value #SLOTS} uploads ahead of the GPU.
 *
 * <p>Owned by one stream's user (a backend), not thread-safe. Buffers grow to the largest upload seen.
 */
public final class HostToDeviceStaging extends NativeResource {
    private static final int SLOTS = 4;
    private static final long MIN_BYTES = 1 << 16;

    private final Stream stream;
    private final PinnedBuffer[] buffers = new PinnedBuffer[SLOTS];
    private final Event[] done = new Event[SLOTS];
    private final boolean[] inFlight = new boolean[SLOTS];
    private int next;

    public HostToDeviceStaging(Stream stream) {
        this.stream = stream;
    }

    /** Queues a copy of {@code src} into the start of {@code dst} on the stream; returns at once. */
    public void upload(float[] src, DeviceMemory dst) {
        upload(MemorySegment.ofArray(src), dst);
    }

    /** Queues a copy of {@code src} (as int32) into the start of {@code dst} on the stream; returns at once. */
    public void upload(int[] src, DeviceMemory dst) {
        upload(MemorySegment.ofArray(src), dst);
    }

    /** Queues a copy of {@code src} (as int64) into the start of {@code dst} on the stream; returns at once. */
    public void upload(long[] src, DeviceMemory dst) {
        upload(MemorySegment.ofArray(src), dst);
    }

    /** Queues a copy of the bytes {@code src} into the start of {@code dst} on the stream; returns at once. */
    public void upload(byte[] src, DeviceMemory dst) {
        upload(MemorySegment.ofArray(src), dst);
    }

    /** Copies the Java array behind {@code src} into the next pinned buffer and queues it to the device. */
    private void upload(MemorySegment src, DeviceMemory dst) {
        long bytes = src.byteSize();
        // Checked before the pinned buffer is touched: a capture would record a copy from a buffer reused later.
        if (stream.isCapturing()) {
            stream.checkNotCapturing(false, "a " + bytes + "-byte upload from a Java array (a new tensor from host values,"
                    + " cross-entropy targets, embedding ids)");
        }
        if (bytes > 0) {
            MemorySegment host = slot(bytes);
            host.copyFrom(src);
            send(host, dst, bytes);
        }
    }

    /** The next buffer, at least {@code bytes} long, once the device has finished reading it. */
    private MemorySegment slot(long bytes) {
        checkOpen();
        int i = next;
        if (inFlight[i] && !done[i].isComplete()) {
            stream.countStagingWait();
            done[i].synchronize();
        }
        inFlight[i] = false;
        if (buffers[i] == null || buffers[i].bytes() < bytes) {
            long old = 0;
            if (buffers[i] != null) {
                old = buffers[i].bytes();
                buffers[i].close();
                buffers[i] = null;
            }
            buffers[i] = PinnedBuffer.allocate(Math.max(MIN_BYTES, Math.max(bytes, 2 * old)));
        }
        if (done[i] == null) {
            done[i] = Event.createForSync();
        }
        return buffers[i].segment().asSlice(0, bytes);
    }

    private void send(MemorySegment host, DeviceMemory dst, long bytes) {
        int i = next;
        stream.copyToDevice(host, 0, dst, 0, bytes);
        done[i].record(stream);
        inFlight[i] = true;
        next = (i + 1) % SLOTS;
    }

    @Override
    protected void release() {
        for (int i = 0; i < SLOTS; i++) {
            if (done[i] != null) {
                if (inFlight[i]) {
                    done[i].synchronize();
                }
                done[i].close();
            }
            if (buffers[i] != null) {
                buffers[i].close();
            }
        }
    }

    @Override
    protected String describe() {
        return "host-to-device staging";
    }
}
