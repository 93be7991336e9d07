package io.jdl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The one check of the committed native builds (the CUDA fatbin, the CPU helper library): the SHA-256 their build
 * script recorded beside them is that of the source as it is now.
 */
public final class BuiltFromSource {
    private BuiltFromSource() {
    }

    /** {@code relative} (e.g. {@code native/jdl_kernels.cu}) in this checkout; skips where the sources are absent (the GPU bundle holds only jars). */
    public static Path sourceOrSkip(String relative) {
        Path source = Path.of(System.getProperty("basedir", ".")).resolve(relative);
        assumeTrue(Files.isRegularFile(source), "no " + relative + " here (e.g. in the GPU bundle) to check against");
        return source;
    }

    /**
     * Asserts that class-path resource {@code hashResource} (sha256sum's format: {@code "<hex>  <file>"}) records the
     * SHA-256 of {@code source}; the messages name {@code rebuild}, the script to run when it does not.
     */
    public static void assertBuiltFrom(String source, String hashResource, String rebuild)
            throws IOException, NoSuchAlgorithmException {
        byte[] bytes = Files.readAllBytes(sourceOrSkip(source));
        String actual = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        String recorded;
        try (InputStream in = BuiltFromSource.class.getResourceAsStream(hashResource)) {
            assertNotNull(in, "missing resource " + hashResource + ": run " + rebuild);
            recorded = new String(in.readAllBytes(), StandardCharsets.US_ASCII).trim().split("\\s+")[0];
        }
        assertEquals(recorded, actual, source + " changed since it was built: run " + rebuild);
    }
}
