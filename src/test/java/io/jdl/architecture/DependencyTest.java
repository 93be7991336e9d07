package io.jdl.architecture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Dependencies point one way: bindings <- safe layer <- device <- backend <- autograd switch <- tensor <-
 * nn/optim <- data/io/models <- samples. Reads every import (and fully qualified name in code) of
 * {@code src/main/java} and of the samples, and names each file and import that points up or sideways
 * where it must not.
 */
class DependencyTest {
    /** Package prefix -> layer (higher may use lower and its own layer, never higher). */
    private static final Map<String, Integer> LAYERS = new LinkedHashMap<>();

    static {
        layer(0, "io.jdl.bindings");
        layer(1, "io.jdl.cuda", "io.jdl.cublas", "io.jdl.cudnn", "io.jdl.cpunative");
        layer(2, "io.jdl.device");
        layer(3, "io.jdl.backend");
        layer(4, "io.jdl.autograd");
        layer(5, "io.jdl.tensor");
        layer(6, "io.jdl.nn", "io.jdl.optim");
        layer(7, "io.jdl.data", "io.jdl.io", "io.jdl.models");
        layer(8, "io.jdl.samples", "io.jdl.bench");
    }

    /** Edges that the layer order allows but the design forbids: from-package prefix -> target prefixes. */
    private static final Map<String, List<String>> FORBIDDEN = Map.of(
            // The interface layer names no implementation; implementations register through ServiceLoader.
            "io.jdl.backend.", List.of("io.jdl.backend.cpu", "io.jdl.backend.cuda"),
            // The CPU reference backend is pure Java: nothing of the GPU side.
            "io.jdl.backend.cpu", List.of("io.jdl.cuda", "io.jdl.cublas", "io.jdl.cudnn", "io.jdl.bindings",
                    "io.jdl.backend.cuda"),
            // Nothing above the backends names a concrete one.
            "io.jdl.tensor", List.of("io.jdl.backend.cpu", "io.jdl.backend.cuda"),
            "io.jdl.nn", List.of("io.jdl.backend", "io.jdl.optim"),
            "io.jdl.optim", List.of("io.jdl.backend", "io.jdl.nn"));

    private static final Pattern IMPORT = Pattern.compile("^import\\s+(?:static\\s+)?(io\\.jdl\\.[\\w.]+)", Pattern.MULTILINE);
    private static final Pattern QUALIFIED = Pattern.compile("\\b(io\\.jdl(?:\\.[a-z_][\\w]*)+)\\.[A-Z]");
    private static final Pattern PACKAGE = Pattern.compile("^package\\s+([\\w.]+);", Pattern.MULTILINE);

    private static void layer(int n, String... prefixes) {
        for (String p : prefixes) {
            LAYERS.put(p, n);
        }
    }

    @Test
    void dependenciesPointOneWay() {
        List<String> violations = new ArrayList<>();
        int files = 0;
        for (Path root : List.of(Path.of("src/main/java"), Path.of("samples/src/main/java"), Path.of("src/jmh/java"))) {
            for (Path f : javaFiles(root)) {
                files++;
                violations.addAll(check(root.relativize(f).toString(), read(f)));
            }
        }
        assertTrue(files > 100, "found only " + files + " source files: run from the repository root");
        assertEquals(List.of(), violations, "imports against the layer order");
    }

    @Test
    void theCheckNamesTheFileAndTheImport() {
        String src = "package io.jdl.tensor;\nimport io.jdl.nn.Linear;\nimport io.jdl.backend.cpu.CpuBackend;\n";
        List<String> v = check("io/jdl/tensor/Bad.java", src);
        assertEquals(2, v.size(), v.toString());
        assertTrue(v.get(0).contains("io/jdl/tensor/Bad.java") && v.get(0).contains("io.jdl.nn.Linear"), v.get(0));
        assertTrue(v.get(1).contains("io.jdl.backend.cpu.CpuBackend"), v.get(1));
    }

    static List<String> check(String file, String source) {
        Matcher pm = PACKAGE.matcher(source);
        if (!pm.find()) {
            return List.of(file + ": no package declaration");
        }
        String pkg = pm.group(1);
        Integer from = layerOf(pkg);
        if (from == null) {
            return List.of(file + ": package " + pkg + " is in no layer (add it to DependencyTest.LAYERS)");
        }
        List<String> out = new ArrayList<>();
        List<String> targets = new ArrayList<>();
        IMPORT.matcher(source).results().forEach(r -> targets.add(r.group(1)));
        QUALIFIED.matcher(withoutComments(source)).results().forEach(r -> targets.add(r.group(0)
                .substring(0, r.group(0).length() - 2)));
        for (String target : targets) {
            Integer to = layerOf(target);
            if (to == null) {
                out.add(file + ": " + target + " is in no layer");
            } else if (to > from) {
                out.add(file + " (layer " + from + ", " + pkg + ") imports " + target + " (layer " + to + ")");
            } else {
                FORBIDDEN.forEach((fromPrefix, banned) -> {
                    if ((pkg + ".").startsWith(fromPrefix) || pkg.startsWith(fromPrefix) && !fromPrefix.endsWith(".")) {
                        for (String b : banned) {
                            boolean own = (pkg + ".").startsWith(b + ".");
                            if (!own && (target + ".").startsWith(b + ".")) {
                                out.add(file + " (" + pkg + ") imports " + target + ": " + fromPrefix + " must not use "
                                        + b);
                            }
                        }
                    }
                });
            }
        }
        return out;
    }

    private static Integer layerOf(String name) {
        return LAYERS.entrySet().stream()
                .filter(e -> name.equals(e.getKey()) || name.startsWith(e.getKey() + "."))
                .max(Comparator.comparingInt(e -> e.getKey().length()))
                .map(Map.Entry::getValue).orElse(null);
    }

    /** The code only: no comments, no import or package lines (read separately). */
    private static String withoutComments(String s) {
        return s.replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\\n]*", "")
                .replaceAll("(?m)^(import|package)\\s[^\\n]*", "");
    }

    private static List<Path> javaFiles(Path root) {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(p -> p.toString().endsWith(".java")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String read(Path f) {
        try {
            return Files.readString(f);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
