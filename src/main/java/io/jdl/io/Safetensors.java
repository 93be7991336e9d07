package io.jdl.io;

import io.jdl.device.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads and writes the <a href="https://github.com/huggingface/safetensors">safetensors</a> format, which
 * PyTorch loads with {@code safetensors.torch.load_file}.
 *
 * <p><b>Layout.</b> 8 bytes: the header length {@code N} as an unsigned little-endian 64-bit integer; then
 * {@code N} bytes of UTF-8 JSON, an object mapping each tensor name to
 * {@code {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}} plus an optional
 * {@code "__metadata__"} object of string to string; then the byte buffer. Offsets are relative to the start
 * of the byte buffer; the tensors cover it exactly, without holes or overlaps; values are little-endian and
 * row-major. This writer puts tensors in the order given, contiguously, and pads the header with trailing
 * spaces so that the byte buffer starts at a multiple of 8 bytes. Each array keeps its dtype, bit for bit.
 *
 * <p><b>Atomic writes.</b> {@link #write} writes the temporary file {@code .<name>.partial} in the target's
 * directory (locked, so two concurrent saves to one target fail clearly), forces it to disk, renames it over the
 * target with {@link StandardCopyOption#ATOMIC_MOVE} and forces the directory: a crash at any point leaves
 * either the previous file or the new one, never a partial file under the target's name; the next save reuses
 * the leftover temporary file. The file gets the process's default permissions (umask), like any new file.
 *
 * <p><b>Reading</b> checks everything the specification requires and fails with a
 * {@link SafetensorsException} naming the file and the entry: a header length past the end of the file,
 * a header that is not a JSON object, a tensor entry without dtype/shape/data_offsets, offsets out of range,
 * overlapping or leaving holes, a byte size that does not match the shape, a metadata value that is not a
 * string, a dtype other than F32, F16, BF16, I64, I32, U8 and BOOL (see {@link DType}), a file that
 * changes size while being read. Looking up a name that is not in
 * the file is a {@link SafetensorsException} listing the names present.
 *
 * <p><b>Ownership.</b> Arrays passed in are only read; arrays returned are new and belong to the caller.
 */
public final class Safetensors {
    /** The reserved header key for string metadata. */
    public static final String METADATA_KEY = "__metadata__";
    /** Largest header accepted when reading (as the reference implementation: 100 MB). */
    public static final long MAX_HEADER = 100_000_000L;

    private Safetensors() {
    }

    /** The tensors of a file, in file order, and its metadata. */
    public record Contents(Path file, Map<String, NamedArray> tensors, Map<String, String> metadata) {
        /**
         * The tensor called {@code name}.
         *
         * @throws SafetensorsException when the file holds no such tensor (the message lists those it holds)
         */
        public NamedArray get(String name) throws SafetensorsException {
            NamedArray a = tensors.get(name);
            if (a == null) {
                throw new SafetensorsException(file + ": no tensor named '" + name + "'; the file holds "
                        + tensors.size() + ": " + String.join(", ", tensors.keySet()));
            }
            return a;
        }

        /** The tensor called {@code name}, checking that it has {@code shape}. */
        public NamedArray get(String name, int... shape) throws SafetensorsException {
            NamedArray a = get(name);
            if (!Arrays.equals(a.shape(), shape)) {
                throw new SafetensorsException(file + ": tensor '" + name + "' has shape " + Arrays.toString(a.shape())
                        + ", expected " + Arrays.toString(shape));
            }
            return a;
        }
    }

    /** Writes {@code tensors} atomically, without metadata. */
    public static void write(Path file, Collection<NamedArray> tensors) throws IOException {
        write(file, tensors, Map.of());
    }

    /**
     * Writes {@code tensors} (in iteration order) and {@code metadata} atomically to {@code file}.
     *
     * @throws IllegalArgumentException for duplicate names, an empty name or the reserved name
     *                                  {@value #METADATA_KEY}
     * @throws IOException              when writing fails; the previous file, if any, is then unchanged
     */
    public static void write(Path file, Collection<NamedArray> tensors, Map<String, String> metadata) throws IOException {
        byte[] header = header(tensors, metadata);
        Path abs = file.toAbsolutePath();
        Path dir = abs.getParent();
        Files.createDirectories(dir);
        // One fixed temporary name per target: a save killed half-way leaves at most this one file, which the next
        // save overwrites (random names piled up). Created with the process's default permissions, like the target.
        Path tmp = dir.resolve("." + abs.getFileName() + ".partial");
        boolean done = false;
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            boolean locked;
            try {
                locked = ch.tryLock() != null;
            } catch (java.nio.channels.OverlappingFileLockException e) {
                locked = false;
            }
            if (!locked) {
                throw new IOException("another save to " + abs + " is in progress (" + tmp + " is locked)");
            }
            try {
                ch.truncate(0);
                ByteBuffer prefix = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
                prefix.putLong(header.length).put(header).flip();
                writeFully(ch, prefix);
                ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
                for (NamedArray t : tensors) {
                    if (t.dtype() != DType.FLOAT32) {
                        writeFully(ch, ByteBuffer.wrap(t.bytes()));
                        continue;
                    }
                    float[] data = t.data();
                    int i = 0;
                    while (i < data.length) {
                        chunk.clear();
                        int n = Math.min(data.length - i, chunk.capacity() / Float.BYTES);
                        chunk.asFloatBuffer().put(data, i, n);
                        chunk.limit(n * Float.BYTES);
                        writeFully(ch, chunk);
                        i += n;
                    }
                }
                ch.force(true);
                try {
                    Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    throw new IOException("cannot replace " + abs + " atomically on this file system: " + e.getMessage(), e);
                }
                done = true;
            } finally {
                if (!done) {
                    Files.deleteIfExists(tmp);
                }
            }
        }
        forceDirectory(dir);
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static void forceDirectory(Path dir) {
        // Makes the rename durable on Linux; some platforms cannot open a directory, which is harmless.
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // best effort
        }
    }

    /** The header JSON, padded with spaces to a multiple of 8 bytes. */
    static byte[] header(Collection<NamedArray> tensors, Map<String, String> metadata) {
        StringBuilder sb = new StringBuilder("{");
        boolean first = true;
        if (metadata != null && !metadata.isEmpty()) {
            sb.append(Json.quote(METADATA_KEY)).append(":{");
            boolean f = true;
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                sb.append(f ? "" : ",").append(Json.quote(e.getKey())).append(':').append(Json.quote(e.getValue()));
                f = false;
            }
            sb.append('}');
            first = false;
        }
        Set<String> names = new HashSet<>();
        long offset = 0;
        for (NamedArray t : tensors) {
            if (t.name().isEmpty() || t.name().equals(METADATA_KEY)) {
                throw new IllegalArgumentException("invalid tensor name '" + t.name() + "'");
            }
            if (!names.add(t.name())) {
                throw new IllegalArgumentException("duplicate tensor name '" + t.name() + "'");
            }
            long end = offset + t.byteSize();
            sb.append(first ? "" : ",").append(Json.quote(t.name())).append(":{\"dtype\":\"").append(t.dtype().safetensorsName())
                    .append("\",\"shape\":[");
            for (int i = 0; i < t.shape().length; i++) {
                sb.append(i == 0 ? "" : ",").append(t.shape()[i]);
            }
            sb.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
            first = false;
        }
        sb.append('}');
        byte[] json = sb.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    /** Reads every tensor and the metadata of {@code file}. */
    public static Contents read(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new SafetensorsException(file + ": " + size + " bytes, too short for the 8-byte header length");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(file, ch, lenBuf, 0);
            long n = lenBuf.flip().getLong();
            if (n < 0 || n > MAX_HEADER) {
                throw new SafetensorsException(file + ": header length " + Long.toUnsignedString(n)
                        + " is larger than the " + MAX_HEADER + " bytes allowed (not a safetensors file?)");
            }
            if (8 + n > size) {
                throw new SafetensorsException(file + ": header length " + n + " runs past the end of the file ("
                        + size + " bytes, " + (size - 8) + " after the length)");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) n);
            readFully(file, ch, hb, 8);
            String json;
            try {
                json = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(hb.flip()).toString();
            } catch (CharacterCodingException e) {
                throw new SafetensorsException(file + ": corrupt header: not valid UTF-8", e);
            }
            if (!json.startsWith("{")) {
                throw new SafetensorsException(file + ": corrupt header: it must start with '{'");
            }
            Object root;
            try {
                root = Json.parse(json);
            } catch (IllegalArgumentException e) {
                throw new SafetensorsException(file + ": corrupt header: bad JSON: " + e.getMessage(), e);
            }
            if (!(root instanceof Map<?, ?> map)) {
                throw new SafetensorsException(file + ": corrupt header: not a JSON object");
            }
            long bufferStart = 8 + n, bufferLen = size - bufferStart;
            Map<String, String> metadata = new LinkedHashMap<>();
            List<Entry> entries = new ArrayList<>();
            for (Map.Entry<?, ?> e : map.entrySet()) {
                String name = (String) e.getKey();
                if (name.equals(METADATA_KEY)) {
                    if (!(e.getValue() instanceof Map<?, ?> md)) {
                        throw new SafetensorsException(file + ": corrupt header: " + METADATA_KEY + " is not an object");
                    }
                    for (Map.Entry<?, ?> m : md.entrySet()) {
                        if (!(m.getValue() instanceof String v)) {
                            throw new SafetensorsException(file + ": corrupt header: metadata value of '" + m.getKey()
                                    + "' is not a string");
                        }
                        metadata.put((String) m.getKey(), v);
                    }
                    continue;
                }
                entries.add(entry(file, name, e.getValue(), bufferLen));
            }
            // The tensors must cover the byte buffer exactly: sorted by start, each begins where the last ended.
            List<Entry> sorted = new ArrayList<>(entries);
            sorted.sort((a, b) -> a.begin != b.begin ? Long.compare(a.begin, b.begin) : Long.compare(a.end, b.end));
            long at = 0;
            for (Entry en : sorted) {
                if (en.begin < at) {
                    throw new SafetensorsException(file + ": corrupt header: tensor '" + en.name + "' [" + en.begin + ", "
                            + en.end + ") overlaps the tensor before it, which ends at " + at);
                }
                if (en.begin > at) {
                    throw new SafetensorsException(file + ": corrupt header: bytes [" + at + ", " + en.begin
                            + ") of the data buffer belong to no tensor (a hole before '" + en.name + "')");
                }
                at = en.end;
            }
            if (at != bufferLen) {
                throw new SafetensorsException(file + ": corrupt header: the tensors cover " + at + " bytes but the data "
                        + "buffer after the header holds " + bufferLen + " bytes");
            }
            // Positional reads rather than a memory map: a file that shrinks while being read then ends in a
            // SafetensorsException (a mapped page past the new end is a fatal InternalError).
            Map<String, NamedArray> tensors = new LinkedHashMap<>();
            for (Entry en : entries) {
                ByteBuffer bytes = ByteBuffer.allocate((int) (en.end - en.begin));
                readFully(file, ch, bytes, bufferStart + en.begin);
                try {
                    tensors.put(en.name, NamedArray.ofBytes(en.name, en.dtype, en.shape, bytes.array()));
                } catch (IllegalArgumentException e) {
                    throw new SafetensorsException(file + ": corrupt data: " + e.getMessage(), e);
                }
            }
            if (ch.size() != size) {
                throw new SafetensorsException(file + ": the file changed size while being read (" + size + " -> "
                        + ch.size() + " bytes)");
            }
            return new Contents(file, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
        }
    }

    private record Entry(String name, DType dtype, int[] shape, long begin, long end) {
    }

    private static Entry entry(Path file, String name, Object value, long bufferLen) throws SafetensorsException {
        String where = file + ": corrupt header: tensor '" + name + "'";
        if (!(value instanceof Map<?, ?> m)) {
            throw new SafetensorsException(where + " is not an object");
        }
        for (Object k : m.keySet()) {
            if (!Set.of("dtype", "shape", "data_offsets").contains(k)) {
                throw new SafetensorsException(where + " has an unknown key '" + k + "'");
            }
        }
        if (!(m.get("dtype") instanceof String dtype)) {
            throw new SafetensorsException(where + " has no string 'dtype'");
        }
        DType type;
        try {
            type = DType.ofSafetensorsName(dtype);
        } catch (IllegalArgumentException e) {
            throw new SafetensorsException(file + ": tensor '" + name + "' has dtype " + dtype + ", which is not supported;"
                    + " jdl reads " + Arrays.toString(Arrays.stream(DType.values()).map(DType::safetensorsName).toArray()) + " (convert with tensor.float() before"
                    + " saving)");
        }
        if (!(m.get("shape") instanceof List<?> shapeList)) {
            throw new SafetensorsException(where + " has no 'shape' array");
        }
        int[] shape = new int[shapeList.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            if (!(shapeList.get(i) instanceof Long d) || d < 0 || d > Integer.MAX_VALUE) {
                throw new SafetensorsException(where + " has an invalid shape " + shapeList);
            }
            shape[i] = (int) (long) d;
            numel = d == 0 ? 0 : numel > Integer.MAX_VALUE ? numel : numel * d; // < 2^62: no overflow
        }
        if (!(m.get("data_offsets") instanceof List<?> off) || off.size() != 2 || !(off.get(0) instanceof Long begin)
                || !(off.get(1) instanceof Long end)) {
            throw new SafetensorsException(where + " needs 'data_offsets' [begin, end] as two integers, found "
                    + m.get("data_offsets"));
        }
        if (begin < 0 || end < begin || end > bufferLen) {
            throw new SafetensorsException(where + " has data_offsets [" + begin + ", " + end + "] out of range: the data "
                    + "buffer holds " + bufferLen + " bytes");
        }
        if (numel > Integer.MAX_VALUE || end - begin != numel * type.bytes()) {
            throw new SafetensorsException(where + " has shape " + Arrays.toString(shape) + " (" + numel + " " + type
                    + " values, " + (numel * type.bytes()) + " bytes) but data_offsets [" + begin + ", " + end
                    + "] span " + (end - begin) + " bytes");
        }
        if (end - begin > Integer.MAX_VALUE - 8) {
            throw new SafetensorsException(where + " has " + (end - begin) + " bytes; tensors over 2 GiB are not"
                    + " supported (Java arrays are limited to 2^31 elements)");
        }
        return new Entry(name, type, shape, begin, end);
    }

    private static void readFully(Path file, FileChannel ch, ByteBuffer b, long position) throws IOException {
        long p = position;
        while (b.hasRemaining()) {
            int r = ch.read(b, p);
            if (r < 0) {
                throw new SafetensorsException(file + ": unexpected end of file at byte " + p + " (the file shrank while"
                        + " being read?)");
            }
            p += r;
        }
    }
}
