package io.jdl.cuda;

/**
 * An operation that a CUDA graph cannot record was attempted while a stream was capturing: a host read of
 * a device value (download, {@code item()}, a loss as a {@code float}), an upload from host memory, or a
 * host wait. Thrown before anything reaches CUDA, so the capture is abandoned cleanly by its owner.
 */
public final class GraphCaptureException extends IllegalStateException {
    public GraphCaptureException(String message) {
        super(message);
    }

    /** "cannot read a device value inside CUDA graph capture: {@code what}", with the way out. */
    static GraphCaptureException hostRead(String what) {
        return new GraphCaptureException("cannot read a device value inside CUDA graph capture: " + what
                + " (a captured step is recorded, not run; read static outputs after replay())");
    }

    /** "cannot upload host data inside CUDA graph capture: {@code what}", with the way out. */
    static GraphCaptureException upload(String what) {
        return new GraphCaptureException("cannot upload host data inside CUDA graph capture: " + what
                + " (a replay would not see new host values; copy each batch into a static input before replay())");
    }
}
