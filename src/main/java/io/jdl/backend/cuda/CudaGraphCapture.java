package io.jdl.backend.cuda;

import io.jdl.backend.CapturedGraph;
import io.jdl.cublas.Cublas;
import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.CudaGraph;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.HostToDeviceStaging;
import io.jdl.cuda.NativeKernels;
import io.jdl.cuda.Stream;

/**
 * A CUDA graph of one backend's stream, with what replays need beyond the recorded kernels: a private
 * memory pool ({@link CachingAllocator.GraphPool}), a replay counter on the device (one float, advanced by
 * the graph's last kernel) that Adam's step count and dropout's seed add to, and the static int32 buffer
 * that a captured cross-entropy reads its targets from.
 *
 * <p>The backend's first capture gives cuBLAS a user workspace ({@code cublasSetWorkspace}, NVIDIA's
 * recommended size), kept for the backend's life, so that cuBLAS allocates nothing inside a capture.
 *
 * <p>While capturing, {@link CudaBackend} asks this object for those ({@link #replayCounter()},
 * {@link #targets}); outside a capture it has none.
 */
final class CudaGraphCapture implements CapturedGraph {
    private final Stream stream;
    private final HostToDeviceStaging staging;
    private final CachingAllocator.GraphPool pool;
    private final DeviceMemory replayCounter;
    private CudaGraph graph;
    private long replays;
    private boolean closed;

    // The captured cross-entropy's targets: one buffer, its shape, and the rows it averaged over.
    private DeviceMemory targets;
    private int[] capturedTargets;
    private int targetRows, classes, ignoreIndex, countedRows;
    private boolean targetsSet;

    private CudaGraphCapture(Stream stream, HostToDeviceStaging staging, CachingAllocator.GraphPool pool,
                             DeviceMemory replayCounter) {
        this.stream = stream;
        this.staging = staging;
        this.pool = pool;
        this.replayCounter = replayCounter;
    }

    /**
     * Captures {@code body} on the backend's stream. The replay counter is allocated and zeroed before the
     * capture (a zeroing recorded in the graph would reset it every replay).
     */
    static CudaGraphCapture capture(CudaBackend backend, Stream stream, CachingAllocator allocator,
                                    HostToDeviceStaging staging, Cublas cublas, Runnable body) {
        if (backend.cublasWorkspace == null) {
            // cuBLAS's own workspace pool would allocate inside the capture: give it one for the backend's life.
            DeviceMemory workspace = allocator.allocate(Cublas.recommendedWorkspaceBytes(backend.properties().major()));
            try {
                cublas.setWorkspace(workspace);
            } catch (RuntimeException e) {
                workspace.close();
                throw e;
            }
            backend.cublasWorkspace = workspace;
        }
        DeviceMemory counter = allocator.allocate(Float.BYTES);
        CudaGraphCapture c;
        try {
            stream.memset(counter, 0, 0, Float.BYTES);
            c = new CudaGraphCapture(stream, staging, allocator.beginGraphPool(), counter);
        } catch (RuntimeException e) {
            counter.close();
            throw e;
        }
        backend.capture = c;
        try {
            c.graph = CudaGraph.capture(stream, () -> {
                body.run();
                NativeKernels.get().countReplay(stream, counter);
            });
        } catch (RuntimeException | Error e) {
            backend.capture = null;
            c.close();
            throw e;
        } finally {
            backend.capture = null;
            c.pool.endCapture();
        }
        return c;
    }

    /** The device counter that captured Adam steps and dropout masks add to their step and seed. */
    DeviceMemory replayCounter() {
        return replayCounter;
    }

    /**
     * The static buffer a captured cross-entropy reads {@code targets} from (forward and backward pass the
     * same array). Its values come from {@link #setTargets} before each replay, not from {@code targets}.
     */
    DeviceMemory targets(int[] targets, int rows, int classes, int ignoreIndex, CachingAllocator allocator) {
        if (this.targets == null) {
            this.targets = allocator.allocate((long) rows * Integer.BYTES);
            this.capturedTargets = targets;
            this.targetRows = rows;
            this.classes = classes;
            this.ignoreIndex = ignoreIndex;
            this.countedRows = countNotIgnored(targets, ignoreIndex);
        } else if (targets != capturedTargets) {
            throw new UnsupportedOperationException("a captured step may contain one cross-entropy (its targets are "
                    + "the graph's one static targets buffer); this is a second one, over " + rows + " rows");
        }
        return this.targets;
    }

    private static int countNotIgnored(int[] targets, int ignoreIndex) {
        int n = 0;
        for (int t : targets) {
            n += t == ignoreIndex ? 0 : 1;
        }
        return n;
    }

    @Override
    public void setTargets(int[] values) {
        checkOpen();
        if (targets == null) {
            throw new IllegalStateException("setTargets: the captured step has no cross-entropy");
        }
        if (values == null || values.length != targetRows) {
            throw new IllegalArgumentException("setTargets: " + (values == null ? "null" : values.length + " targets")
                    + " for a step captured with " + targetRows + " rows (recapture for another batch size)");
        }
        for (int i = 0; i < values.length; i++) {
            int t = values[i];
            if (t != ignoreIndex && (t < 0 || t >= classes)) {
                throw new IllegalArgumentException("setTargets: target " + t + " at row " + i + " is outside [0, "
                        + classes + ") (ignore index " + ignoreIndex + ")");
            }
        }
        int counted = countNotIgnored(values, ignoreIndex);
        if (counted != countedRows) {
            throw new IllegalArgumentException("setTargets: " + counted + " rows are not ignored but the step was "
                    + "captured averaging over " + countedRows + " (the divisor is part of the graph): recapture");
        }
        staging.upload(values, targets);
        targetsSet = true;
    }

    @Override
    public void replay() {
        checkOpen();
        if (targets != null && !targetsSet) {
            throw new IllegalStateException("replay: the captured step reads cross-entropy targets from its static "
                    + "buffer; call setTargets before the first replay");
        }
        graph.launch(stream);
        replays++;
    }

    @Override
    public long replays() {
        return replays;
    }

    @Override
    public long poolBytes() {
        return pool.newBytes();
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the captured graph is closed");
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = null;
        for (Runnable release : new Runnable[] {
                () -> { if (graph != null) graph.close(); },
                () -> { if (targets != null) targets.close(); },
                pool::close,
                replayCounter::close}) {
            try {
                release.run();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
