package io.jdl.data;

import java.io.BufferedInputStream;
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
 * file name. Reading streams: nothing large is allocated before the header is checked, and a gzipped file
 * inflates no further than its header announces (a header announcing more than gzip can compress into the
 * file's size is refused), so neither a huge wrong file nor a decompression bomb exhausts memory.
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
     * Reads an unsigned-byte IDX file whose magic number must be {@code expectedMagic}. The file is streamed:
     * its header is checked before anything large is allocated, a plain file's size must match the header, and a
     * gzipped file is inflated only as far as the header says (plus one byte, to detect trailing data).
     *
     * @throws DataFormatException on any content problem (see the class description)
     */
    public static Array read(Path file, int expectedMagic) throws IOException {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            return parse(file.toString(), in, Files.size(file), expectedMagic);
        }
    }

    /** Parses IDX content (plain or gzipped) held in memory; {@code name} appears in error messages. */
    public static Array parse(String name, byte[] content, int expectedMagic) throws DataFormatException {
        try {
            return parse(name, new ByteArrayInputStream(content), content.length, expectedMagic);
        } catch (DataFormatException e) {
            throw e;
        } catch (IOException e) {
            throw new DataFormatException(name + ": " + e.getMessage(), e);
        }
    }

    /** Deflate's best ratio is about 1032:1; a header promising more than this from a gzip file is a lie (a bomb). */
    private static final long MAX_INFLATION = 1100;

    private static Array parse(String name, InputStream raw, long rawSize, int expectedMagic) throws IOException {
        raw.mark(2);
        boolean gzip = raw.read() == 0x1f & raw.read() == 0x8b;
        raw.reset();
        InputStream in = raw;
        try {
            if (gzip) {
                in = new GZIPInputStream(raw, 1 << 16);
            }
            byte[] magicBytes = in.readNBytes(4);
            if (magicBytes.length < 4) {
                throw new DataFormatException(name + ": truncated IDX file: expected at least 4 bytes (the magic number), "
                        + "found " + magicBytes.length);
            }
            int magic = ByteBuffer.wrap(magicBytes).getInt(); // big-endian, as IDX
            checkMagic(name, magic, expectedMagic);
            int ndims = magic & 0xff;
            long headerBytes = 4L + 4L * ndims;
            byte[] dimBytes = in.readNBytes(4 * ndims);
            if (dimBytes.length < 4 * ndims) {
                throw new DataFormatException(name + ": truncated IDX file: expected " + headerBytes + " header bytes for "
                        + ndims + " dimensions, available " + (4 + dimBytes.length));
            }
            int[] dims = new int[ndims];
            long elements = elements(name, ByteBuffer.wrap(dimBytes), dims);
            long expected = headerBytes + elements;
            if (!gzip && rawSize < expected) {
                throw new DataFormatException(name + ": truncated IDX file: dimensions " + Arrays.toString(dims) + " need "
                        + expected + " bytes, available " + rawSize);
            }
            if (!gzip && rawSize > expected) {
                throw new DataFormatException(name + ": IDX file has " + (rawSize - expected) + " trailing bytes after the "
                        + expected + " bytes that dimensions " + Arrays.toString(dims) + " need");
            }
            if (gzip && expected > rawSize * MAX_INFLATION + 1024) {
                throw new DataFormatException(name + ": IDX header promises " + expected + " bytes, more than a gzip file of "
                        + rawSize + " bytes can hold (a corrupt header or a decompression bomb)");
            }
            byte[] data = in.readNBytes((int) elements);
            if (data.length < elements) {
                throw new DataFormatException(name + ": truncated IDX file: dimensions " + Arrays.toString(dims) + " need "
                        + expected + " bytes, available " + (headerBytes + data.length));
            }
            if (in.read() >= 0) {
                long trailing = 1 + in.skip(Long.MAX_VALUE);
                throw new DataFormatException(name + ": IDX file has " + trailing + (gzip ? " or more" : "")
                        + " trailing bytes after the " + expected + " bytes that dimensions " + Arrays.toString(dims) + " need");
            }
            return new Array(magic, dims, data);
        } catch (EOFException e) {
            throw new DataFormatException(name + ": corrupt gzip stream: it ends early (truncated download?)", e);
        } catch (ZipException e) {
            throw new DataFormatException(name + ": corrupt gzip stream: " + e.getMessage(), e);
        }
    }

    private static void checkMagic(String name, int magic, int expectedMagic) throws DataFormatException {
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
    }

    /** Reads the dimension sizes into {@code dims}; returns their product, checked to fit a Java array. */
    private static long elements(String name, ByteBuffer buf, int[] dims) throws DataFormatException {
        long elements = 1;
        for (int i = 0; i < dims.length; i++) {
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
        return elements;
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

    private static String describe(int magic) {
        return switch (magic) {
            case IMAGES_MAGIC -> "unsigned-byte images, 3 dimensions";
            case LABELS_MAGIC -> "unsigned-byte labels, 1 dimension";
            default -> String.format("type 0x%02x, %d dimensions", (magic >>> 8) & 0xff, magic & 0xff);
        };
    }
}
