package io.jdl.backend;

/**
 * Device work captured once and replayed as a whole ({@link Backend#captureGraph}): on CUDA, a CUDA graph.
 *
 * <p>A replay runs exactly the recorded work on exactly the recorded memory: new values reach it only
 * through memory overwritten between replays (static inputs, and {@link #setTargets}). Work that depends
 * on the replay number (Adam's step count, dropout seeds) reads a replay counter that the graph advances
 * on the device, so replay k does what the k-th eager step after the capture would.
 *
 * <p><b>Lifetime.</b> Owns the graph and the memory allocated while capturing that is not in a live
 * tensor, until {@link #close()}; tensors created during the capture keep their memory until they are
 * closed (after {@code close()} it returns to the ordinary cache).
 */
public interface CapturedGraph extends AutoCloseable {
    /** Queues one replay; returns at once (read results after it, which waits). */
    void replay();

    /** Replays so far. */
    long replays();

    /**
     * Copies the cross-entropy targets for the next replays into the graph's static targets buffer.
     *
     * @throws IllegalStateException when the captured step has no cross-entropy
     * @throws IllegalArgumentException when {@code targets} do not fit what was captured (count, range, or
     *                                  a different number of ignored rows, which changes the mean's divisor)
     */
    void setTargets(int[] targets);

    /** Bytes of device memory obtained from the driver for this graph's private pool while capturing. */
    long poolBytes();

    /** Frees the graph and its pool; replays still queued complete first. Idempotent. */
    @Override
    void close();
}
