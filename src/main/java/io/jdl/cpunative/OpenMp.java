package io.jdl.cpunative;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The OpenMP runtime oneDNN runs on (Debian's build: libgomp, loaded with oneDNN), for one setting: how many
 * threads the calling thread's next oneDNN call may use.
 *
 * <p>Why: a Java thread that calls {@link OneDnnGemm#sgemm} gets a team of OpenMP threads (default: every core).
 * When jdl's own pool already runs one product per core (a convolution's images split across its threads),
 * each call must stay on its own thread, or the cores are oversubscribed. OpenMP keeps the thread count per
 * calling thread ({@code omp_set_num_threads} sets the calling thread's {@code nthreads-var}; another thread's
 * is unchanged), so {@link #onOneThread} limits only the thread it runs on, and restores the count after.
 */
public final class OpenMp {
    private static final MethodHandle GET_MAX_THREADS, SET_NUM_THREADS;

    static {
        CpuNativeLibraries.load(CpuNativeLibraries.Library.ONEDNN);
        // oneDNN's dependency, found through its handle (dlsym searches a library's dependencies too).
        SymbolLookup lookup = SymbolLookup.loaderLookup();
        Linker linker = Linker.nativeLinker();
        GET_MAX_THREADS = linker.downcallHandle(symbol(lookup, "omp_get_max_threads"), FunctionDescriptor.of(ValueLayout.JAVA_INT));
        SET_NUM_THREADS = linker.downcallHandle(symbol(lookup, "omp_set_num_threads"),
                FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
    }

    private OpenMp() {
    }

    /** Loads oneDNN and finds its OpenMP runtime (if not yet); throws {@link CpuNativeLibraryException} when it cannot. */
    public static void ensureLoaded() {
        // The static initialiser did the work.
    }

    private static MemorySegment symbol(SymbolLookup lookup, String name) {
        return lookup.find(name).orElseThrow(() -> new CpuNativeLibraryException("oneDNN was loaded but the OpenMP "
                + "function " + name + " was not found with it: this oneDNN build does not run on OpenMP"));
    }

    /** The threads the calling thread's next parallel region (a oneDNN call) may use. */
    public static int maxThreads() {
        try {
            return (int) GET_MAX_THREADS.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException("omp_get_max_threads failed", t);
        }
    }

    private static void setThreads(int threads) {
        try {
            SET_NUM_THREADS.invokeExact(threads);
        } catch (Throwable t) {
            throw new IllegalStateException("omp_set_num_threads failed", t);
        }
    }

    /** Runs {@code body} with the calling thread's oneDNN calls on that thread alone; the count is restored after. */
    public static void onOneThread(Runnable body) {
        int before = maxThreads();
        if (before == 1) {
            body.run();
            return;
        }
        setThreads(1);
        try {
            body.run();
        } finally {
            setThreads(before);
        }
    }
}
