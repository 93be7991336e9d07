package io.jdl.cpunative;

import static io.jdl.bindings.dnnl.dnnl_h.dnnl_memory_set_data_handle$address;
import static io.jdl.bindings.dnnl.dnnl_h.dnnl_primitive_execute$address;
import static io.jdl.bindings.dnnl.dnnl_h.dnnl_stream_wait$address;

import io.jdl.bindings.jdlcpu.jdl_onednn_call_h;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a oneDNN primitive directly on Java {@code float[]} arrays: the arrays stand in for the primitive's plain
 * memory objects for the one call, so nothing is copied to or from off-heap buffers.
 *
 * <p>How: a oneDNN memory object keeps its data pointer between calls, while a Java array has a fixed address only
 * inside a critical downcall ({@link Linker.Option#critical(boolean) critical(true)}: no garbage collection can
 * move it, nor start, until the call returns). So pointing the memory objects at the arrays, executing and pointing
 * them back at nothing is one native function, {@code jdl_onednn_execute} ({@code native/cpu/jdl_onednn_call.c},
 * about 30 lines of C that call oneDNN through the pointers given). Its library is built by
 * {@code scripts/build-native-cpu} and committed as a class-path resource for linux-x86_64; it is written to a
 * temporary file, loaded, and the file deleted.
 *
 * <p>Where it cannot load (another platform, a temporary directory that refuses executables), or with system
 * property {@code jdl.cpu.onednn.heap=off}, {@link #available()} is false and {@link OneDnnConvolution} copies
 * the arrays instead (one log line says why).
 */
public final class OneDnnHeapCall {
    private static final Logger LOG = LoggerFactory.getLogger(OneDnnHeapCall.class);

    /** The library, for linux-x86_64 (the only platform it is built for). */
    static final String RESOURCE = "/io/jdl/native/linux-x86_64/libjdl_onednn_call.so";

    /** Memory/array pairs one call can bind (the C function's fixed count). */
    static final int PAIRS = 4;

    private static final String NO_ONEDNN = "oneDNN is not installed";
    private static final MethodHandle EXECUTE;
    private static final String UNAVAILABLE;

    static {
        MethodHandle execute = null;
        String why = null;
        try {
            why = disabledBy(System.getProperty("jdl.cpu.onednn.heap", "auto"));
            if (why == null && !CpuNativeLibraries.isAvailable(CpuNativeLibraries.Library.ONEDNN)) {
                why = NO_ONEDNN;
            } else if (why == null) {
                CpuNativeLibraries.load(CpuNativeLibraries.Library.ONEDNN);
                loadLibrary();
                execute = Linker.nativeLinker().downcallHandle(jdl_onednn_call_h.jdl_onednn_execute$address(),
                        jdl_onednn_call_h.jdl_onednn_execute$descriptor(), Linker.Option.critical(true));
            }
        } catch (RuntimeException | IOException | UnsatisfiedLinkError e) {
            why = "libjdl_onednn_call could not be loaded (" + e + ")";
        }
        EXECUTE = execute;
        UNAVAILABLE = why;
        if (why != null && !why.equals(NO_ONEDNN)) {  // without oneDNN the CPU backend has said so already
            LOG.info("oneDNN convolutions copy their operands to off-heap buffers: {}", why);
        }
    }

    private OneDnnHeapCall() {
    }

    /** Null when the property allows heap calls on this platform, else why not. */
    static String disabledBy(String property) {
        return switch (property.trim().toLowerCase(Locale.ROOT)) {
            case "off" -> "jdl.cpu.onednn.heap=off";
            case "auto" -> System.getProperty("os.name").equals("Linux") && System.getProperty("os.arch").equals("amd64")
                    ? null : "libjdl_onednn_call is built for linux-x86_64 only, this is "
                    + System.getProperty("os.name") + " " + System.getProperty("os.arch");
            default -> throw new IllegalArgumentException("jdl.cpu.onednn.heap is '" + property + "': expected auto or off");
        };
    }

    private static void loadLibrary() throws IOException {
        Path file = Files.createTempFile("libjdl_onednn_call", ".so");
        try (InputStream in = OneDnnHeapCall.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IOException("resource " + RESOURCE + " is missing from the class path");
            }
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            System.load(file.toString());  // the generated binding looks the symbol up in the loader's libraries
        } finally {
            Files.deleteIfExists(file);      // mapped now: the file is no longer needed
        }
    }

    /** Whether {@link #execute} runs: the library loaded, oneDNN is present, and it is not switched off. */
    public static boolean available() {
        return EXECUTE != null;
    }

    /** Why {@link #available()} is false (null when it is true). */
    public static String unavailableReason() {
        return UNAVAILABLE;
    }

    /**
     * Executes {@code primitive} on {@code stream} with the {@code nargs} {@code dnnl_exec_arg_t} at {@code args},
     * the memory objects {@code memories[i]} pointing at {@code arrays[i]} meanwhile (at most {@value #PAIRS}
     * pairs), and waits for it. The caller checks that each array holds as many floats as its memory describes:
     * oneDNN reads and writes them without bounds checks.
     *
     * @throws IllegalStateException when not {@link #available()}, or more than {@value #PAIRS} pairs are given
     * @throws OneDnnException when oneDNN reports a failure
     */
    static void execute(MemorySegment primitive, MemorySegment stream, int nargs, MemorySegment args,
                        MemorySegment[] memories, float[][] arrays, String what) {
        if (EXECUTE == null) {
            throw new IllegalStateException("oneDNN heap calls are not available: " + UNAVAILABLE);
        }
        if (memories.length > PAIRS || memories.length != arrays.length) {
            throw new IllegalStateException(memories.length + " memory objects for " + arrays.length + " arrays: at most "
                    + PAIRS + " pairs");
        }
        MemorySegment[] m = new MemorySegment[PAIRS], d = new MemorySegment[PAIRS];
        for (int i = 0; i < PAIRS; i++) {
            m[i] = i < memories.length ? memories[i] : MemorySegment.NULL;
            d[i] = i < arrays.length ? MemorySegment.ofArray(arrays[i]) : MemorySegment.NULL;
        }
        int status;
        try {
            status = (int) EXECUTE.invokeExact(dnnl_memory_set_data_handle$address(), dnnl_primitive_execute$address(),
                    dnnl_stream_wait$address(), primitive, stream, nargs, args, m[0], d[0], m[1], d[1], m[2], d[2], m[3],
                    d[3]);
        } catch (Throwable t) {
            throw new IllegalStateException("jdl_onednn_execute failed to run", t);
        }
        OneDnn.check(status, what);
    }
}
