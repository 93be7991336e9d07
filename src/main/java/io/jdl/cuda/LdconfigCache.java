package io.jdl.cuda;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** The dynamic linker's cache, as {@code ldconfig -p} prints it: the last place {@link NativeLibraries} looks. */
final class LdconfigCache {

    private static volatile Map<String, Path> entries;

    private LdconfigCache() {
    }

    static Optional<Path> lookup(String soname) {
        return Optional.ofNullable(entries().get(soname)).filter(Files::isRegularFile);
    }

    private static Map<String, Path> entries() {
        Map<String, Path> read = entries;
        if (read == null) {
            read = read();
            entries = read;
        }
        return read;
    }

    private static Map<String, Path> read() {
        Map<String, Path> map = new HashMap<>();
        for (String ldconfig : new String[] {"/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"}) {
            try {
                Process p = new ProcessBuilder(ldconfig, "-p").redirectErrorStream(true).start();
                try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    // Lines look like: "\tlibcudnn.so.9 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcudnn.so.9"
                    r.lines().forEach(line -> {
                        int arrow = line.indexOf("=>");
                        int paren = line.indexOf(" (");
                        if (arrow > 0 && paren > 0 && line.contains("x86-64")) {
                            map.putIfAbsent(line.substring(0, paren).trim(), Path.of(line.substring(arrow + 2).trim()));
                        }
                    });
                }
                p.waitFor(10, TimeUnit.SECONDS);
                return map;
            } catch (IOException e) {
                // Try the next location of ldconfig.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return map;
            }
        }
        return map;
    }
}
