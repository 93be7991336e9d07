package io.jdl.io;

import io.jdl.device.DType;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
    @TempDir
    Path dir;

    static float[] random(int n, long seed) {
        Random r = new Random(seed);
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) r.nextGaussian();
        }
        return f;
    }

    static List<NamedArray> model() {
        return List.of(
                new NamedArray("fc1.weight", new int[] {5, 3}, random(15, 1)),
                new NamedArray("fc1.bias", new int[] {5}, random(5, 2)),
                new NamedArray("scalar", new int[] {}, new float[] {Float.NaN}),
                new NamedArray("empty", new int[] {0, 4}, new float[0]),
                new NamedArray("blocks.0.attn.\"q\"", new int[] {2, 2, 2}, new float[] {-0f, Float.MIN_VALUE,
                        Float.MAX_VALUE, Float.NEGATIVE_INFINITY, 1, 2, 3, 4}));
    }

    @Test
    void roundTrip() throws IOException {
        Path f = dir.resolve("ckpt.safetensors");
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("epoch", "3");
        Safetensors.write(f, model(), meta);
        Safetensors.Contents c = Safetensors.read(f);
        assertEquals(meta, c.metadata());
        assertEquals(List.of("fc1.weight", "fc1.bias", "scalar", "empty", "blocks.0.attn.\"q\""),
                new ArrayList<>(c.tensors().keySet()));
        for (NamedArray a : model()) {
            NamedArray b = c.get(a.name());
            assertArrayEquals(a.shape(), b.shape());
            // bit-exact, NaN and -0 included
            for (int i = 0; i < a.data().length; i++) {
                assertEquals(Float.floatToRawIntBits(a.data()[i]), Float.floatToRawIntBits(b.data()[i]));
            }
        }
        assertArrayEquals(new int[] {5, 3}, c.get("fc1.weight", 5, 3).shape());
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> c.get("fc1.weight", 3, 5));
        assertTrue(e.getMessage().contains("[5, 3]"), e.getMessage());
    }

    @Test
    void layoutFollowsTheSpecificationParsedIndependently() throws IOException {
        Path f = dir.resolve("m.safetensors");
        List<NamedArray> tensors = model();
        Safetensors.write(f, tensors, Map.of("format", "pt"));
        byte[] bytes = Files.readAllBytes(f);
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, (8 + n) % 8, "data starts 8-byte aligned");
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{"));
        String trimmed = header.stripTrailing();
        assertTrue(trimmed.endsWith("}"));
        assertTrue(header.substring(trimmed.length()).chars().allMatch(ch -> ch == ' '), "padding is spaces");
        assertTrue(header.length() - trimmed.length() < 8);
        assertTrue(trimmed.contains("\"__metadata__\":{\"format\":\"pt\"}"), trimmed);

        Pattern entry = Pattern.compile("\"((?:[^\"\\\\]|\\\\.)*)\":\\{\"dtype\":\"F32\",\"shape\":\\[([0-9,]*)\\],"
                + "\"data_offsets\":\\[(\\d+),(\\d+)\\]\\}");
        Matcher m = entry.matcher(trimmed);
        long expectedBegin = 0;
        int i = 0;
        ByteBuffer data = ByteBuffer.wrap(bytes, (int) (8 + n), (int) (bytes.length - 8 - n)).slice()
                .order(ByteOrder.LITTLE_ENDIAN);
        while (m.find()) {
            NamedArray t = tensors.get(i++);
            assertEquals(t.name(), m.group(1).replace("\\\"", "\""));
            String shape = Stream.of(t.shape()).map(s -> java.util.Arrays.toString(s).replace(" ", "")).findFirst()
                    .orElseThrow();
            assertEquals(shape, "[" + m.group(2) + "]");
            long begin = Long.parseLong(m.group(3)), end = Long.parseLong(m.group(4));
            assertEquals(expectedBegin, begin, "contiguous");
            assertEquals(t.data().length * 4L, end - begin);
            for (int k = 0; k < t.data().length; k++) {
                assertEquals(Float.floatToRawIntBits(t.data()[k]), data.getInt((int) begin + 4 * k), "little-endian f32");
            }
            expectedBegin = end;
        }
        assertEquals(tensors.size(), i, "every tensor has a header entry");
        assertEquals(bytes.length - 8 - n, expectedBegin, "the buffer holds exactly the tensors");
    }

    @Test
    void overwriteIsAtomicAndLeavesNoTemporaryFiles() throws IOException {
        Path f = dir.resolve("a.safetensors");
        Safetensors.write(f, List.of(new NamedArray("w", new int[] {2}, new float[] {1, 2})));
        byte[] before = Files.readAllBytes(f);
        // a failing save (duplicate names) leaves the previous file intact
        assertThrows(IllegalArgumentException.class, () -> Safetensors.write(f,
                List.of(new NamedArray("w", new int[] {1}, new float[] {1}), new NamedArray("w", new int[] {1}, new float[] {2}))));
        assertArrayEquals(before, Files.readAllBytes(f));
        Safetensors.write(f, List.of(new NamedArray("w", new int[] {3}, new float[] {4, 5, 6})));
        assertArrayEquals(new float[] {4, 5, 6}, Safetensors.read(f).get("w").data());
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(f), files.toList());
        }
        assertThrows(IllegalArgumentException.class,
                () -> Safetensors.write(f, List.of(new NamedArray("__metadata__", new int[] {0}, new float[0]))));
    }

    @Test
    void missingTensorNamesThosePresent() throws IOException {
        Path f = dir.resolve("a.safetensors");
        Safetensors.write(f, model());
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> Safetensors.read(f).get("fc2.weight"));
        assertTrue(e.getMessage().contains("no tensor named 'fc2.weight'"), e.getMessage());
        assertTrue(e.getMessage().contains("fc1.bias"), e.getMessage());
    }

    /** Writes a file from a raw header string and a data buffer of {@code dataBytes} zero bytes. */
    private Path raw(String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path f = dir.resolve("raw" + System.nanoTime() + ".safetensors");
        Files.write(f, b.array());
        return f;
    }

    private void assertCorrupt(Path f, String expected) {
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> Safetensors.read(f));
        assertTrue(e.getMessage().contains(expected), "'" + e.getMessage() + "' should contain '" + expected + "'");
    }

    @Test
    void corruptHeaders() throws IOException {
        String ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        assertEquals(2, Safetensors.read(raw(ok, 8)).get("a").data().length);

        assertCorrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8), "bad JSON");
        assertCorrupt(raw("[1,2]", 0), "must start with '{'");
        assertCorrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":1}", 8), "duplicate key");
        assertCorrupt(raw(ok, 4), "out of range");
        assertCorrupt(raw(ok, 12), "cover 8 bytes but the data buffer after the header holds 12");
        assertCorrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "span 8 bytes");
        assertCorrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "overlaps");
        assertCorrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "hole");
        assertCorrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), "data_offsets");
        assertCorrupt(raw("{\"__metadata__\":{\"k\":1}}", 0), "not a string");
        assertCorrupt(raw("{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8), "dtype F64");
        assertCorrupt(raw("{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "span 8 bytes");

        Path shortFile = dir.resolve("short");
        Files.write(shortFile, new byte[] {1, 2, 3});
        assertCorrupt(shortFile, "too short");
        ByteBuffer past = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).putLong(0);
        Path pastFile = dir.resolve("past");
        Files.write(pastFile, past.array());
        assertCorrupt(pastFile, "runs past the end of the file");
        ByteBuffer huge = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-1L).putLong(0);
        Path hugeFile = dir.resolve("huge");
        Files.write(hugeFile, huge.array());
        assertCorrupt(hugeFile, "larger than");
    }

    @Test
    void jsonParserIsStrict() {
        assertEquals(Map.of("a", List.of(1L, -2L, 1.5), "b", "x\"\n\u00e9"),
                Json.parse("{\"a\":[1,-2,1.5],\"b\":\"x\\\"\\n\\u00e9\"}"));
        for (String bad : List.of("{", "{\"a\":01}", "{\"a\":1,}", "{'a':1}", "{\"a\":1} x", "[1 2]", "{\"a\":tru}",
                "\"\\x\"", "\"\\u+041\"", "\"\\u-041\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"",
                "\"\\u00g1\"")) {
            assertThrows(IllegalArgumentException.class, () -> Json.parse(bad), bad);
        }
        assertEquals("\"a\\\\b\\u0001\"", Json.quote("a\\b\u0001"));
        assertEquals("\ud83d\ude00", Json.parse("\"\\ud83d\\ude00\""));
    }

    /** Every dtype survives a write and a read bit for bit; conversion to float32 follows torch's .float(). */
    @Test
    void everyDtypeRoundTripsExactly() throws IOException {
        ByteBuffer f16 = ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN);
        f16.putShort(Float.floatToFloat16(1.5f)).putShort((short) 0x7e01).putShort(Float.floatToFloat16(-65504f));
        ByteBuffer bf16 = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0x3fc0).putShort((short) 0xff81);
        ByteBuffer i32 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(-7).putInt(Integer.MAX_VALUE);
        List<NamedArray> arrays = List.of(
                new NamedArray("f32", new int[] {2}, new float[] {Float.intBitsToFloat(0x7fc00123), -0f}),
                NamedArray.ofBytes("f16", DType.FLOAT16, new int[] {3}, f16.array()),
                NamedArray.ofBytes("bf16", DType.BFLOAT16, new int[] {2}, bf16.array()),
                NamedArray.ofLongs("i64", new int[] {}, Long.MIN_VALUE + 1),
                NamedArray.ofBytes("i32", DType.INT32, new int[] {2, 1}, i32.array()),
                NamedArray.ofBytes("u8", DType.UINT8, new int[] {3}, new byte[] {0, (byte) 200, (byte) 255}),
                NamedArray.ofBytes("bool", DType.BOOL, new int[] {2}, new byte[] {1, 0}));
        Path f = dir.resolve("dtypes.safetensors");
        Safetensors.write(f, arrays);
        Safetensors.Contents c = Safetensors.read(f);
        for (NamedArray a : arrays) {
            assertEquals(a, c.get(a.name()), a.name());
        }
        assertArrayEquals(new float[] {1.5f, Float.NaN, -65504f}, c.get("f16").data());
        assertArrayEquals(new float[] {1.5f, Float.NaN}, c.get("bf16").data());
        assertArrayEquals(new long[] {Long.MIN_VALUE + 1}, c.get("i64").longs());
        assertArrayEquals(new float[] {-7f, 2147483648f}, c.get("i32").data());
        assertArrayEquals(new float[] {0, 200, 255}, c.get("u8").data());
        assertArrayEquals(new long[] {1, 0}, c.get("bool").longs());
        assertThrows(IllegalArgumentException.class,
                () -> NamedArray.ofBytes("b", DType.BOOL, new int[] {1}, new byte[] {2}));
        assertThrows(IllegalStateException.class, () -> c.get("f16").longs());
    }

    /** Element counts that overflow are refused when the array is made, not by the reader of the written file. */
    @Test
    void shapeProductsThatOverflowAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new NamedArray("w", new int[] {65536, 65536, 65536, 65536}, new float[0]));
        assertTrue(e.getMessage().contains("more than 2^31 - 1 elements"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new NamedArray("w", new int[] {65536, 65536, 0}, new float[1]));
    }

    /** A save killed half-way leaves one .partial file at most, which the next save replaces; mode follows umask. */
    @Test
    void interruptedSavesLeaveNoPileOfTemporaryFiles() throws IOException {
        Path f = dir.resolve("ckpt.safetensors");
        Path partial = dir.resolve(".ckpt.safetensors.partial");
        for (int i = 0; i < 3; i++) {
            Files.write(partial, new byte[1000]); // what a killed save leaves
            Safetensors.write(f, model());
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(f), files.toList());
        }
        Path plain = Files.createFile(dir.resolve("plain"));
        assertEquals(Files.getPosixFilePermissions(plain), Files.getPosixFilePermissions(f));
    }

    /** A file rewritten shorter while it is being read fails with a SafetensorsException, never an Error. */
    @Test
    void fileShrinkingUnderTheReaderFailsCleanly() throws Exception {
        Path f = dir.resolve("moving.safetensors");
        List<NamedArray> big = List.of(new NamedArray("w", new int[] {1 << 18}, random(1 << 18, 3)));
        Safetensors.write(f, big);
        byte[] whole = Files.readAllBytes(f);
        Thread shrinker = Thread.ofPlatform().start(() -> {
            try {
                for (int i = 0; i < 200 && !Thread.currentThread().isInterrupted(); i++) {
                    try (var ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.WRITE)) {
                        ch.truncate(whole.length / 2);
                    }
                    Files.write(f, whole);
                }
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        // Any Error (the memory-mapped reader threw InternalError) escapes and fails the test.
        while (shrinker.isAlive()) {
            try {
                Safetensors.read(f);
            } catch (SafetensorsException expected) {
                // the size changed under the reader
            } catch (java.nio.file.NoSuchFileException ignored) {
                // between truncation and rewrite on some file systems
            }
        }
        shrinker.join();
        assertEquals(big.get(0), Safetensors.read(f).get("w"));
    }
}
