package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.NativeResource;
import io.jdl.cudnn.FlashAttention.Config;
import io.jdl.cudnn.FlashAttention.Direction;
import io.jdl.cudnn.FlashAttention.Layout;
import io.jdl.cudnn.FlashAttention.Operand;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongFunction;

/**
 * A finalized cuDNN execution plan for one {@link FlashAttention} graph: the graph's descriptors, the engine
 * configuration cuDNN's heuristics chose, the workspace it needs. Build one per {@link Config} and direction
 * ({@link FlashAttention#plan}), cache it, run it many times; {@link #close()} destroys every descriptor.
 * Not thread-safe, like the handle it runs through.
 *
 * <p>Workspace: cuDNN's own bytes first, then (backward) jdl's float32 Δ [B, H, T, 1] and dQ accumulator
 * [B, H, T, D], each 256-byte aligned, from one block that {@code workspaces} provides per run and that is
 * closed once the run is queued.
 */
public final class FlashAttentionPlan extends NativeResource {
    /** The most workspace one attention call may take (the convolution plans' limit). */
    static final long WORKSPACE_LIMIT = ConvolutionAlgorithms.WORKSPACE_LIMIT;
    /** Engine configurations asked of the heuristics; the first that finalizes is kept. */
    private static final int MAX_ENGINE_CONFIGS = 8;
    /** cuDNN 9.6 stopped needing the frontend to zero dQ's accumulator. */
    private static final long ZEROES_DQ_ACCUMULATOR_SINCE = 90600;
    /** Before cuDNN 9.10 the frontend masks with float's lowest value, "preferred for softmax"; since, with -inf. */
    private static final long MASKS_WITH_INFINITY_SINCE = 91000;

    /** Runs queued by every plan of the process (forward and backward): how tests see that the fused path ran. */
    private static final LongAdder EXECUTIONS = new LongAdder();

    private final Config config;
    private final Direction direction;
    private final GraphBuilder graph;
    private final BackendDescriptor plan;
    private final long cudnnWorkspace;
    private final Arena scalars = Arena.ofShared();
    private final MemorySegment scale, negInf, one;

    private FlashAttentionPlan(Config config, Direction direction, GraphBuilder graph, BackendDescriptor plan,
                               long cudnnWorkspace) {
        this.config = config;
        this.direction = direction;
        this.graph = graph;
        this.plan = plan;
        this.cudnnWorkspace = cudnnWorkspace;
        this.scale = scalars.allocateFrom(ValueLayout.JAVA_FLOAT, config.scale());
        this.negInf = scalars.allocateFrom(ValueLayout.JAVA_FLOAT,
                Cudnn.version() < MASKS_WITH_INFINITY_SINCE ? -Float.MAX_VALUE : Float.NEGATIVE_INFINITY);
        this.one = scalars.allocateFrom(ValueLayout.JAVA_FLOAT, 1f);
    }

