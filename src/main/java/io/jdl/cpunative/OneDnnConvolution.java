package io.jdl.cpunative;

import static io.jdl.bindings.dnnl.dnnl_h.*;

import io.jdl.bindings.dnnl.dnnl_memory_desc_t;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * oneDNN's direct convolution (forward, backward data, backward weights) for one shape, on float32 NCHW
 * tensors with OIHW (GOIHW with groups) weights and no bias, as PyTorch's {@code conv2d} computes it.
 *
 * <p>Layouts: each primitive is created with its tensors' layouts left to oneDNN ({@code dnnl_format_tag_any}),
 * which picks its blocked layouts (e.g. {@code nChw16c} on AVX-512) and its JIT kernels for them; a tensor whose
 * chosen layout is not the plain one is reordered into it before the call (inputs) or out of it after (the
 * result), as PyTorch's oneDNN path does. With plain layouts forced, oneDNN falls back to im2col and GEMM.
 *
 * <p>Memory: oneDNN primitives keep pointers to their memory, so they cannot work on Java heap arrays: each call
 * copies its inputs (in pieces, across the caller's threads) into this object's off-heap plain buffers (one per tensor role: source, weights,
 * destination; a gradient uses the buffer of the tensor it is the gradient of) and its result back. The copies
 * and reorders are linear in the tensors; the convolution is not.
 *
 * <p>Lifetime: the buffers, the stream and the primitives live until {@link #close()}; a closed object refuses every call.
 * Thread safety: calls on one object are serialised (they share the buffers and the stream).
 */
public final class OneDnnConvolution implements AutoCloseable {
    /** The CPU engine, made once per process: creating one detects the CPU's instruction sets. */
    private static final MemorySegment ENGINE;

    static {
        CpuNativeLibraries.load(CpuNativeLibraries.Library.ONEDNN);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            OneDnn.check(dnnl_engine_create(out, dnnl_cpu(), 0), "dnnl_engine_create");
            ENGINE = out.get(ValueLayout.ADDRESS, 0);
        }
    }

    /** Loads oneDNN and creates its CPU engine (if not yet); throws {@link CpuNativeLibraryException} when it cannot. */
    public static void ensureLoaded() {
        // The static initialiser did the work.
    }

    private final Arena arena = Arena.ofShared();
    /** Every oneDNN object made here, destroyed by close() in reverse order. */
    private final List<MemorySegment> primitives = new ArrayList<>(), primitiveDescs = new ArrayList<>(),
            memories = new ArrayList<>();
    /** Every argument bound so far: a later one with the same plain memory and chosen layout shares its memory. */
    private final List<Arg> bound = new ArrayList<>();
    private final long srcElements, weightElements, dstElements, biasElements;
    private final ParallelLoop parallel;
    /** The plain (NCHW / OIHW / x) buffers and their memory objects. */
    private final MemorySegment srcBuf, weightBuf, dstBuf, biasBuf, srcMem, weightMem, dstMem, biasMem;
    /** What the bias variants are built from, on first use: descriptors, geometry, the forward hint. */
    private final MemorySegment srcAny, weightAny, dstAny, srcPlain, weightPlain, dstPlain, biasPlain, strides, dilates,
            pad, fwdPd;
    private final Step forward, backwardData, backwardWeights;
    /** The same with a bias (forward) and its gradient (backward weights); null until first asked for. */
    private Step forwardBias, backwardWeightsBias;
    /** The stream every call runs on: made once (calls are serialised), destroyed by close(). */
    private MemorySegment stream = MemorySegment.NULL;
    private boolean closed;

    /**
     * Runs body(i) for i in [0, count) across threads when {@code work} (elements touched) repays the hand-off:
     * the caller's pool, so the copies run on the threads its other kernels run on.
     */
    @FunctionalInterface
    public interface ParallelLoop {
        void forEach(int count, long work, IntConsumer body);
    }

    /**
     * Builds the three primitives for the given NCHW shape (padding symmetric, as PyTorch's; {@code oh}/{@code ow}
     * the output size it gives); the copies between the heap arrays and the buffers run through {@code parallel}.
     *
     * @throws OneDnnException when oneDNN has no implementation for it (the caller then uses its own kernel)
     */
    public OneDnnConvolution(int n, int c, int h, int w, int k, int r, int s, int oh, int ow, int strideH, int strideW,
                             int padH, int padW, int dilationH, int dilationW, int groups, ParallelLoop parallel) {
        this.parallel = parallel;
        boolean done = false;
        try {
            srcElements = (long) n * c * h * w;
            weightElements = (long) k * (c / groups) * r * s;
            dstElements = (long) n * k * oh * ow;
            biasElements = k;
            long[] srcDims = {n, c, h, w}, dstDims = {n, k, oh, ow};
            long[] weightDims = groups == 1 ? new long[] {k, c, r, s} : new long[] {groups, k / groups, c / groups, r, s};
            int weightTag = groups == 1 ? dnnl_oihw() : dnnl_goihw();
            srcPlain = desc(dnnl_nchw(), srcDims);
            weightPlain = desc(weightTag, weightDims);
            dstPlain = desc(dnnl_nchw(), dstDims);
            biasPlain = desc(dnnl_x(), k);
            srcAny = desc(dnnl_format_tag_any(), srcDims);
            dstAny = desc(dnnl_format_tag_any(), dstDims);
            weightAny = desc(dnnl_format_tag_any(), weightDims);
            srcBuf = arena.allocate(srcElements * Float.BYTES, 64);
            weightBuf = arena.allocate(weightElements * Float.BYTES, 64);
            dstBuf = arena.allocate(dstElements * Float.BYTES, 64);
            biasBuf = arena.allocate(biasElements * Float.BYTES, 64);
            srcMem = memory(srcPlain, srcBuf);
            weightMem = memory(weightPlain, weightBuf);
            dstMem = memory(dstPlain, dstBuf);
            biasMem = memory(biasPlain, biasBuf);
            strides = dims(strideH, strideW);
            dilates = dims(dilationH - 1L, dilationW - 1L);
            pad = dims(padH, padW);

            fwdPd = forwardDesc(MemorySegment.NULL);
            forward = forwardStep(fwdPd, false);
            backwardWeights = backwardWeightsStep(false);

            MemorySegment bwdData = opDesc();
            OneDnn.check(dnnl_dilated_convolution_backward_data_desc_init(bwdData, dnnl_convolution_direct(), srcAny,
                    weightAny, dstAny, strides, dilates, pad, pad), "dnnl_dilated_convolution_backward_data_desc_init");
            backwardData = new Step(primitiveDesc(bwdData, fwdPd),
                    new ArgSpec(DNNL_ARG_DIFF_DST(), dnnl_query_diff_dst_md(), 0, dstPlain, dstMem, true),
                    new ArgSpec(DNNL_ARG_WEIGHTS(), dnnl_query_weights_md(), 0, weightPlain, weightMem, true),
                    new ArgSpec(DNNL_ARG_DIFF_SRC(), dnnl_query_diff_src_md(), 0, srcPlain, srcMem, false));
            MemorySegment streamOut = arena.allocate(ValueLayout.ADDRESS);
            OneDnn.check(dnnl_stream_create(streamOut, ENGINE, dnnl_stream_default_flags()), "dnnl_stream_create");
            stream = streamOut.get(ValueLayout.ADDRESS, 0);
            done = true;
        } finally {
            if (!done) {
                close();
            }
        }
    }

    /** The forward primitive descriptor, with the bias when {@code bias} is a descriptor (else NULL). */
    private MemorySegment forwardDesc(MemorySegment bias) {
        MemorySegment fwd = opDesc();
        OneDnn.check(dnnl_dilated_convolution_forward_desc_init(fwd, dnnl_forward_training(), dnnl_convolution_direct(),
                srcAny, weightAny, bias, dstAny, strides, dilates, pad, pad), "dnnl_dilated_convolution_forward_desc_init");
        return primitiveDesc(fwd, MemorySegment.NULL);
    }

    private Step forwardStep(MemorySegment pd, boolean withBias) {
        ArgSpec src = new ArgSpec(DNNL_ARG_SRC(), dnnl_query_src_md(), 0, srcPlain, srcMem, true),
                weights = new ArgSpec(DNNL_ARG_WEIGHTS(), dnnl_query_weights_md(), 0, weightPlain, weightMem, true),
                dst = new ArgSpec(DNNL_ARG_DST(), dnnl_query_dst_md(), 0, dstPlain, dstMem, false);
        return withBias
                ? new Step(pd, src, weights, new ArgSpec(DNNL_ARG_BIAS(), dnnl_query_weights_md(), 1, biasPlain, biasMem,
                        true), dst)
                : new Step(pd, src, weights, dst);
    }

    private Step backwardWeightsStep(boolean withBias) {
        MemorySegment bwdWeights = opDesc();
        OneDnn.check(dnnl_dilated_convolution_backward_weights_desc_init(bwdWeights, dnnl_convolution_direct(),
                srcAny, weightAny, withBias ? biasPlain : MemorySegment.NULL, dstAny, strides, dilates, pad, pad),
                "dnnl_dilated_convolution_backward_weights_desc_init");
        MemorySegment pd = primitiveDesc(bwdWeights, fwdPd);
        ArgSpec src = new ArgSpec(DNNL_ARG_SRC(), dnnl_query_src_md(), 0, srcPlain, srcMem, true),
                diffDst = new ArgSpec(DNNL_ARG_DIFF_DST(), dnnl_query_diff_dst_md(), 0, dstPlain, dstMem, true),
                diffWeights = new ArgSpec(DNNL_ARG_DIFF_WEIGHTS(), dnnl_query_diff_weights_md(), 0, weightPlain,
                        weightMem, false);
        return withBias
                ? new Step(pd, src, diffDst, diffWeights, new ArgSpec(DNNL_ARG_DIFF_BIAS(),
                        dnnl_query_diff_weights_md(), 1, biasPlain, biasMem, false))
                : new Step(pd, src, diffDst, diffWeights);
    }

    /** y = conv(x, w) + bias[channel] ({@code bias} [k], or null for none), bias added inside oneDNN's kernel. */
    public synchronized void forward(float[] x, float[] w, float[] bias, float[] y) {
        copyIn(x, srcBuf, srcElements);
        copyIn(w, weightBuf, weightElements);
        Step step = forward;
        if (bias != null) {
            copyIn(bias, biasBuf, biasElements);
            if (forwardBias == null) {
                forwardBias = forwardStep(forwardDesc(biasPlain), true);
            }
            step = forwardBias;
        }
        step.run();
        copyOut(dstBuf, y, dstElements);
    }

    /**
     * The gradients of Σ dy·(conv(x, w) + bias) from one copy of dy: dx, dw and db, each overwritten, each skipped
     * when null; db is computed inside the backward-weights kernel, so it needs dw. dy is copied in and reordered to
     * the kernels' layout once for both directions (when both chose the same layout).
     *
     * @throws IllegalArgumentException for a db without a dw
     */
    public synchronized void backward(float[] x, float[] w, float[] dy, float[] dx, float[] dw, float[] db) {
        if (db != null && dw == null) {
            throw new IllegalArgumentException("oneDNN computes the bias gradient with the weights' gradient: db needs dw");
        }
        copyIn(dy, dstBuf, dstElements);
        MemorySegment dyReordered = MemorySegment.NULL;
        if (dw != null) {
            // Backward weights first: it reads x from the source buffer, which backward data then overwrites with dx.
            copyIn(x, srcBuf, srcElements);
            if (db != null && backwardWeightsBias == null) {
                backwardWeightsBias = backwardWeightsStep(true);
            }
            Step step = db != null ? backwardWeightsBias : backwardWeights;
            dyReordered = step.run(MemorySegment.NULL);
            copyOut(weightBuf, dw, weightElements);
            if (db != null) {
                copyOut(biasBuf, db, biasElements);
            }
        }
        if (dx != null) {
            copyIn(w, weightBuf, weightElements);
            backwardData.run(dyReordered);
            copyOut(srcBuf, dx, srcElements);
        }
    }

    /**
     * One argument of a primitive: the plain memory it is read from (input) or written to (output) and, when the
     * primitive chose another layout, its own memory in that layout and the reorder between the two. Arguments of
     * one plain buffer that chose the same layout share that memory (one blocked copy per tensor role, whatever
     * the number of primitives).
     */
    private final class Arg {
        final int id;
        final MemorySegment plainMem, chosen;
        /** The memory the primitive uses; the reorder to or from the plain memory (null: none needed) and its arguments. */
        final MemorySegment used, reorder, reorderArgs;
        final boolean input;

        Arg(ArgSpec a, MemorySegment pd) {
            this.id = a.id;
            this.input = a.input;
            this.plainMem = a.plainMem;
            this.chosen = dnnl_primitive_desc_query_md(pd, a.query, a.index);
            if (dnnl_memory_desc_equal(chosen, a.plainDesc) != 0) {
                used = a.plainMem;
                reorder = null;
                reorderArgs = null;
                return;
            }
            Arg same = bound.stream().filter(b -> b.plainMem.equals(a.plainMem) && b.reorder != null
                    && dnnl_memory_desc_equal(b.chosen, chosen) != 0).findFirst().orElse(null);
            used = same != null ? same.used : memory(chosen, DNNL_MEMORY_ALLOCATE());
            if (same != null && same.input == input) {
                reorder = same.reorder;
                reorderArgs = same.reorderArgs;
            } else {
                reorder = input ? reorder(a.plainDesc, chosen) : reorder(chosen, a.plainDesc);
                reorderArgs = arena.allocate(32, 8);
                reorderArgs.set(ValueLayout.JAVA_INT, 0, DNNL_ARG_FROM());
                reorderArgs.set(ValueLayout.ADDRESS, 8, input ? a.plainMem : used);
                reorderArgs.set(ValueLayout.JAVA_INT, 16, DNNL_ARG_TO());
                reorderArgs.set(ValueLayout.ADDRESS, 24, input ? used : a.plainMem);
            }
            bound.add(this);
        }
    }

    /** An argument as the constructor names it ({@code index}: which of the query's descriptors), bound by {@link Step}. */
    private record ArgSpec(int id, int query, int index, MemorySegment plainDesc, MemorySegment plainMem, boolean input) {
    }

    /** A primitive with its arguments: reorders in, the primitive, reorder out, all on this object's stream. */
    private final class Step {
        final MemorySegment primitive;
        final Arg[] args;

        /** The dnnl_exec_arg_t list {int arg; dnnl_memory_t memory;}, 16 bytes each, built once. */
        final MemorySegment list;

        Step(MemorySegment pd, ArgSpec... specs) {
            args = new Arg[specs.length];
            list = arena.allocate(16L * specs.length, 8);
            for (int i = 0; i < specs.length; i++) {
                args[i] = new Arg(specs[i], pd);
                list.set(ValueLayout.JAVA_INT, 16L * i, args[i].id);
                list.set(ValueLayout.ADDRESS, 16L * i + 8, args[i].used);
            }
            primitive = primitive(pd);
        }

        /**
         * Runs the step; an input whose reordered memory is {@code ready} (it already holds this call's data, put
         * there by the step before) is not reordered again. Returns the reordered memory of its DIFF_DST input (NULL
         * when there is none or it needed no reorder), for the next step to pass as {@code ready}.
         */
        MemorySegment run(MemorySegment ready) {
            checkOpen();
            MemorySegment diffDst = MemorySegment.NULL;
            for (Arg a : args) {
                if (a.input && a.reorder != null) {
                    if (!a.used.equals(ready)) {
                        OneDnn.check(dnnl_primitive_execute(a.reorder, stream, 2, a.reorderArgs),
                                "dnnl_primitive_execute (reorder)");
                    }
                    if (a.id == DNNL_ARG_DIFF_DST()) {
                        diffDst = a.used;
                    }
                }
            }
            OneDnn.check(dnnl_primitive_execute(primitive, stream, args.length, list), "dnnl_primitive_execute");
            for (Arg a : args) {
                if (!a.input && a.reorder != null) {
                    OneDnn.check(dnnl_primitive_execute(a.reorder, stream, 2, a.reorderArgs), "dnnl_primitive_execute (reorder)");
                }
            }
            OneDnn.check(dnnl_stream_wait(stream), "dnnl_stream_wait");
            return diffDst;
        }

        void run() {
            run(MemorySegment.NULL);
        }
    }

    /** Floats per piece of a parallel copy: 256 KiB, large enough that a hand-off costs little beside it. */
    private static final int COPY_PIECE = 1 << 16;

    private void copyIn(float[] from, MemorySegment to, long count) {
        checkOpen();
        int n = Math.toIntExact(count), pieces = (n + COPY_PIECE - 1) / COPY_PIECE;
        parallel.forEach(pieces, count, i -> {
            int at = i * COPY_PIECE;
            MemorySegment.copy(from, at, to, ValueLayout.JAVA_FLOAT, (long) at * Float.BYTES, Math.min(COPY_PIECE, n - at));
        });
    }

    private void copyOut(MemorySegment from, float[] to, long count) {
        int n = Math.toIntExact(count), pieces = (n + COPY_PIECE - 1) / COPY_PIECE;
        parallel.forEach(pieces, count, i -> {
            int at = i * COPY_PIECE;
            MemorySegment.copy(from, ValueLayout.JAVA_FLOAT, (long) at * Float.BYTES, to, at, Math.min(COPY_PIECE, n - at));
        });
    }

    /**
     * Room for a {@code dnnl_convolution_desc_t}, which oneDNN fills in. Not through the generated
     * {@code dnnl_convolution_desc_t} class: jextract 23 gives it a {@code padding[2][12]} layout that JDK 25
     * refuses when the class initialises ("Path does not select a value layout"). The C struct is 5,976 bytes
     * in oneDNN 2.6 (sizeof, x86-64); twice that leaves room for a later 2.x.
     */
    private MemorySegment opDesc() {
        return arena.allocate(2 * 5976, 64);
    }

    private MemorySegment dims(long... values) {
        return arena.allocateFrom(ValueLayout.JAVA_LONG, values);
    }

    private MemorySegment desc(int tag, long... shape) {
        MemorySegment md = arena.allocate(dnnl_memory_desc_t.layout());
        OneDnn.check(dnnl_memory_desc_init_by_tag(md, shape.length, dims(shape), dnnl_f32(), tag), "dnnl_memory_desc_init_by_tag");
        return md;
    }

    private MemorySegment primitiveDesc(MemorySegment opDesc, MemorySegment hint) {
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        OneDnn.check(dnnl_primitive_desc_create(out, opDesc, MemorySegment.NULL, ENGINE, hint), "dnnl_primitive_desc_create");
        primitiveDescs.add(out.get(ValueLayout.ADDRESS, 0));
        return primitiveDescs.getLast();
    }

    private MemorySegment reorder(MemorySegment from, MemorySegment to) {
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        OneDnn.check(dnnl_reorder_primitive_desc_create(out, from, ENGINE, to, ENGINE, MemorySegment.NULL),
                "dnnl_reorder_primitive_desc_create");
        primitiveDescs.add(out.get(ValueLayout.ADDRESS, 0));
        return primitive(primitiveDescs.getLast());
    }

    private MemorySegment primitive(MemorySegment pd) {
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        OneDnn.check(dnnl_primitive_create(out, pd), "dnnl_primitive_create");
        primitives.add(out.get(ValueLayout.ADDRESS, 0));
        return primitives.getLast();
    }

    private MemorySegment memory(MemorySegment md, MemorySegment buffer) {
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        OneDnn.check(dnnl_memory_create(out, md, ENGINE, buffer), "dnnl_memory_create");
        memories.add(out.get(ValueLayout.ADDRESS, 0));
        return memories.getLast();
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("this oneDNN convolution is closed");
        }
    }

    /** Destroys the primitives, their descriptors and the memory objects, and frees the buffers; idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (!stream.equals(MemorySegment.NULL)) {
            dnnl_stream_destroy(stream);
        }
        primitives.reversed().forEach(p -> dnnl_primitive_destroy(p));
        primitiveDescs.reversed().forEach(p -> dnnl_primitive_desc_destroy(p));
        memories.reversed().forEach(m -> dnnl_memory_destroy(m));
        arena.close();
    }
}
