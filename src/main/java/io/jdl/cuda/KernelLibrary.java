package io.jdl.cuda;

import static io.jdl.bindings.cudart.cuda_runtime_api_h.*;
import static io.jdl.cuda.NativeKernels.RESOURCE;

import io.jdl.bindings.cudart.dim3;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * The table of jdl's kernels (C symbol and parameter types) and how one is launched: reading the fatbin,
 * loading it as a {@code cudaLibrary_t}, marshalling arguments for {@code cudaLaunchKernel}. The typed,
 * checked entry points over it are {@link NativeKernels}; this class holds no per-kernel knowledge beyond
 * the table. The loaded library lives as long as the process (it is never unloaded).
 */
final class KernelLibrary {
    private KernelLibrary() {
    }

    /** First four bytes of a fatbin, read as a little-endian int ({@code 0xBA55ED50}). */
    static final int FATBIN_MAGIC = 0xBA55ED50;

    /** A kernel parameter's C type, as marshalled: a device pointer, {@code int}, {@code long long}, {@code float}. */
    enum Param {
        PTR, I32, I64, F32
    }

    /**
     * The kernels in the fatbin: C symbol and parameter types, in order. Must match the
     * {@code extern "C" __global__} definitions in native/jdl_kernels.cu (NativeKernelsTest compares them).
     */
    enum Kernel {
        // The pointwise kernels end with one element code (Element.ordinal()) per operand, in operand order.
        LEAKY_RELU("jdl_leaky_relu", Param.PTR, Param.PTR, Param.I64, Param.F32, Param.I32, Param.I32),
        LEAKY_RELU_BACKWARD("jdl_leaky_relu_backward", Param.PTR, Param.PTR, Param.PTR, Param.I64, Param.F32,
                Param.I32, Param.I32, Param.I32),
        GELU("jdl_gelu", Param.PTR, Param.PTR, Param.I64, Param.I32, Param.I32),
        GELU_BACKWARD("jdl_gelu_backward", Param.PTR, Param.PTR, Param.PTR, Param.I64, Param.I32, Param.I32, Param.I32),
        CROSS_ENTROPY("jdl_cross_entropy", Param.PTR, Param.PTR, Param.PTR, Param.PTR, Param.PTR, Param.PTR,
                Param.I32, Param.I32, Param.I32, Param.F32),
        CROSS_ENTROPY_BACKWARD("jdl_cross_entropy_backward", Param.PTR, Param.PTR, Param.PTR, Param.PTR, Param.PTR,
                Param.I64, Param.I32, Param.I32, Param.F32),
        SGD_STEP("jdl_sgd_step", Param.PTR, Param.PTR, Param.PTR, Param.I64,
                Param.F32, Param.F32, Param.F32, Param.F32, Param.I32, Param.I32),
        ADAM_STEP("jdl_adam_step", Param.PTR, Param.PTR, Param.PTR, Param.PTR, Param.I64,
                Param.F32, Param.F32, Param.F32, Param.F32, Param.F32, Param.I32, Param.F32, Param.F32),
        ADAM_STEP_COUNTED("jdl_adam_step_counted", Param.PTR, Param.PTR, Param.PTR, Param.PTR, Param.I64,
                Param.F32, Param.F32, Param.F32, Param.F32, Param.F32, Param.I32, Param.I32, Param.PTR),
        COUNT_REPLAY("jdl_count_replay", Param.PTR),
        DROPOUT("jdl_dropout", Param.PTR, Param.PTR, Param.PTR, Param.I64, Param.F32, Param.I64, Param.I32, Param.I32),
        DROPOUT_COUNTED("jdl_dropout_counted", Param.PTR, Param.PTR, Param.PTR, Param.I64, Param.F32, Param.I64,
                Param.PTR, Param.I32, Param.I32),
        EMBEDDING_FORWARD("jdl_embedding_forward", Param.PTR, Param.PTR, Param.PTR, Param.I64, Param.I32, Param.I32),
        EMBEDDING_BACKWARD("jdl_embedding_backward", Param.PTR, Param.PTR, Param.PTR, Param.I64, Param.I32, Param.I32),
        LAYER_NORM_ROWS("jdl_layer_norm_rows", Param.PTR, Param.PTR, Param.PTR, Param.PTR, Param.PTR, Param.PTR,
                Param.I32, Param.I32, Param.F32),
        LAYER_NORM_BACKWARD_ROWS("jdl_layer_norm_backward_rows", Param.PTR, Param.PTR, Param.PTR, Param.PTR,
                Param.PTR, Param.PTR, Param.I32, Param.I32),
        LAYER_NORM_BACKWARD_COLUMNS("jdl_layer_norm_backward_columns", Param.PTR, Param.PTR, Param.PTR, Param.PTR,
                Param.PTR, Param.PTR, Param.I32, Param.I32, Param.I32),
        LAYER_NORM_BACKWARD_FINISH("jdl_layer_norm_backward_finish", Param.PTR, Param.PTR, Param.PTR, Param.PTR,
                Param.I32, Param.I32),
        ATTENTION_SOFTMAX_ROWS("jdl_attention_softmax_rows", Param.PTR, Param.PTR, Param.PTR, Param.I32, Param.I32,
                Param.I32, Param.I32, Param.F32, Param.I32),
        ATTENTION_SOFTMAX_BACKWARD_ROWS("jdl_attention_softmax_backward_rows", Param.PTR, Param.PTR, Param.PTR,
                Param.I32, Param.I32, Param.F32),
        FILL("jdl_fill", Param.PTR, Param.I64, Param.F32, Param.I32),
        AXPBY("jdl_axpby", Param.PTR, Param.PTR, Param.PTR, Param.I64, Param.F32, Param.F32, Param.I32, Param.I32,
                Param.I32),
        MUL("jdl_mul", Param.PTR, Param.PTR, Param.PTR, Param.I64, Param.I32, Param.I32, Param.I32),
        MUL_SCALAR("jdl_mul_scalar", Param.PTR, Param.PTR, Param.PTR, Param.I64, Param.I32, Param.I32),
        BROADCAST("jdl_broadcast", Param.PTR, Param.PTR, Param.I64, Param.I32, Param.I32, Param.I32, Param.I32),
        BROADCAST_BINARY("jdl_broadcast_binary", Param.PTR, Param.PTR, Param.PTR, Param.I64, Param.I32, Param.I32,
                Param.I32, Param.I32, Param.I32, Param.I32, Param.I32, Param.I32, Param.I32, Param.I32, Param.I32,
                Param.I32, Param.F32, Param.F32, Param.I32, Param.I32, Param.I32),
        BIAS_ACT("jdl_bias_act", Param.PTR, Param.PTR, Param.PTR, Param.PTR, Param.I64, Param.I32, Param.I32, Param.I32,
                Param.F32, Param.I32, Param.I32, Param.I32, Param.I32),
        RELU("jdl_relu", Param.PTR, Param.PTR, Param.I64, Param.I32, Param.I32),
        RELU_BACKWARD("jdl_relu_backward", Param.PTR, Param.PTR, Param.PTR, Param.I64, Param.I32, Param.I32, Param.I32),
        SIGMOID("jdl_sigmoid", Param.PTR, Param.PTR, Param.I64, Param.I32, Param.I32),
        SIGMOID_BACKWARD("jdl_sigmoid_backward", Param.PTR, Param.PTR, Param.PTR, Param.I64, Param.I32, Param.I32,
                Param.I32),
        TANH("jdl_tanh", Param.PTR, Param.PTR, Param.I64, Param.I32, Param.I32),
        TANH_BACKWARD("jdl_tanh_backward", Param.PTR, Param.PTR, Param.PTR, Param.I64, Param.I32, Param.I32, Param.I32),
        SUM_ROWS("jdl_sum_rows", Param.PTR, Param.PTR, Param.I32, Param.I32, Param.I32, Param.I32),
        SUM_AXIS("jdl_sum_axis", Param.PTR, Param.PTR, Param.I32, Param.I32, Param.I32, Param.I32, Param.I32),
        CHANNEL_BIAS_BACKWARD("jdl_channel_bias_backward", Param.PTR, Param.PTR, Param.I32, Param.I32, Param.I32,
                Param.I32, Param.I32),
        SOFTMAX_ROWS("jdl_softmax_rows", Param.PTR, Param.PTR, Param.I32, Param.I32, Param.I32, Param.I32, Param.I32),
        SOFTMAX_BACKWARD_ROWS("jdl_softmax_backward_rows", Param.PTR, Param.PTR, Param.PTR, Param.I32, Param.I32,
                Param.I32, Param.I32, Param.I32, Param.I32),
        ADAM_MULTI("jdl_adam_multi", Param.PTR, Param.I32, Param.I32, Param.F32, Param.F32, Param.F32, Param.F32,
                Param.F32, Param.I32, Param.F32, Param.F32),
        SGD_MULTI("jdl_sgd_multi", Param.PTR, Param.I32, Param.I32, Param.F32, Param.F32, Param.F32, Param.F32,
                Param.I32, Param.I32),
        FLOAT_TO_HALF("jdl_float_to_half", Param.PTR, Param.PTR, Param.I64, Param.I32),
        HALF_TO_FLOAT("jdl_half_to_float", Param.PTR, Param.PTR, Param.I64, Param.I32),
        CAST("jdl_cast", Param.PTR, Param.PTR, Param.I64, Param.I32, Param.I32),
        AMP_UNSCALE("jdl_amp_unscale", Param.PTR, Param.I64, Param.F32, Param.PTR),
        ATTENTION_KEY_BIAS("jdl_attention_key_bias", Param.PTR, Param.PTR, Param.I64, Param.I32, Param.I32, Param.I32),
        ATTENTION_ZERO_UNATTENDED("jdl_attention_zero_unattended", Param.PTR, Param.PTR, Param.I64, Param.I32,
                Param.I32, Param.I32, Param.I32, Param.I32, Param.I64, Param.I64, Param.I64);

