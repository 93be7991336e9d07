package io.jdl.cuda;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Finds and loads the NVIDIA shared libraries that the generated bindings call.
 *
 * <p>The bindings under {@code io.jdl.bindings} look their symbols up through
 * {@link java.lang.foreign.SymbolLookup#loaderLookup()}, so a library must be loaded here, by
 * {@link System#load}, before its first downcall. {@link #load(Library)} does that once per library,
 * with its dependencies first (cuBLAS needs cuBLASLt; cuDNN's front library opens its sub-libraries,
 * which we preload so that they resolve without {@code LD_LIBRARY_PATH}).
 *
 * <p>Search order, first hit wins, for the versioned soname (e.g. {@code libcudnn.so.9}):
 * <ol>
 *   <li>system property {@code jdl.library.path} or environment variable {@code JDL_LIBRARY_PATH}
 *       (directories separated by {@code :});</li>
 *   <li>{@code LD_LIBRARY_PATH};</li>
 *   <li>{@code CUDA_HOME} / {@code CUDA_PATH} ({@code lib64}, {@code lib}, {@code targets/x86_64-linux/lib}),
 *       then {@code /usr/local/cuda};</li>
 *   <li>NVIDIA's pip wheels ({@code nvidia/cu13/lib}, {@code nvidia/cudnn/lib}, ...) inside Python
 *       site-packages (from {@code PYTHONPATH}, {@code VIRTUAL_ENV}, {@code CONDA_PREFIX} and the usual
 *       install roots) and inside jdl's own cache {@code ~/.cache/jdl};</li>
 *   <li>the dynamic linker's cache ({@code /etc/ld.so.cache}, read through {@code ldconfig -p}).</li>
 * </ol>
 * When a library is missing, the {@link NativeLibraryException} lists every place searched.
 *
 * <p>With system property {@code jdl.library.search} or environment variable {@code JDL_LIBRARY_SEARCH}
 * set to {@code explicit-only}, only the directories of step 1 are searched: a test can then simulate a
 * machine without any NVIDIA library by pointing step 1 at an empty directory, and a deployment can pin
 * exactly which files it loads.
 *
 * <p>The host stand-in ({@code native/standin}, see {@link StandIn}) is one such directory: it holds exactly
 * the three main sonames, so the optional sub-libraries are simply not found there and not loaded. It is
 * used only when {@code jdl.library.path} / {@code JDL_LIBRARY_PATH} names its directory.
 */
public final class NativeLibraries {

    /** The libraries jdl binds to, by versioned soname. */
    public enum Library {
        CUDART("CUDA runtime", "nvidia-cuda-runtime", List.of("libcudart.so.13")),
        CUBLAS("cuBLAS", "nvidia-cublas", List.of("libcublasLt.so.13", "libcublas.so.13")),
        CUDNN("cuDNN", "nvidia-cudnn-cu13", List.of("libcudnn_graph.so.9", "libcudnn_engines_runtime_compiled.so.9",
                "libcudnn_engines_precompiled.so.9", "libcudnn_heuristic.so.9", "libcudnn_ops.so.9",
                "libcudnn_cnn.so.9", "libcudnn_adv.so.9", "libcudnn.so.9"));

        final String displayName;
        /** NVIDIA's pip package that ships it, for the not-found message. */
        final String pipPackage;
        /** Dependencies first; the last one is the library itself and must exist, the others may not. */
        final List<String> sonames;

        Library(String displayName, String pipPackage, List<String> sonames) {
            this.displayName = displayName;
            this.pipPackage = pipPackage;
            this.sonames = sonames;
        }

        String mainSoname() {
            return sonames.getLast();
        }
    }

    private static final Map<Library, Path> LOADED = new EnumMap<>(Library.class);

    private NativeLibraries() {
    }

    /**
     * Loads {@code library} (and what it needs) if not loaded yet.
     *
     * @return the path of the library's main file
     * @throws NativeLibraryException naming every directory searched, when it is not found or fails to load
     */
    public static synchronized Path load(Library library) {
        Path done = LOADED.get(library);
        if (done != null) {
            return done;
        }
        Path main = locate(library.displayName, library.mainSoname(), library.pipPackage);
        Path dir = main.getParent();
        for (String soname : library.sonames) {
            // Sub-libraries are taken from the main library's directory so that versions never mix.
            Path file = dir.resolve(soname);
            if (!soname.equals(library.mainSoname()) && !Files.exists(file)) {
                continue;
            }
            try {
                System.load(file.toString());
            } catch (UnsatisfiedLinkError e) {
                throw new NativeLibraryException(library.displayName + ": loading " + file + " failed: " + e.getMessage(), e);
            }
        }
        LOADED.put(library, main);
        return main;
    }

    /** Whether {@link #load(Library)} has loaded {@code library} in this process (loads nothing). */
    public static synchronized boolean isLoaded(Library library) {
        return LOADED.containsKey(library);
    }

    /** The first file named {@code soname} in the search order, or an exception listing every place searched. */
    static Path locate(String displayName, String soname, String pipPackage) {
        List<Path> dirs = searchDirectories();
        return find(soname, dirs).orElseThrow(() -> new NativeLibraryException(
                displayName + " (" + soname + ") was not found. Searched, in order:\n  "
                        + String.join("\n  ", dirs.stream().map(Path::toString).toList())
                        + (explicitOnly() ? "\n  (nothing else: JDL_LIBRARY_SEARCH / jdl.library.search is explicit-only,"
                                + " so LD_LIBRARY_PATH, CUDA_HOME, pip packages and the ldconfig cache were skipped)"
                                : "\n  the ldconfig cache (ldconfig -p)")
                        + "\nSet JDL_LIBRARY_PATH (or -Djdl.library.path) to the directory holding it, or install "
                        + "NVIDIA's pip package " + pipPackage + "."));
    }

    /** Whether {@code library} can be found, without loading it. */
    public static boolean isAvailable(Library library) {
        return find(library.mainSoname(), searchDirectories()).isPresent();
    }

    private static Optional<Path> find(String soname, List<Path> dirs) {
        return LibrarySearch.find(soname, dirs, explicitOnly());
    }

    /** Whether the search is restricted to {@code jdl.library.path} / {@code JDL_LIBRARY_PATH}. */
    static boolean explicitOnly() {
        return LibrarySearch.explicitOnly("jdl.library.search", "JDL_LIBRARY_SEARCH", NativeLibraryException::new);
    }

    /** Every directory searched, in order, without duplicates. */
    public static List<Path> searchDirectories() {
        Set<Path> dirs = new LinkedHashSet<>();
        LibrarySearch.pathList(System.getProperty("jdl.library.path")).forEach(dirs::add);
        LibrarySearch.pathList(System.getenv("JDL_LIBRARY_PATH")).forEach(dirs::add);
        if (explicitOnly()) {
            return new ArrayList<>(dirs);
        }
        LibrarySearch.pathList(System.getenv("LD_LIBRARY_PATH")).forEach(dirs::add);
        for (String home : new String[] {System.getenv("CUDA_HOME"), System.getenv("CUDA_PATH"), "/usr/local/cuda"}) {
            if (home != null && !home.isBlank()) {
                for (String sub : new String[] {"lib64", "lib", "targets/x86_64-linux/lib"}) {
                    dirs.add(Path.of(home, sub));
                }
            }
        }
        for (Path nvidia : pipNvidiaRoots()) {
            for (String sub : new String[] {"cu13/lib", "cuda_runtime/lib", "cublas/lib", "cudnn/lib"}) {
                dirs.add(nvidia.resolve(sub));
            }
        }
        return new ArrayList<>(dirs);
    }

    /** {@code site-packages/nvidia} folders of NVIDIA's pip wheels, and jdl's own unpacked copy. */
    private static List<Path> pipNvidiaRoots() {
        Set<Path> sitePackages = new LinkedHashSet<>();
        LibrarySearch.pathList(System.getenv("PYTHONPATH")).forEach(sitePackages::add);
        String home = System.getProperty("user.home");
        for (String prefix : new String[] {System.getenv("VIRTUAL_ENV"), System.getenv("CONDA_PREFIX"), "/usr/local",
                "/usr", "/opt/conda", home + "/.local"}) {
            if (prefix != null) {
                sitePackagesUnder(Path.of(prefix, "lib"), sitePackages);
            }
        }
        List<Path> roots = new ArrayList<>();
        String cache = System.getenv("JDL_NVIDIA_HOME");
        roots.add(cache != null ? Path.of(cache) : Path.of(home, ".cache", "jdl", "nvidia"));
        sitePackages.forEach(sp -> roots.add(sp.resolve("nvidia")));
        return roots;
    }

    private static void sitePackagesUnder(Path lib, Set<Path> out) {
        if (!Files.isDirectory(lib)) {
            return;
        }
        try (Stream<Path> pythons = Files.list(lib)) {
            pythons.filter(p -> p.getFileName().toString().startsWith("python"))
                    .sorted()
                    .forEach(p -> {
                        out.add(p.resolve("site-packages"));
                        out.add(p.resolve("dist-packages"));
                    });
        } catch (IOException e) {
            // An unreadable directory is simply not a place where the library is.
        }
    }
}
