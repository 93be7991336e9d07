package io.jdl.cuda;

import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * The outcome of loading one native library, decided once per process: its version, or the reason it
 * cannot be used.
 *
 * <p>Loading runs on the first {@link #version()} or {@link #failure()}, not in a static initializer: a
 * failure there would surface as {@code ExceptionInInitializerError} and then {@code NoClassDefFoundError}
 * for the rest of the process, and would reach code that only asked whether a GPU exists. Here every
 * failure, including one the dynamic linker or a missing symbol raises, becomes a
 * {@link NativeLibraryException} with the reason, and asking again gives the same answer.
 */
public final class LibraryLoad {
    private final String library;
    private final LongSupplier load;
    private boolean done;
    private long version;
    private NativeLibraryException failure;

    /** {@code load} finds, loads and version-checks {@code library}, returning its version. */
    public LibraryLoad(String library, LongSupplier load) {
        this.library = library;
        this.load = load;
    }

    /**
     * The loaded library's version, loading it on the first call.
     *
     * @throws NativeLibraryException saying why the library cannot be used (the same reason on every call)
     */
    public synchronized long version() {
        if (failure().isPresent()) {
            // A fresh exception so that the stack trace shows this caller; the first failure is its cause.
            throw new NativeLibraryException(failure.getMessage(), failure);
        }
        return version;
    }

    /** Why the library cannot be used, or empty once it is loaded; loads it on the first call. */
    public synchronized Optional<String> failure() {
        if (!done) {
            try {
                version = load.getAsLong();
            } catch (NativeLibraryException e) {
                failure = e;
            } catch (RuntimeException | LinkageError e) {
                // e.g. a bound function the library lacks, or a status from the version query itself.
                failure = new NativeLibraryException(library + " could not be used: " + e, e);
            }
            done = true;
        }
        return failure == null ? Optional.empty() : Optional.of(failure.getMessage());
    }
}
