package io.jdl.samples;

import io.jdl.samples.cli.UserError;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The folder one run writes into, created and checked writable before any data is loaded or any step
 * trained. Without {@code --out} every run gets a new folder {@code out/<sample>/<yyyyMMdd-HHmmss>} (with
 * {@code -eval} for {@code --eval-only}), so no earlier result is ever replaced; an explicit {@code --out}
 * must be new or empty unless {@code --overwrite}.
 *
 * <p>Files are written by their own writers (atomically, through temporary files that get mode 0600) and then
 * {@linkplain #wrote recorded} here, which gives them the permissions a plain new file gets under the user's
 * umask (found with the writability probe), so the checkpoint and metrics read like the PNGs.
 */
final class RunFolder {
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

    private final Path dir;
    private final Set<PosixFilePermission> filePermissions; // null where the file system has none
    private final List<String> written = new ArrayList<>();

    private RunFolder(Path dir, Set<PosixFilePermission> filePermissions) {
        this.dir = dir;
        this.filePermissions = filePermissions;
    }

    /** Opens the run's folder: {@code out} (checked) or a new one for {@code sample}. */
    static RunFolder open(Path out, boolean overwrite, String sample, boolean evalOnly) {
        Path dir = out != null ? explicit(out, overwrite) : fresh(Path.of("out", sample), evalOnly ? "-eval" : "");
        return new RunFolder(dir, probe(dir, out != null ? out.toString() : dir.toString()));
    }

    private static Path explicit(Path out, boolean overwrite) {
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw UserError.runtime("--out", out, "exists and is not a folder", null);
        }
        if (Files.isDirectory(out) && !overwrite) {
            try (Stream<Path> entries = Files.list(out)) {
                List<String> names = entries.map(p -> p.getFileName().toString()).sorted().limit(4).toList();
                if (!names.isEmpty()) {
                    throw UserError.runtime("--out", out, "already holds files (" + String.join(", ", names)
                            + (names.size() == 4 ? ", ..." : "") + "); pass --overwrite to replace them, or another folder", null);
                }
            } catch (IOException e) {
                throw UserError.runtime("--out", out, "cannot be listed: " + e.getMessage(), e);
            }
        }
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw UserError.runtime("--out", out, "cannot be created: " + describe(e), e);
        }
        return out;
    }

    /** A new folder under {@code parent} named by the current time, claimed atomically (suffix -2, -3 on a clash). */
    private static Path fresh(Path parent, String suffix) {
        String stamp = LocalDateTime.now().format(STAMP) + suffix;
        try {
            Files.createDirectories(parent);
            for (int n = 1; ; n++) {
                Path dir = parent.resolve(n == 1 ? stamp : stamp + "-" + n);
                try {
                    return Files.createDirectory(dir);
                } catch (FileAlreadyExistsException taken) {
                    // another run started in the same second: take the next name
                }
            }
        } catch (IOException e) {
            throw UserError.runtime("output folder", parent.toAbsolutePath(), "cannot be created: " + describe(e)
                    + "; pass --out DIR", e);
        }
    }

    /** Writes and deletes a probe file; returns the permissions it got (null where not POSIX). */
    private static Set<PosixFilePermission> probe(Path dir, String shown) {
        Path probe = dir.resolve(".jdl-write-check");
        try {
            try (OutputStream ignored = Files.newOutputStream(probe)) {
                // empty: only the permission to create matters
            }
            PosixFileAttributeView view = Files.getFileAttributeView(probe, PosixFileAttributeView.class);
            return view == null ? null : view.readAttributes().permissions();
        } catch (IOException e) {
            throw UserError.runtime("--out", shown, "is not writable: " + describe(e), e);
        } finally {
            try {
                Files.deleteIfExists(probe);
            } catch (IOException ignored) {
                // an undeletable probe in a writable folder is harmless
            }
        }
    }

    private static String describe(IOException e) {
        return e instanceof java.nio.file.AccessDeniedException ? "permission denied"
                : e.getClass().getSimpleName() + " " + e.getMessage();
    }

    Path dir() {
        return dir;
    }

    /** Where to write the file {@code name}; call {@link #wrote} once it is written. */
    Path file(String name) {
        return dir.resolve(name);
    }

    /** Records {@code name} as written (once, however often it is rewritten) and gives it the folder's usual file permissions. */
    void wrote(String name) throws IOException {
        Path f = dir.resolve(name);
        if (filePermissions != null && Files.exists(f)) {
            Files.setPosixFilePermissions(f, filePermissions);
        }
        if (!written.contains(name)) {
            written.add(name);
        }
    }

    /** "Wrote DIR: a, b, c" for the end of a run. */
    String summary() {
        return "Wrote " + dir.toAbsolutePath().normalize() + ": " + String.join(", ", written);
    }
}