        final String symbol;
        final List<Param> params;
        /** {@link #params} as an array, and the Java class each argument must have: read on every launch. */
        private final Param[] kinds;
        private final Class<?>[] argClasses;
        /** The call named in a failed launch's exception, built once. */
        final String launchCall;

        Kernel(String symbol, Param... params) {
            this.symbol = symbol;
            this.params = List.of(params);
            this.kinds = params.clone();
            this.argClasses = new Class<?>[params.length];
            for (int i = 0; i < params.length; i++) {
                argClasses[i] = switch (params[i]) {
                    case PTR -> MemorySegment.class;
                    case I32 -> Integer.class;
                    case I64 -> Long.class;
                    case F32 -> Float.class;
                };
            }
            this.launchCall = "cudaLaunchKernel(" + symbol + ")";
        }
    }

    /** Queues one kernel; the real one calls {@code cudaLaunchKernel}, tests substitute a recorder. */
    interface Launcher {
        /** {@code args} have been checked against {@code kernel.params}; grid and block are 1-D. */
        void launch(Kernel kernel, Stream stream, int gridX, int blockX, Object[] args);
    }

    /** Throws {@link IllegalStateException} unless {@code args} match the kernel's parameter types (a bug here). */
    static void checkArgs(Kernel kernel, Object[] args) {
        Class<?>[] expectedClasses = kernel.argClasses;
        if (args.length != expectedClasses.length) {
            throw new IllegalStateException(kernel.symbol + " takes " + expectedClasses.length + " arguments, given "
                    + args.length);
        }
        for (int i = 0; i < args.length; i++) {
            Class<?> expected = expectedClasses[i];
            if (args[i] == null || !expected.isInstance(args[i])) {
                throw new IllegalStateException(kernel.symbol + " argument " + i + " must be a "
                        + expected.getSimpleName() + ", given " + (args[i] == null ? "null" : args[i].getClass().getSimpleName()));
            }
        }
    }

