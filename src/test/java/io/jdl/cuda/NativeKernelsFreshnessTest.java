package io.jdl.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** The committed fatbin was built from the committed source (needs no GPU and no nvcc). */
class NativeKernelsFreshnessTest {

    static final String SOURCE = "native/jdl_kernels.cu";
    static final String HASH_RESOURCE = "/io/jdl/native/jdl_kernels.sha256";

    static Path projectDir() {
        return Path.of(System.getProperty("basedir", "."));
    }

    /** native/jdl_kernels.cu; skips the test where the sources are absent (the GPU bundle holds only jars). */
    static Path sourceOrSkip() {
        Path source = projectDir().resolve(SOURCE);
        assumeTrue(Files.isRegularFile(source), "no " + SOURCE + " here (e.g. in the GPU bundle) to check against");
        return source;
    }

    @Test
    void fatbinWasBuiltFromTheCurrentSource() throws IOException, NoSuchAlgorithmException {
        byte[] source = Files.readAllBytes(sourceOrSkip());
        String actual = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(source));
        String recorded;
        try (InputStream in = NativeKernels.class.getResourceAsStream(HASH_RESOURCE)) {
            assertNotNull(in, "missing resource " + HASH_RESOURCE + ": run scripts/build-native");
            // sha256sum format: "<hex>  native/jdl_kernels.cu"
            recorded = new String(in.readAllBytes(), StandardCharsets.US_ASCII).trim().split("\\s+")[0];
        }
        assertEquals(recorded, actual, "native/jdl_kernels.cu changed since the fatbin was built: run scripts/build-native");
    }

    @Test
    void fatbinResourceIsAFatbin() throws IOException {
        try (InputStream in = NativeKernels.class.getResourceAsStream(NativeKernels.RESOURCE)) {
            assertNotNull(in, "missing resource " + NativeKernels.RESOURCE + ": run scripts/build-native");
            byte[] head = in.readNBytes(16);
            assertEquals(16, head.length, "fatbin too short");
            assertEquals(0xBA55ED50, NativeKernels.readIntLE(head, 0),
                    () -> String.format("fatbin magic: expected 0xBA55ED50, found 0x%08X", NativeKernels.readIntLE(head, 0)));
        }
        // The loader's own check agrees.
        assertTrue(NativeKernels.readFatbin().length > 1000);
    }
}