    /** Finalizes {@code g}'s graph, asks the heuristics, keeps the first engine configuration that finalizes. */
    static FlashAttention.Build select(Cudnn cudnn, Config config, Direction direction, GraphBuilder g) {
        BackendDescriptor opGraph = g.finish(cudnn);
        int status = opGraph.tryFinalize();
        if (status != CUDNN_STATUS_SUCCESS()) {
            return unsupported(g, "the operation graph", status);
        }
        BackendDescriptor heuristics = g.adopt(BackendDescriptor.create(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR(),
                "engine heuristics"));
        heuristics.setDescriptors(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH(), "OPERATION_GRAPH", opGraph)
                .setEnum(CUDNN_ATTR_ENGINEHEUR_MODE(), CUDNN_TYPE_HEUR_MODE(), CUDNN_HEUR_MODE_A(), "MODE");
        status = heuristics.tryFinalize();
        if (status != CUDNN_STATUS_SUCCESS()) {
            return unsupported(g, "the engine heuristics", status);
        }
        BackendDescriptor[] configs = new BackendDescriptor[MAX_ENGINE_CONFIGS];
        for (int i = 0; i < configs.length; i++) {
            configs[i] = g.adopt(BackendDescriptor.create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR(), "engine config " + i));
        }
        int found = heuristics.getDescriptors(CUDNN_ATTR_ENGINEHEUR_RESULTS(), "RESULTS", configs);
        List<String> refused = new ArrayList<>();
        if (found == 0) {
            refused.add(Cudnn.lastError()); // why the heuristics found none, where cuDNN says
        }
        for (int i = 0; i < found; i++) {
            BackendDescriptor plan = g.adopt(BackendDescriptor.create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR(),
                    "execution plan " + i));
            plan.setHandle(CUDNN_ATTR_EXECUTION_PLAN_HANDLE(), cudnn, "HANDLE")
                    .setDescriptors(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG(), "ENGINE_CONFIG", configs[i]);
            status = plan.tryFinalize();
            if (status != CUDNN_STATUS_SUCCESS()) {
                refused.add("engine config " + i + ": " + Cudnn.statusName(status) + " (" + Cudnn.lastError() + ")");
                continue;
            }
            long workspace = plan.getLong(CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE(), "WORKSPACE_SIZE");
            if (workspace > WORKSPACE_LIMIT) {
                refused.add("engine config " + i + ": " + workspace + " workspace bytes over the limit");
                continue;
            }
            return new FlashAttention.Build.Ready(new FlashAttentionPlan(config, direction, g, plan, workspace));
        }
        g.close();
        return new FlashAttention.Build.Unsupported("no engine runs the " + direction.name().toLowerCase()
                + " flash-attention graph for " + config + " (" + found + " engine configurations"
                + (refused.isEmpty() ? "" : ": " + String.join("; ", refused)) + ")");
    }

    private static FlashAttention.Build unsupported(GraphBuilder g, String what, int status) {
        String reason = "cuDNN declines " + what + ": " + Cudnn.statusName(status) + " (" + Cudnn.lastError() + ")";
        g.close();
        if (!Cudnn.statusName(status).startsWith("CUDNN_STATUS_NOT_SUPPORTED")) {
            throw new CudnnException("cudnnBackendFinalize(" + what + ")", status, Cudnn.statusName(status), reason);
        }
        return new FlashAttention.Build.Unsupported(reason);
    }

    /** Flash-attention graphs queued so far in this process, forward and backward. */
    public static long executions() {
        return EXECUTIONS.sum();
    }

    public Config config() {
        return config;
    }

    public Direction direction() {
        return direction;
    }

    /** Workspace bytes one run takes from {@code workspaces}: cuDNN's plus jdl's float32 buffers (backward). */
    public long workspaceBytes() {
        return direction == Direction.FORWARD ? cudnnWorkspace : dQAccumOffset() + config.elements() * Float.BYTES;
    }

    private long softmaxSumOffset() {
        return align(cudnnWorkspace);
    }

    private long dQAccumOffset() {
        return align(softmaxSumOffset() + config.rows() * Float.BYTES);
    }

    private static long align(long bytes) {
        return (bytes + 255) / 256 * 256;
    }

    private void checkBlock(DeviceMemory m, String name, long bytes) {
        if (m == null) {
            throw new NullPointerException("flash attention operand " + name + " is null");
        }
        if (m.bytes() < bytes) {
            throw new IllegalArgumentException("flash attention operand " + name + " needs " + bytes + " bytes for "
                    + config + " but its device block has " + m.bytes());
        }
    }

    /** The operand's first element's address, after checking that its layout ({@code seq} rows a head) stays inside its block. */
    private MemorySegment pointer(Operand op, String name, Layout layout, int seq) {
        if (op == null) {
            throw new NullPointerException("flash attention operand " + name + " is null");
        }
        long elementBytes = config.type().bytes();
        checkBlock(op.memory(), name, (op.offset() + layout.span(config, seq)) * elementBytes);
        return op.memory().pointer(op.offset() * elementBytes);
    }

    private void checkDirection(Direction wanted) {
        checkOpen();
        if (direction != wanted) {
            throw new IllegalStateException("this flash-attention plan runs the " + direction + " graph, not " + wanted);
        }
    }

    /** The bias's pointer when the plan adds one (checked), else a check that none was given. */
    private void addBias(DeviceMemory bias, List<Long> ids, List<MemorySegment> pointers) {
        if (!config.keyBias()) {
            if (bias != null) {
                throw new IllegalArgumentException("this flash-attention plan adds no bias, but one was given");
            }
            return;
        }
        checkBlock(bias, "bias", (long) config.batch() * config.seqQ() * config.seqKV() * config.type().bytes());
        ids.add(FlashAttention.BIAS);
        pointers.add(bias.pointer());
    }

    /** The dropout mask's pointer when the plan has one (checked), else a check that none was given. */
    private void addDropoutMask(DeviceMemory mask, List<Long> ids, List<MemorySegment> pointers) {
        if (!config.dropoutMask()) {
            if (mask != null) {
                throw new IllegalArgumentException("this flash-attention plan has no dropout, but a mask was given");
            }
            return;
        }
        checkBlock(mask, "dropout mask", config.rows() * config.seqKV() * Float.BYTES);
        ids.add(FlashAttention.DROPOUT_MASK);
        pointers.add(mask.pointer());
    }

    /**
     * O = softmax(scale · Q Kᵀ (+ bias) (+ causal mask)) V and the row statistics (log-sum-exp), overwritten. Q,
     * O [B, H, Tq, D] and K, V [B, H, Tk, D] in the plan's data type and layouts, stats [B, H, Tq, 1] float32, bias
     * [B, 1, Tq, Tk] in the data type and the dropout mask [B, H, Tq, Tk] float32 when the plan has them (else null).
     */
    public void forward(Cudnn cudnn, Operand q, Operand k, Operand v, Operand o, DeviceMemory stats, DeviceMemory bias,
                        DeviceMemory dropoutMask, LongFunction<DeviceMemory> workspaces) {
        checkDirection(Direction.FORWARD);
        checkBlock(stats, "stats", config.rows() * Float.BYTES);
        List<Long> ids = new ArrayList<>(List.of(FlashAttention.Q, FlashAttention.K, FlashAttention.V, FlashAttention.O,
                FlashAttention.STATS, FlashAttention.SCALE));
        int tq = config.seqQ(), tk = config.seqKV();
        List<MemorySegment> pointers = new ArrayList<>(List.of(pointer(q, "q", config.q(), tq),
                pointer(k, "k", config.k(), tk), pointer(v, "v", config.v(), tk), pointer(o, "o", config.o(), tq),
                stats.pointer(), scale));
        addBias(bias, ids, pointers);
        addDropoutMask(dropoutMask, ids, pointers);
        if (config.causal()) {
            ids.add(FlashAttention.NEG_INF);
            pointers.add(negInf);
        }
        try (DeviceMemory ws = workspaceBytes() > 0 ? workspaces.apply(workspaceBytes()) : null) {
            execute(cudnn, ids, pointers, ws);
        }
    }

    /**
     * dQ, dK, dV (overwritten) from the forward's inputs, its output O, statistics and bias, and dO; each gradient
     * in its input's shape, layout and the plan's data type (dO in O's), the statistics [B, H, Tq, 1] float32.
     */
    public void backward(Cudnn cudnn, Operand q, Operand k, Operand v, Operand o, Operand dO, DeviceMemory stats,
                         DeviceMemory bias, DeviceMemory dropoutMask, Operand dQ, Operand dK, Operand dV,
                         LongFunction<DeviceMemory> workspaces) {
        checkDirection(Direction.BACKWARD);
        checkBlock(stats, "stats", config.rows() * Float.BYTES);
        int tq = config.seqQ(), tk = config.seqKV();
        List<MemorySegment> operands = List.of(pointer(q, "q", config.q(), tq), pointer(k, "k", config.k(), tk),
                pointer(v, "v", config.v(), tk), pointer(o, "o", config.o(), tq), pointer(dO, "dO", config.o(), tq),
                pointer(dQ, "dQ", config.q(), tq), pointer(dK, "dK", config.k(), tk), pointer(dV, "dV", config.v(), tk));
        try (DeviceMemory ws = workspaces.apply(workspaceBytes())) {
            checkBlock(ws, "workspace", workspaceBytes());
            if (Cudnn.version() < ZEROES_DQ_ACCUMULATOR_SINCE) {
                cudnn.stream().memset(ws, dQAccumOffset(), 0, config.elements() * Float.BYTES);
            }
            List<Long> ids = new ArrayList<>(List.of(FlashAttention.Q, FlashAttention.K, FlashAttention.V,
                    FlashAttention.O, FlashAttention.D_O, FlashAttention.D_Q, FlashAttention.D_K, FlashAttention.D_V,
                    FlashAttention.STATS, FlashAttention.SOFTMAX_SUM, FlashAttention.D_Q_ACCUM, FlashAttention.SCALE,
                    FlashAttention.ONE));
            List<MemorySegment> pointers = new ArrayList<>(operands);
            pointers.addAll(List.of(stats.pointer(), ws.pointer(softmaxSumOffset()), ws.pointer(dQAccumOffset()), scale,
                    one));
            addBias(bias, ids, pointers);
            addDropoutMask(dropoutMask, ids, pointers);
            if (config.causal()) {
                ids.add(FlashAttention.NEG_INF);
                pointers.add(negInf);
            }
            execute(cudnn, ids, pointers, ws);
        }
    }

    private void execute(Cudnn cudnn, List<Long> ids, List<MemorySegment> pointers, DeviceMemory workspace) {
        try (BackendDescriptor pack = BackendDescriptor.create(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR(), "variant pack")) {
            pack.setLongs(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS(), "UNIQUE_IDS",
                            ids.stream().mapToLong(Long::longValue).toArray())
                    .setPointers(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS(), "DATA_POINTERS",
                            pointers.toArray(MemorySegment[]::new))
                    .setPointers(CUDNN_ATTR_VARIANT_PACK_WORKSPACE(), "WORKSPACE",
                            workspace == null ? MemorySegment.NULL : workspace.pointer())
                    .finalizeChecked();
            Cudnn.check(cudnnBackendExecute(cudnn.handle(), plan.handle(), pack.handle()),
                    "cudnnBackendExecute(flash attention " + direction.name().toLowerCase() + ")");
            EXECUTIONS.increment();
        }
    }

    @Override
    protected void release() {
        try {
            graph.close();
        } finally {
            scalars.close();
        }
    }

    @Override
    protected String describe() {
        return "cuDNN flash-attention " + direction.name().toLowerCase() + " plan " + config;
    }
}