    /**
     * The {@code void **args} array {@code cudaLaunchKernel} takes: one pointer per argument, each to an
     * 8-byte, 8-aligned slot in {@code arena} holding the value as the kernel's C parameter type
     * (device pointers as 64-bit addresses).
     */
    static MemorySegment marshal(Arena arena, Kernel kernel, Object[] args) {
        checkArgs(kernel, args);
        MemorySegment argv = arena.allocate(ValueLayout.ADDRESS, Math.max(1, args.length));
        MemorySegment slots = arena.allocate(8L * Math.max(1, args.length), 8);
        writeArgs(slots, kernel, args);
        for (int i = 0; i < args.length; i++) {
            argv.setAtIndex(ValueLayout.ADDRESS, i, slots.asSlice(8L * i, 8));
        }
        return argv;
    }

    /** Writes checked {@code args} into consecutive 8-byte slots, each as its C parameter type. */
    private static void writeArgs(MemorySegment slots, Kernel kernel, Object[] args) {
        for (int i = 0; i < args.length; i++) {
            long at = 8L * i;
            switch (kernel.kinds[i]) {
                case PTR -> slots.set(ValueLayout.ADDRESS, at, (MemorySegment) args[i]);
                case I32 -> slots.set(ValueLayout.JAVA_INT, at, (Integer) args[i]);
                case I64 -> slots.set(ValueLayout.JAVA_LONG, at, (Long) args[i]);
                case F32 -> slots.set(ValueLayout.JAVA_FLOAT, at, (Float) args[i]);
            }
        }
    }

