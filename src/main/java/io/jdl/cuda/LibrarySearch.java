package io.jdl.cuda;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * The search both native loaders share ({@link NativeLibraries} for NVIDIA's libraries,
 * {@code io.jdl.cpunative.CpuNativeLibraries} for oneDNN): folder lists written as in {@code PATH}, the
 * {@code explicit-only} switch, and the first folder holding a soname, then the dynamic linker's cache.
 */
public final class LibrarySearch {
    private LibrarySearch() {
    }

    /** The folders of a {@code :}-separated list (empty entries skipped); none for null or blank. */
    public static List<Path> pathList(String value) {
        if (value == null || value.isBlank()) {
            return List.of();
        }
        return Stream.of(value.split(":")).filter(s -> !s.isBlank()).map(Path::of).toList();
    }

    /**
     * Whether system property {@code property} (else environment variable {@code env}) says {@code explicit-only};
     * unset, blank or {@code default} is false, anything else is {@code error}'s exception naming both and the value.
     */
    public static boolean explicitOnly(String property, String env, Function<String, RuntimeException> error) {
        String mode = System.getProperty(property, System.getenv(env));
        if (mode == null || mode.isBlank() || mode.equals("default")) {
            return false;
        }
        if (mode.equals("explicit-only")) {
            return true;
        }
        throw error.apply(property + " / " + env + " is '" + mode + "': expected explicit-only or default");
    }

    /** The first {@code dir/soname} that is a file, else (unless {@code explicitOnly}) the ldconfig cache's. */
    public static Optional<Path> find(String soname, List<Path> dirs, boolean explicitOnly) {
        for (Path dir : dirs) {
            Path candidate = dir.resolve(soname);
            if (Files.isRegularFile(candidate)) {
                return Optional.of(candidate.toAbsolutePath());
            }
        }
        return explicitOnly ? Optional.empty() : LdconfigCache.lookup(soname);
    }
}
