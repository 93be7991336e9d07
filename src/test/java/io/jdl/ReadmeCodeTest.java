package io.jdl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.StringWriter;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compiles every {@code java} code block of README.md with the JDK's compiler against the test class path, and
 * runs it, so the README cannot drift from the API. The convention (stated in the README):
 * <ul>
 *   <li>a block that declares a top-level class is a complete program: compiled as it is, its {@code main}
 *       run with a temporary directory as {@code args[0]};</li>
 *   <li>any other block is a fragment: the body of a generated {@code main}, after single-type imports of every
 *       public class of jdl's API packages (so {@code Module} is jdl's, not {@code java.lang.Module}) and
 *       on-demand imports of {@code java.util} and {@code java.nio.file}, and after the declarations of an
 *       HTML comment {@code <!-- README test setup: ... -->} on the line just above the block.</li>
 * </ul>
 */
class ReadmeCodeTest {
    private static final List<String> API_PACKAGES = List.of("device", "backend", "tensor", "autograd", "nn", "optim", "data", "io",
            "models");
    private static final Pattern SETUP = Pattern.compile("<!--\\s*README test setup:(.*)-->");
    private static final Pattern CLASS = Pattern.compile("(?m)^public\\s+(?:final\\s+)?class\\s+(\\w+)");

    @TempDir
    Path tmp;

    record Block(int line, String code, String setup) {
    }

    static List<Block> javaBlocks(List<String> lines) {
        List<Block> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            if (!lines.get(i).strip().equals("```java")) {
                continue;
            }
            Matcher m = i > 0 ? SETUP.matcher(lines.get(i - 1)) : null;
            String setup = m != null && m.find() ? m.group(1).strip() : "";
            int start = i + 1;
            int end = start;
            while (end < lines.size() && !lines.get(end).strip().equals("```")) {
                end++;
            }
            assertTrue(end < lines.size(), "README.md line " + (i + 1) + ": java block never closed");
            out.add(new Block(i + 1, String.join("\n", lines.subList(start, end)), setup));
            i = end;
        }
        return out;
    }

    static Path root() {
        return Path.of(System.getProperty("basedir", ".")).toAbsolutePath();
    }

    /** Single-type imports of every public top-level class of the API packages, unique by simple name. */
    static String apiImports() throws IOException {
        Map<String, String> bySimpleName = new LinkedHashMap<>();
        for (String pkg : API_PACKAGES) {
            Path dir = root().resolve("src/main/java/io/jdl").resolve(pkg);
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
                    String name = f.getFileName().toString().replace(".java", "");
                    Pattern publicType = Pattern.compile("(?m)^public\\s+(?:(?:final|abstract|sealed|non-sealed)\\s+)*"
                            + "(?:class|interface|record|enum|@interface)\\s+" + name + "\\b");
                    if (publicType.matcher(Files.readString(f)).find()) {
                        bySimpleName.putIfAbsent(name, "io.jdl." + pkg + "." + name);
                    }
                }
            }
        }
        StringBuilder sb = new StringBuilder();
        bySimpleName.values().forEach(c -> sb.append("import ").append(c).append(";\n"));
        return sb.append("import java.util.*;\nimport java.nio.file.*;\n").toString();
    }

    @TestFactory
    Stream<DynamicTest> everyJavaBlockCompilesAndRuns() throws IOException {
        List<Block> blocks = javaBlocks(Files.readAllLines(root().resolve("README.md")));
        assertTrue(blocks.size() >= 3, "README.md has " + blocks.size() + " java blocks; expected the application"
                + " example and the fragments");
        return run("README.md", blocks);
    }

    /** The same for the doc pages under docs/ (the tensor basics tour): every block is a fragment or a program. */
    @TestFactory
    Stream<DynamicTest> everyJavaBlockOfTheDocsCompilesAndRuns() throws IOException {
        String page = "docs/tensor-basics.md";
        List<Block> blocks = javaBlocks(Files.readAllLines(root().resolve(page)));
        assertTrue(blocks.size() >= 8, page + " has " + blocks.size() + " java blocks; expected one per section of the tour");
        return run(page, blocks);
    }

    private Stream<DynamicTest> run(String file, List<Block> blocks) throws IOException {
        String imports = apiImports();
        return blocks.stream().map(b -> DynamicTest.dynamicTest(file + " line " + b.line(), () -> {
            Matcher cls = CLASS.matcher(b.code());
            String className, source;
            if (cls.find()) {
                className = cls.group(1);
                source = b.code();
            } else {
                className = "ReadmeFragmentAtLine" + b.line();
                source = imports + "public class " + className + " {\n    public static void main(String[] args) throws"
                        + " Exception {\n" + b.setup() + "\n" + b.code() + "\n    }\n}\n";
            }
            Path dir = Files.createDirectories(tmp.resolve(file.replaceAll("\\W", "_") + "-line" + b.line()));
            Path src = dir.resolve(className + ".java");
            Files.writeString(src, source);
            compile(src, dir, file, b.line());
            Path work = Files.createDirectories(dir.resolve("work"));
            try (URLClassLoader loader = new URLClassLoader(new URL[] {dir.toUri().toURL()},
                    ReadmeCodeTest.class.getClassLoader())) {
                Method main = loader.loadClass(className).getMethod("main", String[].class);
                main.invoke(null, (Object) new String[] {work.toString()});
            }
        }));
    }

    private static void compile(Path src, Path out, String file, int line) throws IOException {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        // Surefire may hand the JVM a one-jar manifest class path; it names the real one here.
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        StringWriter diagnostics = new StringWriter();
        try (StandardJavaFileManager files = javac.getStandardFileManager(null, null, null)) {
            Iterable<? extends JavaFileObject> units = files.getJavaFileObjects(src);
            boolean ok = javac.getTask(diagnostics, files, null, List.of("-classpath", classPath, "-d", out.toString(),
                    "-proc:none", "-Xlint:-options"), null, units).call();
            assertEquals("", ok ? "" : diagnostics.toString(), file + " java block at line " + line
                    + " does not compile");
        }
    }
}