    /** One thread's argument slots, argv and dims for launches (see {@code LibraryLauncher.SCRATCH}). */
    static final class LaunchScratch {
        /** More than any kernel's parameter count. */
        static final int MAX_ARGS = 24;
        final MemorySegment argv, slots, grid, block;

        LaunchScratch() {
            Arena arena = Arena.ofAuto();
            argv = arena.allocate(ValueLayout.ADDRESS, MAX_ARGS);
            slots = arena.allocate(8L * MAX_ARGS, 8);
            grid = dim3Of(arena, 1);
            block = dim3Of(arena, 1);
            for (int i = 0; i < MAX_ARGS; i++) {
                argv.setAtIndex(ValueLayout.ADDRESS, i, slots.asSlice(8L * i, 8));
            }
        }

        /**
         * As {@link KernelLibrary#marshal}, into this scratch, for {@code args} already checked ({@link Launcher}'s
         * contract: {@link NativeKernels#launch} checks them, once per launch).
         */
        MemorySegment marshal(Kernel kernel, Object[] args) {
            if (args.length > MAX_ARGS) {
                throw new IllegalStateException(kernel.symbol + " has more than " + MAX_ARGS + " parameters");
            }
            writeArgs(slots, kernel, args);
            return argv;
        }
    }

    /** A {@code dim3} by value: {@code (x, 1, 1)}. */
    static MemorySegment dim3Of(Arena arena, int x) {
        MemorySegment d = dim3.allocate(arena);
        dim3.x(d, x);
        dim3.y(d, 1);
        dim3.z(d, 1);
        return d;
    }

