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
 * tensors with OIHW (GOIHW with groups) weights and an optional bias [k], as PyTorch's {@code conv2d} computes it.
 *
 * <p>Layouts: each primitive is created with its tensors' layouts left to oneDNN ({@code dnnl_format_tag_any}),
 * which picks its blocked layouts (e.g. {@code nChw16c} on AVX-512) and its JIT kernels for them; a tensor whose
 * chosen layout is not the plain one is reordered into it before the call (inputs) or out of it after (the
 * result), as PyTorch's oneDNN path does. With plain layouts forced, oneDNN falls back to im2col and GEMM.
 *
 * <p>Memory: the tensors are Java arrays. Where {@link OneDnnHeapCall} is available, oneDNN reads and writes them
 * in place: each execution that touches a plain tensor (a reorder into the kernel's layout, the kernel itself, a
 * reorder out of it) runs in one critical native call with the plain memory object pointing at the array. Otherwise
 * each call copies its inputs (in pieces, across the caller's threads) into this object's off-heap plain buffers
 * (one per tensor role: source, weights, destination, bias; a gradient uses the buffer of the tensor it is the
 * gradient of) and its result back: on the cnn sample's second convolution those copies were a third of the
 * convolution's fwd+bwd time.
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
    private final ParallelLoop parallel;
    /** Whether executions take the Java arrays in place ({@link OneDnnHeapCall}) rather than copies of them. */
    private final boolean heap;
    /** The plain (NCHW / OIHW / x) tensor roles. */
    private final Plain src, weight, dst, bias;
    /** What the bias variants are built from, on first use: descriptors, geometry, the forward hint. */
    private final MemorySegment srcAny, weightAny, dstAny, strides, dilates, pad, fwdPd;
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
     * A plain tensor role: its descriptor, its memory object and, when copying, its off-heap buffer (else null, and
     * the memory object has no buffer of its own).
     */
    private record Plain(String name, MemorySegment desc, MemorySegment mem, MemorySegment buf, long elements) {
    }

    /**
     * Builds the three primitives for the given NCHW shape (padding symmetric, as PyTorch's; {@code oh}/{@code ow}
     * the output size it gives), taking the arrays in place where {@link OneDnnHeapCall#available()}; copies
     * between the arrays and buffers run through {@code parallel}.
     *
     * @throws OneDnnException when oneDNN has no implementation for it (the caller then uses its own kernel)
     */
    public OneDnnConvolution(int n, int c, int h, int w, int k, int r, int s, int oh, int ow, int strideH, int strideW,
                             int padH, int padW, int dilationH, int dilationW, int groups, ParallelLoop parallel) {
        this(n, c, h, w, k, r, s, oh, ow, strideH, strideW, padH, padW, dilationH, dilationW, groups, parallel,
                OneDnnHeapCall.available());
    }

    /**
     * The same, choosing: {@code inPlace} true takes the arrays in place (needs {@link OneDnnHeapCall#available()}),
     * false copies them (both ways are tested against each other).
     *
     * @throws IllegalStateException for {@code inPlace} where heap calls are not available
     */
    public OneDnnConvolution(int n, int c, int h, int w, int k, int r, int s, int oh, int ow, int strideH, int strideW,
                             int padH, int padW, int dilationH, int dilationW, int groups, ParallelLoop parallel,
                             boolean inPlace) {
        if (inPlace && !OneDnnHeapCall.available()) {
            throw new IllegalStateException("oneDNN heap calls are not available: " + OneDnnHeapCall.unavailableReason());
        }
        this.parallel = parallel;
        this.heap = inPlace;
        boolean done = false;
        try {
            long[] srcDims = {n, c, h, w}, dstDims = {n, k, oh, ow};
            long[] weightDims = groups == 1 ? new long[] {k, c, r, s} : new long[] {groups, k / groups, c / groups, r, s};
            int weightTag = groups == 1 ? dnnl_oihw() : dnnl_goihw();
            src = plain("x", desc(dnnl_nchw(), srcDims), (long) n * c * h * w);
            weight = plain("w", desc(weightTag, weightDims), (long) k * (c / groups) * r * s);
            dst = plain("y", desc(dnnl_nchw(), dstDims), (long) n * k * oh * ow);
            bias = plain("bias", desc(dnnl_x(), k), k);
            srcAny = desc(dnnl_format_tag_any(), srcDims);
            dstAny = desc(dnnl_format_tag_any(), dstDims);
            weightAny = desc(dnnl_format_tag_any(), weightDims);
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
                    new ArgSpec(DNNL_ARG_DIFF_DST(), dnnl_query_diff_dst_md(), 0, dst, true),
                    new ArgSpec(DNNL_ARG_WEIGHTS(), dnnl_query_weights_md(), 0, weight, true),
                    new ArgSpec(DNNL_ARG_DIFF_SRC(), dnnl_query_diff_src_md(), 0, src, false));
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
        ArgSpec x = new ArgSpec(DNNL_ARG_SRC(), dnnl_query_src_md(), 0, src, true),
                w = new ArgSpec(DNNL_ARG_WEIGHTS(), dnnl_query_weights_md(), 0, weight, true),
                y = new ArgSpec(DNNL_ARG_DST(), dnnl_query_dst_md(), 0, dst, false);
        return withBias
                ? new Step(pd, x, w, new ArgSpec(DNNL_ARG_BIAS(), dnnl_query_weights_md(), 1, bias, true), y)
                : new Step(pd, x, w, y);
    }

    private Step backwardWeightsStep(boolean withBias) {
        MemorySegment bwdWeights = opDesc();
        OneDnn.check(dnnl_dilated_convolution_backward_weights_desc_init(bwdWeights, dnnl_convolution_direct(),
                srcAny, weightAny, withBias ? bias.desc() : MemorySegment.NULL, dstAny, strides, dilates, pad, pad),
                "dnnl_dilated_convolution_backward_weights_desc_init");
        MemorySegment pd = primitiveDesc(bwdWeights, fwdPd);
        ArgSpec x = new ArgSpec(DNNL_ARG_SRC(), dnnl_query_src_md(), 0, src, true),
                dy = new ArgSpec(DNNL_ARG_DIFF_DST(), dnnl_query_diff_dst_md(), 0, dst, true),
                dw = new ArgSpec(DNNL_ARG_DIFF_WEIGHTS(), dnnl_query_diff_weights_md(), 0, weight, false);
        return withBias
                ? new Step(pd, x, dy, dw, new ArgSpec(DNNL_ARG_DIFF_BIAS(), dnnl_query_diff_weights_md(), 1, bias, false))
                : new Step(pd, x, dy, dw);
    }

    /** y = conv(x, w) + bias[channel] ({@code bias} [k], or null for none), bias added inside oneDNN's kernel. */
    public synchronized void forward(float[] x, float[] w, float[] bias, float[] y) {
        if (bias == null) {
            forward.run(MemorySegment.NULL, x, w, y);
            return;
        }
        if (forwardBias == null) {
            forwardBias = forwardStep(forwardDesc(this.bias.desc()), true);
        }
        forwardBias.run(MemorySegment.NULL, x, w, bias, y);
    }

    /**
     * The gradients of Σ dy·(conv(x, w) + bias) from one copy of dy: dx, dw and db, each overwritten, each skipped
     * when null; db is computed inside the backward-weights kernel, so it needs dw. dy is reordered to the kernels'
     * layout once for both directions (when both chose the same layout).
     *
     * @throws IllegalArgumentException for a db without a dw
     */
    public synchronized void backward(float[] x, float[] w, float[] dy, float[] dx, float[] dw, float[] db) {
        if (db != null && dw == null) {
            throw new IllegalArgumentException("oneDNN computes the bias gradient with the weights' gradient: db needs dw");
        }
        MemorySegment dyReordered = MemorySegment.NULL;
        if (dw != null) {
            // Backward weights first: it reads x from the source's blocked memory, which backward data may share
            // for dx (same role, same layout).
            if (db != null && backwardWeightsBias == null) {
                backwardWeightsBias = backwardWeightsStep(true);
            }
            dyReordered = db != null ? backwardWeightsBias.run(MemorySegment.NULL, x, dy, dw, db)
                    : backwardWeights.run(MemorySegment.NULL, x, dy, dw);
        }
        if (dx != null) {
            backwardData.run(dyReordered, dy, w, dx);
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
        final Plain plain;
        final MemorySegment chosen;
        /** The memory the primitive uses; the reorder to or from the plain memory (null: none needed) and its arguments. */
        final MemorySegment used, reorder, reorderArgs;
        final boolean input;

        Arg(ArgSpec a, MemorySegment pd) {
            this.id = a.id;
            this.input = a.input;
            this.plain = a.plain;
            this.chosen = dnnl_primitive_desc_query_md(pd, a.query, a.index);
            if (dnnl_memory_desc_equal(chosen, plain.desc()) != 0) {
                used = plain.mem();
                reorder = null;
                reorderArgs = null;
                return;
            }
            Arg same = bound.stream().filter(b -> b.plain == plain && b.reorder != null
                    && dnnl_memory_desc_equal(b.chosen, chosen) != 0).findFirst().orElse(null);
            used = same != null ? same.used : memory(chosen, DNNL_MEMORY_ALLOCATE());
            if (same != null && same.input == input) {
                reorder = same.reorder;
                reorderArgs = same.reorderArgs;
            } else {
                reorder = input ? reorder(plain.desc(), chosen) : reorder(chosen, plain.desc());
                reorderArgs = arena.allocate(32, 8);
                reorderArgs.set(ValueLayout.JAVA_INT, 0, DNNL_ARG_FROM());
                reorderArgs.set(ValueLayout.ADDRESS, 8, input ? plain.mem() : used);
                reorderArgs.set(ValueLayout.JAVA_INT, 16, DNNL_ARG_TO());
                reorderArgs.set(ValueLayout.ADDRESS, 24, input ? used : plain.mem());
            }
            bound.add(this);
        }
    }

    /** An argument as the constructor names it ({@code index}: which of the query's descriptors), bound by {@link Step}. */
    private record ArgSpec(int id, int query, int index, Plain plain, boolean input) {
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
         * Runs the step on {@code arrays}, one per argument in the constructor's order (the plain tensor of each);
         * an input whose reordered memory is {@code ready} (it already holds this call's data, put there by the
         * step before) is not brought in again. Returns the reordered memory of its DIFF_DST input (NULL when
         * there is none or it needed no reorder), for the next step to pass as {@code ready}.
         *
         * @throws IllegalArgumentException for an array shorter than its tensor
         */
        MemorySegment run(MemorySegment ready, float[]... arrays) {
            checkOpen();
            for (int i = 0; i < args.length; i++) {
                if (arrays[i].length < args[i].plain.elements()) {
                    throw new IllegalArgumentException("convolution operand " + args[i].plain.name() + " has "
                            + arrays[i].length + " floats, needs " + args[i].plain.elements());
                }
            }
            MemorySegment diffDst = MemorySegment.NULL;
            List<MemorySegment> direct = new ArrayList<>(args.length);  // plain memories the kernel itself uses
            List<float[]> directArrays = new ArrayList<>(args.length);
            for (int i = 0; i < args.length; i++) {
                Arg a = args[i];
                if (a.input && a.reorder != null && a.id == DNNL_ARG_DIFF_DST()) {
                    diffDst = a.used;
                }
                if (a.input && a.reorder != null && a.used.equals(ready)) {
                    continue;
                }
                if (a.input && !heap) {
                    copyIn(arrays[i], a.plain);
                }
                if (a.input && a.reorder != null) {
                    execute(a.reorder, 2, a.reorderArgs, a.plain, arrays[i], "dnnl_primitive_execute (reorder)");
                } else if (a.reorder == null) {
                    direct.add(a.plain.mem());
                    directArrays.add(arrays[i]);
                }
            }
            if (heap) {
                OneDnnHeapCall.execute(primitive, stream, args.length, list, direct.toArray(MemorySegment[]::new),
                        directArrays.toArray(float[][]::new), "dnnl_primitive_execute");
            } else {
                OneDnn.check(dnnl_primitive_execute(primitive, stream, args.length, list), "dnnl_primitive_execute");
                OneDnn.check(dnnl_stream_wait(stream), "dnnl_stream_wait");
            }
            for (int i = 0; i < args.length; i++) {
                Arg a = args[i];
                if (!a.input && a.reorder != null) {
                    execute(a.reorder, 2, a.reorderArgs, a.plain, arrays[i], "dnnl_primitive_execute (reorder)");
                }
                if (!a.input && !heap) {
                    copyOut(a.plain, arrays[i]);
                }
            }
            return diffDst;
        }
    }

    /** Runs a reorder between {@code plain}'s memory and its blocked copy, on {@code array} in place or through the buffer. */
    private void execute(MemorySegment reorder, int nargs, MemorySegment list, Plain plain, float[] array, String what) {
        if (heap) {
            OneDnnHeapCall.execute(reorder, stream, nargs, list, new MemorySegment[] {plain.mem()}, new float[][] {array},
                    what);
        } else {
            OneDnn.check(dnnl_primitive_execute(reorder, stream, nargs, list), what);
            OneDnn.check(dnnl_stream_wait(stream), "dnnl_stream_wait");
        }
    }

    /** Floats per piece of a parallel copy: 256 KiB, large enough that a hand-off costs little beside it. */
    private static final int COPY_PIECE = 1 << 16;

    private void copyIn(float[] from, Plain to) {
        int n = Math.toIntExact(to.elements()), pieces = (n + COPY_PIECE - 1) / COPY_PIECE;
        parallel.forEach(pieces, n, i -> {
            int at = i * COPY_PIECE;
            MemorySegment.copy(from, at, to.buf(), ValueLayout.JAVA_FLOAT, (long) at * Float.BYTES,
                    Math.min(COPY_PIECE, n - at));
        });
    }

    private void copyOut(Plain from, float[] to) {
        int n = Math.toIntExact(from.elements()), pieces = (n + COPY_PIECE - 1) / COPY_PIECE;
        parallel.forEach(pieces, n, i -> {
            int at = i * COPY_PIECE;
            MemorySegment.copy(from.buf(), ValueLayout.JAVA_FLOAT, (long) at * Float.BYTES, to, at,
                    Math.min(COPY_PIECE, n - at));
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

    /** A plain role: with an off-heap buffer when copying, else a memory object without one (set per call). */
    private Plain plain(String name, MemorySegment desc, long elements) {
        MemorySegment buf = heap ? null : arena.allocate(elements * Float.BYTES, 64);
        return new Plain(name, desc, memory(desc, heap ? MemorySegment.NULL : buf), buf, elements);
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
