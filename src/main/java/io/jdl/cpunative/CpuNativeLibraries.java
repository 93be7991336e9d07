package io.jdl.cpunative;

import io.jdl.cuda.LibrarySearch;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Finds and loads the native CPU library that the CPU backend's fast path calls (oneDNN), as
 * {@code io.jdl.cuda.NativeLibraries} does for the NVIDIA ones: the generated bindings look their symbols up
 * through {@link java.lang.foreign.SymbolLookup#loaderLookup()}, so a library is {@link System#load}ed here before
 * its first downcall.
 *
 * <p>Search order, first hit wins, for the versioned soname (e.g. {@code libdnnl.so.2}):
 * <ol>
 *   <li>system property {@code jdl.cpu.library.path} or environment variable {@code JDL_CPU_LIBRARY_PATH}
 *       (directories separated by {@code :});</li>
 *   <li>{@code LD_LIBRARY_PATH};</li>
 *   <li>the standard library directories ({@code /usr/lib/x86_64-linux-gnu}, {@code /usr/lib64}, {@code /usr/lib},
 *       {@code /usr/local/lib});</li>
 *   <li>the dynamic linker's cache ({@code ldconfig -p}).</li>
 * </ol>
 * With system property {@code jdl.cpu.library.search} (or {@code JDL_CPU_LIBRARY_SEARCH}) set to
 * {@code explicit-only}, only step 1 is searched: the tests use it to run as on a machine without oneDNN, and a
 * deployment can pin exactly which file it loads.
 *
 * <p>A library that is not found is not an error here: {@link #load} says so with an exception listing every place
 * searched and how to install it, and the CPU backend then keeps its pure-Java kernels.
 */
public final class CpuNativeLibraries {

    /** The CPU libraries jdl can bind to, by versioned soname. */
    public enum Library {
        ONEDNN("oneDNN", "libdnnl.so.2", "libdnnl2");

        final String displayName;
        final String soname;
        /** The Debian package that ships it, for the not-found message. */
        final String debianPackage;

        Library(String displayName, String soname, String debianPackage) {
            this.displayName = displayName;
            this.soname = soname;
            this.debianPackage = debianPackage;
        }

        /** Its name for people: {@code oneDNN}. */
        public String displayName() {
            return displayName;
        }

        @Override
        public String toString() {
            return displayName + " (" + soname + ")";
        }

        /** How to install it, for messages: {@code apt-get install libdnnl2}. */
        public String installHint() {
            return "apt-get install " + debianPackage;
        }
    }

    private static final Map<Library, Path> LOADED = new EnumMap<>(Library.class);

    private CpuNativeLibraries() {
    }

    /**
     * Loads {@code library} if not loaded yet.
     *
     * @return the path of the file loaded
     * @throws CpuNativeLibraryException naming every directory searched, when it is not found or fails to load
     */
    public static synchronized Path load(Library library) {
        Path done = LOADED.get(library);
        if (done != null) {
            return done;
        }
        Path file = locate(library.displayName, library.soname, library.installHint());
        try {
            System.load(file.toString());
        } catch (UnsatisfiedLinkError e) {
            throw new CpuNativeLibraryException(library.displayName + ": loading " + file + " failed: " + e.getMessage(), e);
        }
        LOADED.put(library, file);
        return file;
    }

    /** Whether {@code library} can be found (loads nothing). */
    public static boolean isAvailable(Library library) {
        return find(library.soname, searchDirectories()).isPresent();
    }

    /** The first file named {@code soname} in the search order, or an exception listing every place searched. */
    static Path locate(String displayName, String soname, String installHint) {
        List<Path> dirs = searchDirectories();
        return find(soname, dirs).orElseThrow(() -> new CpuNativeLibraryException(
                displayName + " (" + soname + ") was not found. Searched, in order:\n  "
                        + String.join("\n  ", dirs.stream().map(Path::toString).toList())
                        + (explicitOnly() ? "\n  (nothing else: jdl.cpu.library.search is explicit-only)"
                                : "\n  the ldconfig cache (ldconfig -p)")
                        + "\nInstall it (" + installHint
                        + ") or set JDL_CPU_LIBRARY_PATH (or -Djdl.cpu.library.path) to the directory holding it."));
    }

    /** Every directory searched before the ldconfig cache, in order, without duplicates. */
    public static List<Path> searchDirectories() {
        Set<Path> dirs = new LinkedHashSet<>();
        LibrarySearch.pathList(System.getProperty("jdl.cpu.library.path")).forEach(dirs::add);
        LibrarySearch.pathList(System.getenv("JDL_CPU_LIBRARY_PATH")).forEach(dirs::add);
        if (explicitOnly()) {
            return new ArrayList<>(dirs);
        }
        LibrarySearch.pathList(System.getenv("LD_LIBRARY_PATH")).forEach(dirs::add);
        String arch = System.getProperty("os.arch").equals("amd64") ? "x86_64" : System.getProperty("os.arch");
        for (String dir : new String[] {"/usr/lib/" + arch + "-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"}) {
            dirs.add(Path.of(dir));
        }
        return new ArrayList<>(dirs);
    }

    private static Optional<Path> find(String soname, List<Path> dirs) {
        return LibrarySearch.find(soname, dirs, explicitOnly());
    }

    /** Whether the search is restricted to {@code jdl.cpu.library.path} / {@code JDL_CPU_LIBRARY_PATH}. */
    static boolean explicitOnly() {
        return LibrarySearch.explicitOnly("jdl.cpu.library.search", "JDL_CPU_LIBRARY_SEARCH", CpuNativeLibraryException::new);
    }
}
