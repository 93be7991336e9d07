package io.jdl.cuda;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * The host stand-in for the CUDA runtime, cuBLAS and cuDNN ({@code native/standin}), when it is the library
 * loaded: its diagnostics, fault injection and counters.
 *
 * <p>The stand-in is loaded only where {@code jdl.library.path} / {@code JDL_LIBRARY_PATH} points at its
 * build ({@code target/standin}); it names its devices "jdl host stand-in (not a GPU)". It runs jdl's GPU code
 * paths on the host with strict checks (every range a call touches against its allocation, launch shapes,
 * stream ordering), so that CI exercises them without a GPU. Nothing it computes is a GPU result.
 *
 * <p>{@link #isLoaded()} never loads anything. The other methods throw {@link IllegalStateException} when the
 * stand-in is not the loaded runtime.
 */
public final class StandIn {

    private StandIn() {
    }

    /** The stand-in's exports, found once the runtime is loaded. */
    private static final class Exports {
        static final Exports INSTANCE = find();

        final MethodHandle lastError;
        final MethodHandle clearLastError;
        final MethodHandle setCompute;
        final MethodHandle failAllocations;
        final MethodHandle failCall;
        final MethodHandle liveAllocations;
        final MethodHandle callCount;
        final MethodHandle launchCount;
        final MethodHandle graphLaunchCount;
        final MethodHandle liveGraphs;

        private Exports(SymbolLookup lookup) {
            Linker linker = Linker.nativeLinker();
            lastError = handle(linker, lookup, "standinLastError", FunctionDescriptor.of(ValueLayout.ADDRESS));
            clearLastError = handle(linker, lookup, "standinClearLastError", FunctionDescriptor.ofVoid());
            setCompute = handle(linker, lookup, "standinSetCompute", FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
            failAllocations = handle(linker, lookup, "standinFailAllocations",
                    FunctionDescriptor.ofVoid(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
            failCall = handle(linker, lookup, "standinFailCall",
                    FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
            liveAllocations = handle(linker, lookup, "standinLiveAllocations", FunctionDescriptor.of(ValueLayout.JAVA_LONG));
            callCount = handle(linker, lookup, "standinCallCount",
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
            launchCount = handle(linker, lookup, "standinLaunchCount", FunctionDescriptor.of(ValueLayout.JAVA_LONG));
            graphLaunchCount = handle(linker, lookup, "standinGraphLaunchCount", FunctionDescriptor.of(ValueLayout.JAVA_LONG));
            liveGraphs = handle(linker, lookup, "standinLiveGraphs", FunctionDescriptor.of(ValueLayout.JAVA_LONG));
        }

        private static MethodHandle handle(Linker linker, SymbolLookup lookup, String name, FunctionDescriptor d) {
            return linker.downcallHandle(lookup.find(name).orElseThrow(
                    () -> new IllegalStateException("the host stand-in lacks " + name + ": rebuild native/standin")), d);
        }

        private static Exports find() {
            SymbolLookup lookup = SymbolLookup.loaderLookup();
            return lookup.find("standinLastError").isPresent() ? new Exports(lookup) : null;
        }
    }

    /** Whether the loaded CUDA runtime is the host stand-in. Loads nothing: false before the runtime is loaded. */
    public static boolean isLoaded() {
        if (!NativeLibraries.isLoaded(NativeLibraries.Library.CUDART)) {
            return false;
        }
        return Exports.INSTANCE != null;
    }

    private static Exports exports() {
        if (!isLoaded()) {
            throw new IllegalStateException("the host stand-in is not the loaded CUDA runtime (point jdl.library.path "
                    + "at target/standin, built by native/standin/build)");
        }
        return Exports.INSTANCE;
    }

    /**
     * The stand-in's explanation of the last failed check on this thread (function, argument, overrun), then
     * cleared; empty when the stand-in is not loaded or has nothing to say.
     */
    public static Optional<String> takeLastError() {
        if (!isLoaded()) {
            return Optional.empty();
        }
        try {
            MemorySegment p = (MemorySegment) Exports.INSTANCE.lastError.invokeExact();
            String message = Cuda.cString(p);
            Exports.INSTANCE.clearLastError.invokeExact();
            return message.isEmpty() ? Optional.empty() : Optional.of(message);
        } catch (Throwable t) {
            throw new IllegalStateException("reading the stand-in's last error", t);
        }
    }

    /** No-compute mode when {@code on} is false: every call is validated, nothing is computed or copied. */
    public static void setCompute(boolean on) {
        try {
            exports().setCompute.invokeExact(on ? 1 : 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Makes {@code count} {@code cudaMalloc}s fail with {@code cudaErrorMemoryAllocation}, starting with the
     * {@code nth} from now (1 = the next one); {@code count == 0} turns it off.
     */
    public static void failAllocations(long nth, long count) {
        try {
            exports().failAllocations.invokeExact(nth, count);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Makes library function {@code function} (e.g. {@code "cublasSgemm_v2"}) return {@code status} instead of
     * running: on its {@code nth} call from now when {@code nth >= 1}, on every call when {@code nth == 0};
     * {@code status == 0} turns it off.
     */
    public static void failCall(String function, int status, long nth) {
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            exports().failCall.invokeExact(arena.allocateFrom(function), status, nth);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Device allocations ({@code cudaMalloc}) not yet freed, on all stand-in devices. */
    public static long liveAllocations() {
        try {
            return (long) exports().liveAllocations.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Calls of the CUDA runtime, cuBLAS and cuDNN functions so far (all of them). */
    public static long callCount() {
        try {
            return (long) exports().callCount.invokeExact(MemorySegment.NULL);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Calls of library function {@code function} so far. */
    public static long callCount(String function) {
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            return (long) exports().callCount.invokeExact(arena.allocateFrom(function));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Kernel launches ({@code cudaLaunchKernel}) accepted so far. */
    public static long launchCount() {
        try {
            return (long) exports().launchCount.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code cudaGraphLaunch} calls accepted so far. */
    public static long graphLaunchCount() {
        try {
            return (long) exports().graphLaunchCount.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Graphs and executable graphs created and not yet destroyed. */
    public static long liveGraphs() {
        try {
            return (long) exports().liveGraphs.invokeExact();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }
}
