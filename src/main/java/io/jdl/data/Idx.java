package io.jdl.data;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import java.util.zip.ZipException;

/**
 * Reader (and a small writer, for tests and tools) for the IDX format used by MNIST and Fashion-MNIST.
 *
 * <p>An IDX file is a big-endian header: a 4-byte magic number {@code 0x0000TTNN} (TT = element type,
 * {@code 0x08} for unsigned bytes; NN = number of dimensions), then NN 4-byte dimension sizes, then the
 * elements in row-major order. Only unsigned-byte files are supported: images have magic
 * {@value #IMAGES_MAGIC} ({@code 0x00000803}, three dimensions: count, rows, columns) and labels
 * {@value #LABELS_MAGIC} ({@code 0x00000801}, one dimension: count).
 *
 * <p>Files may be plain or gzipped; gzip is recognised by its magic bytes {@code 1f 8b}, not by the
 * file name.
 *
 * <p><b>Errors.</b> Every content problem is a {@link DataFormatException} (an {@link IOException}) whose
 * message names the file: a wrong magic number (found and expected, in hex), a truncated file (expected and
 * available bytes), trailing bytes, a corrupt gzip stream, a dimension that is negative or whose product
 * does not fit in a Java array. A missing or unreadable file is the underlying {@link IOException}.
 *
 * <p><b>Ownership.</b> Every returned array is new and belongs to the caller.
 */
public final class Idx {
    /** Magic number of an unsigned-byte, three-dimensional IDX file (images). */
    public static final int IMAGES_MAGIC = 0x00000803;
    /** Magic number of an unsigned-byte, one-dimensional IDX file (labels). */
    public static final int LABELS_MAGIC = 0x00000801;

    private static final int UBYTE = 0x08;

    private Idx() {
    }

    /** Unsigned-byte images: {@code count} images of {@code rows x cols} pixels, row-major, 0..255. */
    public record Images(int count, int rows, int cols, byte[] pixels) {
        public Images {
            if ((long) count * rows * cols != pixels.length) {
                throw new IllegalArgumentException(
                        count + "x" + rows + "x" + cols + " images need " + ((long) count * rows * cols) + " bytes, got " + pixels.length);
            }
        }

        /** Pixel {@code (r, c)} of image {@code i}, as 0..255. */
        public int pixel(int i, int r, int c) {
            return pixels[(i * rows + r) * cols + c] & 0xff;
        }
    }

    /** A generic unsigned-byte IDX array: its magic number, dimension sizes and elements. */
    public record Array(int magic, int[] dims, byte[] data) {
    }

    /** Reads an images file (magic {@code 0x00000803}). */
    public static Images readImages(Path file) throws IOException {
        Array a = read(file, IMAGES_MAGIC);
        return new Images(a.dims[0], a.dims[1], a.dims[2], a.data);
    }

