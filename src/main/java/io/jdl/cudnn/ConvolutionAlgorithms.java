package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

import io.jdl.cuda.DeviceMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;
import java.util.function.LongFunction;

/**
 * The algorithms one convolution direction (forward, backward data or backward filter) may use, in
 * preference order, and the one that last ran.
 *
 * <p>{@code cudnnGet*Algorithm_v7} only estimates: a listed algorithm may need more workspace than is
 * reasonable, or refuse to run this shape. So every candidate that succeeded in the heuristics, whose
 * workspace query succeeds and stays within {@link #WORKSPACE_LIMIT}, and whose math type is allowed
 * (tensor-core math only when the plan allows it: TF32 on for float data, by default for half data) is kept: deterministic ones first, then in cuDNN's order. A run
 * tries them from the last one that worked; one that fails is skipped from then on.
 *
 * <p>Not thread-safe, like the handle the runs go through.
 */
public final class ConvolutionAlgorithms {
    /** The most workspace one convolution may take (cuDNN's FFT algorithms can ask for gigabytes). */
    static final long WORKSPACE_LIMIT = 1L << 30;

    public record Candidate(int algo, int mathType, long workspaceBytes) {}

    /** A {@code cudnnGet*WorkspaceSize} call for one algorithm, writing the size to {@code size}. */
    interface WorkspaceQuery {
        int query(int algo, MemorySegment size);
    }

    /** One field of a perf struct (algo, status, determinism or mathType). */
    interface Field {
        int get(MemorySegment perf);
    }

    /** A {@code cudnnConvolution*} call with one algorithm and its workspace; returns the status. */
    interface Run {
        int run(int algo, MemorySegment workspace, long workspaceBytes);
    }

    private final String direction;
    private final List<Candidate> candidates;
    private int next;

    private ConvolutionAlgorithms(String direction, List<Candidate> candidates) {
        this.direction = direction;
        this.candidates = candidates;
    }

    /**
     * Keeps the usable entries of the {@code returned} perf structs {@code perf(0..returned-1)}; throws
     * {@link IllegalStateException} naming why each was dropped when none is usable.
     */
    static ConvolutionAlgorithms choose(String direction, int returned, boolean tensorOps, ConvolutionDescriptor conv,
                                        IntFunction<MemorySegment> perf, Field algo, Field status,
                                        Field determinism, Field mathType, WorkspaceQuery workspace) {
        List<Candidate> deterministic = new ArrayList<>(), other = new ArrayList<>();
        List<String> dropped = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment size = arena.allocate(ValueLayout.JAVA_LONG);
            for (int i = 0; i < returned; i++) {
                MemorySegment p = perf.apply(i);
                int a = algo.get(p), math = mathType.get(p);
                if (status.get(p) != CUDNN_STATUS_SUCCESS()) {
                    dropped.add("algo " + a + ": " + Cudnn.statusName(status.get(p)));
                    continue;
                }
                if (!tensorOps && (math == CUDNN_TENSOR_OP_MATH() || math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION())) {
                    dropped.add("algo " + a + ": tensor-core math not allowed (TF32 off)");
                    continue;
                }
                // The workspace an algorithm needs can depend on the math type it runs under.
                conv.mathType(math);
                int q = workspace.query(a, size);
                if (q != CUDNN_STATUS_SUCCESS()) {
                    dropped.add("algo " + a + ": workspace query " + Cudnn.statusName(q) + " (" + Cudnn.lastError() + ")");
                    continue;
                }
                long bytes = size.get(ValueLayout.JAVA_LONG, 0);
                if (bytes > WORKSPACE_LIMIT) {
                    dropped.add("algo " + a + ": " + bytes + " workspace bytes over the " + WORKSPACE_LIMIT + " limit");
                    continue;
                }
                (determinism.get(p) == CUDNN_DETERMINISTIC() ? deterministic : other).add(new Candidate(a, math, bytes));
            }
        }
        deterministic.addAll(other);
        if (deterministic.isEmpty()) {
            throw new IllegalStateException("cuDNN offers no usable convolution " + direction + " algorithm for this shape ("
                    + returned + " candidates: " + String.join("; ", dropped) + ")");
        }
        return new ConvolutionAlgorithms(direction, List.copyOf(deterministic));
    }

    List<Candidate> candidates() {
        return candidates;
    }

    /** The candidate the next run tries first. */
    Candidate current() {
        return candidates.get(next);
    }

    /**
     * Runs the first candidate, from the last that worked, that succeeds: sets the descriptor's math type
     * to the candidate's and gives it a workspace from {@code workspaces} (closed after the call is
     * queued). Throws {@link CudnnException} with every candidate's failure when none runs.
     */
    void run(ConvolutionDescriptor conv, LongFunction<DeviceMemory> workspaces, String call, Run run) {
        List<String> failures = new ArrayList<>();
        int lastStatus = CUDNN_STATUS_SUCCESS();
        for (int i = next; i < candidates.size(); i++) {
            Candidate c = candidates.get(i);
            conv.mathType(c.mathType());
            int status;
            try (DeviceMemory ws = c.workspaceBytes() > 0 ? workspaces.apply(c.workspaceBytes()) : null) {
                status = run.run(c.algo(), ws == null ? MemorySegment.NULL : ws.pointer(), c.workspaceBytes());
            }
            if (status == CUDNN_STATUS_SUCCESS()) {
                next = i;
                return;
            }
            lastStatus = status;
            failures.add("algo " + c.algo() + ": " + Cudnn.statusName(status) + " (" + Cudnn.lastError() + ")");
        }
        next = 0;  // none ran (a bad argument, most likely): the next run tries them all again
        throw new CudnnException(call, lastStatus, Cudnn.statusName(lastStatus),
                "no " + direction + " algorithm ran: " + String.join("; ", failures));
    }
}
