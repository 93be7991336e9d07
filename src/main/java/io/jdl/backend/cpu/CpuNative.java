package io.jdl.backend.cpu;

import io.jdl.cpunative.CpuNativeLibraries.Library;
import java.util.Locale;
import java.util.function.Supplier;
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
     * Runs {@code load} (which loads {@code library} and links what the caller needs) unless the mode is off.
     *
     * @return whether the native path is usable; false after logging why (auto) or never (on: the error is thrown)
     */
    static boolean tryLoad(Library library, String what, Supplier<?> load) {
        if (MODE == Mode.OFF) {
            LOG.info("jdl.cpu.native=off: {} run on the pure-Java kernels", what);
            return false;
        }
        try {
            load.get();
            return true;
        } catch (RuntimeException | LinkageError thrown) {
            // A library missing in a class's static initialiser arrives wrapped; its cause says what is wrong.
            Throwable e = thrown instanceof ExceptionInInitializerError && thrown.getCause() != null ? thrown.getCause() : thrown;
            if (MODE == Mode.ON) {
                throw new IllegalStateException("jdl.cpu.native=on but " + library + " cannot be used for " + what + ": "
                        + e.getMessage(), e);
            }
            LOG.warn("{} run on the pure-Java kernels: {} is not usable ({}). For native speed: {} (or set "
                    + "JDL_CPU_LIBRARY_PATH); -Djdl.cpu.native=off silences this.", what, library,
                    String.valueOf(e.getMessage()).replace('\n', ' '), library.installHint());
            return false;
        }
    }
}
