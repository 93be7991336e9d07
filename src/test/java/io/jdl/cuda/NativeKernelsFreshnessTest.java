package io.jdl.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.BuiltFromSource;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The committed fatbin was built from the committed source (needs no GPU and no nvcc). */
class NativeKernelsFreshnessTest {

    static final String SOURCE = "native/jdl_kernels.cu";
    static final String HASH_RESOURCE = "/io/jdl/native/jdl_kernels.sha256";

    @Test
    void fatbinWasBuiltFromTheCurrentSource() throws IOException, NoSuchAlgorithmException {
        BuiltFromSource.assertBuiltFrom(SOURCE, HASH_RESOURCE, "scripts/build-native");
    }

    @Test
    void fatbinResourceIsAFatbin() throws IOException {
        try (InputStream in = NativeKernels.class.getResourceAsStream(NativeKernels.RESOURCE)) {
            assertNotNull(in, "missing resource " + NativeKernels.RESOURCE + ": run scripts/build-native");
            byte[] head = in.readNBytes(16);
            assertEquals(16, head.length, "fatbin too short");
            assertEquals(0xBA55ED50, KernelLibrary.readIntLE(head, 0),
                    () -> String.format("fatbin magic: expected 0xBA55ED50, found 0x%08X", KernelLibrary.readIntLE(head, 0)));
        }
        // The loader's own check agrees.
        assertTrue(KernelLibrary.readFatbin().length > 1000);
    }

    /**
     * The images in the fatbin, as "sm_80" (SASS, an ELF cubin) or "compute_90" (PTX). Layout, as nvcc writes
     * it: a 16-byte header (magic, u16 version, u16 header size, u64 size of the entries), then entries each
     * with a header (u16 kind: 1 PTX, 2 ELF; u32 header size at 4; u64 payload size at 8; u32 arch at 28,
     * e.g. 90) followed by the payload.
     */
    static List<String> images(byte[] fatbin) {
        ByteBuffer b = ByteBuffer.wrap(fatbin).order(ByteOrder.LITTLE_ENDIAN);
        int headerSize = Short.toUnsignedInt(b.getShort(6));
        long end = headerSize + b.getLong(8);
        assertEquals(fatbin.length, end, "fatbin header size + entries size vs file size");
        List<String> images = new ArrayList<>();
        long offset = headerSize;
        while (offset < end) {
            int at = Math.toIntExact(offset);
            int kind = Short.toUnsignedInt(b.getShort(at));
            long entryHeader = Integer.toUnsignedLong(b.getInt(at + 4));
            long payload = b.getLong(at + 8);
            int arch = b.getInt(at + 28);
            images.add(switch (kind) {
                case 1 -> "compute_" + arch;
                case 2 -> "sm_" + arch;
                default -> "kind " + kind + " arch " + arch;
            });
            offset += entryHeader + payload;
        }
        assertEquals(end, offset, "fatbin entries end exactly at the end of the file");
        return images;
    }

    @Test
    void fatbinHoldsSassForAmpereAndHopperAndPtxForNewerGpus() {
        assertEquals(Set.of("sm_80", "sm_90", "compute_90"), Set.copyOf(images(KernelLibrary.readFatbin())),
                "images in " + NativeKernels.RESOURCE + " (see scripts/build-native)");
    }
}