    /** The fatbin resource's bytes; throws {@link IllegalStateException} when missing or not a fatbin. */
    static byte[] readFatbin() {
        byte[] image;
        try (InputStream in = NativeKernels.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("class-path resource " + RESOURCE
                        + " is missing: the jar was built without it (run scripts/build-native and rebuild)");
            }
            image = in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + RESOURCE, e);
        }
        if (image.length < 16 || readIntLE(image, 0) != FATBIN_MAGIC) {
            throw new IllegalStateException(RESOURCE + " is not a CUDA fatbin (no 0xBA55ED50 magic); run scripts/build-native");
        }
        return image;
    }

    static int readIntLE(byte[] b, int offset) {
        return (b[offset] & 0xff) | (b[offset + 1] & 0xff) << 8 | (b[offset + 2] & 0xff) << 16
                | (b[offset + 3] & 0xff) << 24;
    }

    /** Launches through the CUDA runtime, from a {@code cudaLibrary_t} loaded from the fatbin. */
    static final class LibraryLauncher implements Launcher {
        /** The fatbin in native memory, kept for the library's (the process's) lifetime. */
        private final MemorySegment image;
        private final MemorySegment library;
        private final MemorySegment[] kernels;

        private LibraryLauncher(MemorySegment image, MemorySegment library, MemorySegment[] kernels) {
            this.image = image;
            this.library = library;
            this.kernels = kernels;
        }

        static LibraryLauncher load(byte[] fatbin) {
            Cuda.ensureLoaded();
            // The image stays allocated while the library exists (for the process's lifetime, since it is
            // never unloaded): the driver may read it lazily (CUDA_MODULE_LOADING=LAZY). Freed only on failure.
            Arena imageArena = Arena.ofShared();
            MemorySegment image = imageArena.allocate(fatbin.length, 64);
            MemorySegment.copy(fatbin, 0, image, ValueLayout.JAVA_BYTE, 0, fatbin.length);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
                Cuda.check(cudaLibraryLoadData(out, image, MemorySegment.NULL, MemorySegment.NULL, 0,
                        MemorySegment.NULL, MemorySegment.NULL, 0), "cudaLibraryLoadData(" + RESOURCE + ")");
                MemorySegment library = out.get(ValueLayout.ADDRESS, 0);
                Kernel[] all = Kernel.values();
                MemorySegment[] handles = new MemorySegment[all.length];
                try {
                    for (Kernel k : all) {
                        Cuda.check(cudaLibraryGetKernel(out, library, arena.allocateFrom(k.symbol)),
                                "cudaLibraryGetKernel(" + k.symbol + ")");
                        handles[k.ordinal()] = out.get(ValueLayout.ADDRESS, 0);
                    }
                } catch (RuntimeException e) {
                    int status = cudaLibraryUnload(library);
                    if (status != cudaSuccess()) {
                        e.addSuppressed(new CudaException("cudaLibraryUnload", status, Cuda.errorName(status),
                                Cuda.errorString(status)));
                    }
                    throw e;
                }
                return new LibraryLauncher(image, library, handles);
            } catch (RuntimeException e) {
                imageArena.close();
                throw e;
            }
        }

        /**
         * Per host thread, the native memory a launch marshals into, reused: cudaLaunchKernel copies the
         * arguments and dims before it returns, so no launch needs an arena of its own. The scratch lives as
         * long as its thread (an automatic arena).
         */
        private static final ThreadLocal<LaunchScratch> SCRATCH = ThreadLocal.withInitial(LaunchScratch::new);

        @Override
        public void launch(Kernel kernel, Stream stream, int gridX, int blockX, Object[] args) {
            MemorySegment streamHandle = stream.handle();
            LaunchScratch scratch = SCRATCH.get();
            MemorySegment argv = scratch.marshal(kernel, args);
            dim3.x(scratch.grid, gridX);
            dim3.x(scratch.block, blockX);
            NativeCounters.countLaunch();
            Cuda.check(cudaLaunchKernel(kernels[kernel.ordinal()], scratch.grid, scratch.block, argv, 0L, streamHandle),
                    kernel.launchCall);
        }

        /**
         * {@code cudaLaunchKernel(function, (gridX,1,1), (blockX,1,1), argv, 0, stream)}: the grid and block
         * {@code dim3}s go by value (segments of {@code dim3.layout()}, which the downcall copies into
         * registers). A {@code cudaKernel_t} is accepted wherever cudaLaunchKernel takes a function symbol.
         */
        static int launchStatus(Arena arena, MemorySegment function, int gridX, int blockX, MemorySegment argv,
                MemorySegment stream) {
            return cudaLaunchKernel(function, dim3Of(arena, gridX), dim3Of(arena, blockX), argv, 0L, stream);
        }

        @Override
        public String toString() {
            return "jdl kernels (cudaLibrary_t " + library + ", " + image.byteSize() + "-byte fatbin)";
        }
    }
}
