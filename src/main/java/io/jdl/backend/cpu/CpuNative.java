package io.jdl.backend.cpu;

import io.jdl.cpunative.CpuNativeLibraries.Library;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the CPU backend's matrix products and convolutions go through a native library ({@link NativeMatmul},
 * {@link NativeConv}) or its pure-Java kernels ({@link CpuMatmul}, {@link CpuConv}, which stay the reference the
 * native results are tested against).
 *
 * <p>System property {@code jdl.cpu.native} (or environment variable {@code JDL_CPU_NATIVE}):
 * <ul>
 *   <li>{@code auto} (default): the native library when it loads; otherwise one log line says the pure-Java
 *       kernels run and how to install the library;</li>
 *   <li>{@code off}: always the pure-Java kernels (nothing native is loaded);</li>
 *   <li>{@code on}: the native library, and an error naming where it was looked for when it is missing.</li>
 * </ul>
 * Read once, at the first matrix product or convolution.
 */
final class CpuNative {
    private static final Logger LOG = LoggerFactory.getLogger(CpuNative.class);

    enum Mode { AUTO, ON, OFF }

    static final Mode MODE = mode(System.getProperty("jdl.cpu.native", System.getenv("JDL_CPU_NATIVE")));

    private CpuNative() {
    }

    static Mode mode(String value) {
        if (value == null || value.isBlank()) {
            return Mode.AUTO;
        }
        try {
            return Mode.valueOf(value.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("jdl.cpu.native / JDL_CPU_NATIVE is '" + value + "': expected auto, on or off");
        }
    }

    /**
     * Whether a native path can be used, decided once: {@link #usable()} says whether to take it, and throws (mode
     * {@code on} only) when it cannot be.
     */
    record Status(boolean loaded, String why) {
        /** True: take the native path; false: the Java kernels. Mode on with the library unusable: the error, every time. */
        boolean usable() {
            if (!loaded && MODE == Mode.ON) {
                throw new IllegalStateException(why);
            }
            return loaded;
        }
    }

    /**
     * Runs {@code load} (which loads {@code library} and links what the caller needs) unless the mode is off;
     * when it fails in mode auto, logs once that the Java kernels run and how to install the library.
     */
    static Status tryLoad(Library library, String what, Runnable load) {
        if (MODE == Mode.OFF) {
            LOG.info("jdl.cpu.native=off: {} run on the pure-Java kernels", what);
            return new Status(false, "jdl.cpu.native=off");
        }
        try {
            load.run();
            return new Status(true, null);
        } catch (RuntimeException | LinkageError thrown) {
            // A library missing in a class's static initialiser arrives wrapped; its cause says what is wrong.
            Throwable e = thrown instanceof ExceptionInInitializerError && thrown.getCause() != null ? thrown.getCause() : thrown;
            String why = library + " cannot be used for " + what + ": " + e.getMessage();
            if (MODE == Mode.ON) {
                return new Status(false, "jdl.cpu.native=on but " + why);
            }
            LOG.warn("{} run on the pure-Java kernels: {} is not usable ({}). For native speed: {} (or set "
                    + "JDL_CPU_LIBRARY_PATH); -Djdl.cpu.native=off silences this.", what, library,
                    String.valueOf(e.getMessage()).replace('\n', ' '), library.installHint());
            return new Status(false, why);
        }
    }
}