    /** Reads a labels file (magic {@code 0x00000801}); each label is 0..255. */
    public static int[] readLabels(Path file) throws IOException {
        Array a = read(file, LABELS_MAGIC);
        int[] labels = new int[a.data.length];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = a.data[i] & 0xff;
        }
        return labels;
    }

    /**
     * Reads an unsigned-byte IDX file whose magic number must be {@code expectedMagic}.
     *
     * @throws DataFormatException on any content problem (see the class description)
     */
    public static Array read(Path file, int expectedMagic) throws IOException {
        return parse(file.toString(), Files.readAllBytes(file), expectedMagic);
    }

    /** Parses IDX content (plain or gzipped) held in memory; {@code name} appears in error messages. */
    public static Array parse(String name, byte[] content, int expectedMagic) throws DataFormatException {
        byte[] bytes = isGzip(content) ? gunzip(name, content) : content;
        ByteBuffer buf = ByteBuffer.wrap(bytes); // big-endian by default, as IDX
        if (bytes.length < 4) {
            throw new DataFormatException(name + ": truncated IDX file: expected at least 4 bytes (the magic number), "
                    + "found " + bytes.length);
        }
        int magic = buf.getInt();
        if (magic != expectedMagic) {
            throw new DataFormatException(String.format("%s: wrong IDX magic number: found 0x%08x, expected 0x%08x (%s)%s",
                    name, magic, expectedMagic, describe(expectedMagic),
                    (magic & 0xffff0000) != 0 ? "; the file is not an IDX file, or is compressed with something other than gzip"
                            : "; found " + describe(magic)));
        }
        int type = (magic >>> 8) & 0xff;
        if (type != UBYTE) {
            throw new DataFormatException(String.format("%s: unsupported IDX element type 0x%02x; only unsigned bytes (0x08)", name, type));
        }
        int ndims = magic & 0xff;
        long headerBytes = 4L + 4L * ndims;
        if (bytes.length < headerBytes) {
            throw new DataFormatException(name + ": truncated IDX file: expected " + headerBytes + " header bytes for "
                    + ndims + " dimensions, available " + bytes.length);
        }
        int[] dims = new int[ndims];
        long elements = 1;
        for (int i = 0; i < ndims; i++) {
            dims[i] = buf.getInt();
            if (dims[i] < 0) {
                throw new DataFormatException(name + ": IDX dimension " + i + " is negative as a signed 32-bit size ("
                        + Integer.toUnsignedString(dims[i]) + " unsigned); dimension overflow");
            }
            elements *= dims[i];
            if (elements > Integer.MAX_VALUE - 16) {
                throw new DataFormatException(name + ": IDX dimensions " + Arrays.toString(Arrays.copyOf(dims, i + 1))
                        + " overflow: more than " + (Integer.MAX_VALUE - 16) + " elements do not fit in one Java array");
            }
        }
        long expected = headerBytes + elements;
        if (bytes.length < expected) {
            throw new DataFormatException(name + ": truncated IDX file: dimensions " + Arrays.toString(dims) + " need "
                    + expected + " bytes, available " + bytes.length);
        }
        if (bytes.length > expected) {
            throw new DataFormatException(name + ": IDX file has " + (bytes.length - expected) + " trailing bytes after the "
                    + expected + " bytes that dimensions " + Arrays.toString(dims) + " need");
        }
        byte[] data = Arrays.copyOfRange(bytes, (int) headerBytes, (int) expected);
        return new Array(magic, dims, data);
    }

    /**
     * Writes an unsigned-byte IDX file with {@code dims.length} dimensions, gzipped when {@code gzip} is true.
     * Not atomic; meant for tests and tools.
     */
    public static void write(Path file, int[] dims, byte[] data, boolean gzip) throws IOException {
        Files.write(file, encode(dims, data, gzip));
    }

    /** The bytes of an unsigned-byte IDX file (gzipped when {@code gzip} is true). */
    public static byte[] encode(int[] dims, byte[] data, boolean gzip) throws IOException {
        long n = 1;
        for (int d : dims) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(dims));
            }
            n *= d;
        }
        if (n != data.length) {
            throw new IllegalArgumentException("dimensions " + Arrays.toString(dims) + " need " + n + " bytes, got " + data.length);
        }
        ByteBuffer header = ByteBuffer.allocate(4 + 4 * dims.length);
        header.putInt((UBYTE << 8) | dims.length);
        for (int d : dims) {
            header.putInt(d);
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (OutputStream out = gzip ? new GZIPOutputStream(bytes) : bytes) {
            out.write(header.array());
            out.write(data);
        }
        return bytes.toByteArray();
    }

    static boolean isGzip(byte[] content) {
        return content.length >= 2 && (content[0] & 0xff) == 0x1f && (content[1] & 0xff) == 0x8b;
    }

    private static byte[] gunzip(String name, byte[] content) throws DataFormatException {
        try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(content), 1 << 16)) {
            return in.readAllBytes();
        } catch (EOFException e) {
            throw new DataFormatException(name + ": corrupt gzip stream: it ends early (truncated download?)", e);
        } catch (ZipException e) {
            throw new DataFormatException(name + ": corrupt gzip stream: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new DataFormatException(name + ": corrupt gzip stream: " + e, e);
        } catch (OutOfMemoryError e) {
            throw new DataFormatException(name + ": gzip stream decompresses to more than fits in memory", e);
        }
    }

    private static String describe(int magic) {
        return switch (magic) {
            case IMAGES_MAGIC -> "unsigned-byte images, 3 dimensions";
            case LABELS_MAGIC -> "unsigned-byte labels, 1 dimension";
            default -> String.format("type 0x%02x, %d dimensions", (magic >>> 8) & 0xff, magic & 0xff);
        };
    }
}
