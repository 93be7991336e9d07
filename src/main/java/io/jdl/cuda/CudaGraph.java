package io.jdl.cuda;

import static io.jdl.bindings.cudart.cuda_runtime_api_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.Supplier;

/**
 * An executable CUDA graph: work recorded once from a stream by {@link #capture} and replayed by
 * {@link #launch} with one {@code cudaGraphLaunch}, no per-kernel host work.
 *
 * <p>Capture ({@code cudaStreamBeginCapture} in thread-local mode, then {@code cudaStreamEndCapture} and
 * {@code cudaGraphInstantiate}) records the kernels, copies and library calls queued on the stream with
 * their arguments as they were: a replay reads and writes the same device addresses with the same scalar
 * values. So everything a replay should see change must be device memory that the caller overwrites
 * between launches (static inputs), and memory the graph uses must stay allocated until the graph is
 * closed. While the stream captures, {@link Stream} refuses host reads, uploads and waits with a
 * {@link GraphCaptureException}; CUDA itself invalidates the capture on a synchronisation or a
 * {@code cudaMalloc} outside relaxed mode (see {@link #relaxed}).
 *
 * <p><b>Lifetime.</b> A graph owns the executable and the captured graph from {@link #capture} until
 * {@link #close()}; launches still queued complete after close. Closing does not free device memory: that
 * belongs to whoever allocated it (the backend's capture pool).
 */
public final class CudaGraph extends NativeResource {
    private final MemorySegment graph;
    private final MemorySegment exec;

    private CudaGraph(MemorySegment graph, MemorySegment exec) {
        this.graph = graph;
        this.exec = exec;
    }

    /**
     * Records what {@code body} queues on {@code stream} into a new graph. When {@code body} throws, or
     * CUDA reports the capture invalid, the capture is ended and discarded and the stream is usable again;
     * the exception propagates.
     *
     * @throws IllegalStateException when the stream is already capturing
     */
    public static CudaGraph capture(Stream stream, Runnable body) {
        stream.beginCapture();
        MemorySegment graph;
        try {
            body.run();
        } catch (RuntimeException | Error e) {
            try {
                MemorySegment partial = stream.endCapture();
                if (!partial.equals(MemorySegment.NULL)) {
                    Cuda.check(cudaGraphDestroy(partial), "cudaGraphDestroy");
                }
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        graph = stream.endCapture();
        if (graph.equals(MemorySegment.NULL)) {
            throw new CudaException("cudaStreamEndCapture", cudaErrorStreamCaptureInvalidated(),
                    Cuda.errorName(cudaErrorStreamCaptureInvalidated()), Cuda.errorString(cudaErrorStreamCaptureInvalidated()));
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            int status = cudaGraphInstantiate(out, graph, 0L);
            if (status != cudaSuccess()) {
                cudaGraphDestroy(graph);
                Cuda.check(status, "cudaGraphInstantiate");
            }
            return new CudaGraph(graph, out.get(ValueLayout.ADDRESS, 0));
        }
    }

    /** Queues one replay of the whole graph on {@code stream}; returns at once. */
    public void launch(Stream stream) {
        checkOpen();
        Cuda.check(cudaGraphLaunch(exec, stream.handle()), "cudaGraphLaunch");
    }

    /**
     * Runs {@code call} with this thread's capture interaction mode relaxed, so that a {@code cudaMalloc}
     * during a capture is allowed (PyTorch's allocator does the same): the allocation is not part of the
     * graph, which is right for memory the graph keeps for its whole life.
     */
    public static <T> T relaxed(Supplier<T> call) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mode = arena.allocate(ValueLayout.JAVA_INT);
            mode.set(ValueLayout.JAVA_INT, 0, cudaStreamCaptureModeRelaxed());
            Cuda.check(cudaThreadExchangeStreamCaptureMode(mode), "cudaThreadExchangeStreamCaptureMode");
            try {
                return call.get();
            } finally {
                Cuda.check(cudaThreadExchangeStreamCaptureMode(mode), "cudaThreadExchangeStreamCaptureMode");
            }
        }
    }

    @Override
    protected void release() {
        int execStatus = cudaGraphExecDestroy(exec);
        Cuda.check(cudaGraphDestroy(graph), "cudaGraphDestroy");
        Cuda.check(execStatus, "cudaGraphExecDestroy");
    }

    @Override
    protected String describe() {
        return "CUDA graph";
    }
}
