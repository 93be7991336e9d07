package io.jdl.data;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * A character-level text data set: the text of a UTF-8 file as a sequence of token ids, one per Unicode
 * code point, with a vocabulary of the file's distinct code points in ascending order, a train/validation
 * split (the first 90% of the text for training, the last 10% for validation, by default) and random
 * windows for next-character prediction.
 *
 * <p>A window of length {@code T} starting at position {@code s} gives inputs {@code ids[s .. s+T-1]} and
 * targets {@code ids[s+1 .. s+T]} (the inputs shifted by one), so each window reads {@code T + 1} ids.
 * Windows are drawn by a caller-supplied {@link SplittableRandom}, so a seed fixes them.
 *
 * <p>All returned arrays are new and belong to the caller. Instances are immutable.
 */
public final class CharDataset {
    private final int[] vocab; // sorted code points
    private final int[] ids;
    private final int trainEnd; // ids[0, trainEnd) train, [trainEnd, n) validation

    private CharDataset(int[] vocab, int[] ids, int trainEnd) {
        this.vocab = vocab;
        this.ids = ids;
        this.trainEnd = trainEnd;
    }

    /** Reads a UTF-8 file with the default 90/10 split. */
    public static CharDataset fromFile(Path file) throws IOException {
        return fromFile(file, 0.9);
    }

    /**
     * Reads a UTF-8 file.
     *
     * @param trainFraction fraction of the text (from its start) used for training, in (0, 1]
     * @throws DataFormatException when the file is not valid UTF-8, or too large for a Java array or for this JVM's
     *                             heap (checked from its size before reading; the message names the file)
     */
    public static CharDataset fromFile(Path file, double trainFraction) throws IOException {
        long size = Files.size(file);
        if (size > Integer.MAX_VALUE - 8) {
            throw new DataFormatException(file + ": " + size + " bytes; text files over 2 GiB are not supported (Java"
                    + " arrays hold at most 2^31 - 1 elements)");
        }
        // The bytes, their UTF-16 text and two int arrays of code points and ids: up to 13 bytes per file byte.
        long need = 13 * size, heap = Runtime.getRuntime().maxMemory();
        if (need > heap) {
            throw new DataFormatException(file + ": " + size + " bytes of text need about " + need / (1 << 20)
                    + " MiB of heap to index, more than this JVM's " + heap / (1 << 20) + " MiB (-Xmx)");
        }
        byte[] bytes = Files.readAllBytes(file);
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new DataFormatException(file + ": not valid UTF-8 (" + e + ")", e);
        }
        return fromText(text, trainFraction);
    }

    /**
     * Builds the data set from text in memory.
     *
     * @throws IllegalArgumentException for empty text or a fraction outside (0, 1]
     */
    public static CharDataset fromText(String text, double trainFraction) {
        Objects.requireNonNull(text, "text");
        if (!(trainFraction > 0 && trainFraction <= 1)) {
            throw new IllegalArgumentException("trainFraction must be in (0, 1], got " + trainFraction);
        }
        int[] cps = text.codePoints().toArray();
        if (cps.length == 0) {
            throw new IllegalArgumentException("empty text");
        }
        TreeSet<Integer> set = new TreeSet<>();
        for (int cp : cps) {
            set.add(cp);
        }
        int[] vocab = set.stream().mapToInt(Integer::intValue).toArray();
        int[] ids = new int[cps.length];
        for (int i = 0; i < cps.length; i++) {
            ids[i] = Arrays.binarySearch(vocab, cps[i]);
        }
        int trainEnd = (int) Math.round(cps.length * trainFraction);
        return new CharDataset(vocab, ids, trainEnd);
    }

    /** Number of distinct code points. */
    public int vocabSize() {
        return vocab.length;
    }

    /** The code point of each id (ascending). */
    public int[] vocabulary() {
        return vocab.clone();
    }

    /** Length of the whole text in code points. */
    public int length() {
        return ids.length;
    }

    public int trainLength() {
        return trainEnd;
    }

    public int validationLength() {
        return ids.length - trainEnd;
    }

    /** The ids of the training part. */
    public int[] trainIds() {
        return Arrays.copyOfRange(ids, 0, trainEnd);
    }

    /** The ids of the validation part. */
    public int[] validationIds() {
        return Arrays.copyOfRange(ids, trainEnd, ids.length);
    }

    /**
     * The ids of {@code text}.
     *
     * @throws IllegalArgumentException naming the first character that is not in the vocabulary
     */
    public int[] encode(String text) {
        return text.codePoints().map(cp -> {
            int id = Arrays.binarySearch(vocab, cp);
            if (id < 0) {
                throw new IllegalArgumentException("character '" + Character.toString(cp) + "' (U+"
                        + String.format("%04X", cp) + ") is not in the vocabulary of " + vocab.length + " characters");
            }
            return id;
        }).toArray();
    }

    /**
     * The text of {@code ids}.
     *
     * @throws IllegalArgumentException for an id outside {@code [0, vocabSize())}
     */
    public String decode(int[] ids) {
        StringBuilder sb = new StringBuilder(ids.length);
        for (int id : ids) {
            if (id < 0 || id >= vocab.length) {
                throw new IllegalArgumentException("id " + id + " is outside [0, " + vocab.length + ")");
            }
            sb.appendCodePoint(vocab[id]);
        }
        return sb.toString();
    }

    /** Which part of the text windows come from. */
    public enum Split { TRAIN, VALIDATION }

    /**
     * {@code batch} random windows of length {@code T} from {@code split}: inputs and targets, each
     * {@code batch * T} ids, row-major {@code [batch, T]}; targets are the inputs shifted by one position.
     *
     * @throws IllegalArgumentException when the split is shorter than {@code T + 1}
     */
    public Windows sample(Split split, int batch, int T, SplittableRandom random) {
        int from = split == Split.TRAIN ? 0 : trainEnd;
        int to = split == Split.TRAIN ? trainEnd : ids.length;
        int len = to - from;
        if (batch <= 0 || T <= 0) {
            throw new IllegalArgumentException("batch and T must be > 0, got " + batch + ", " + T);
        }
        checkWindowSize(batch, T);
        if (len < (long) T + 1) {
            throw new IllegalArgumentException(split + " part has " + len + " characters; windows of length " + T
                    + " need at least " + (T + 1));
        }
        int[] in = new int[batch * T], tg = new int[batch * T];
        for (int b = 0; b < batch; b++) {
            int s = from + random.nextInt(len - T);
            System.arraycopy(ids, s, in, b * T, T);
            System.arraycopy(ids, s + 1, tg, b * T, T);
        }
        return new Windows(batch, T, in, tg);
    }

    /**
     * Consecutive non-overlapping windows of length {@code T} from the start of {@code split}, at most
     * {@code maxWindows} of them: a fixed set for evaluation (validation loss), the same every call.
     *
     * @throws IllegalArgumentException when the split is shorter than {@code T + 1}
     */
    public Windows sequential(Split split, int T, int maxWindows) {
        int from = split == Split.TRAIN ? 0 : trainEnd;
        int to = split == Split.TRAIN ? trainEnd : ids.length;
        if (T <= 0 || maxWindows <= 0) {
            throw new IllegalArgumentException("T and maxWindows must be > 0, got " + T + ", " + maxWindows);
        }
        int available = (to - from - 1) / T;
        if (available == 0) {
            throw new IllegalArgumentException(split + " part has " + (to - from) + " characters; windows of length " + T
                    + " need at least " + (T + 1));
        }
        int batch = Math.min(available, maxWindows);
        checkWindowSize(batch, T);
        int[] in = new int[batch * T], tg = new int[batch * T];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(ids, from + b * T, in, b * T, T);
            System.arraycopy(ids, from + b * T + 1, tg, b * T, T);
        }
        return new Windows(batch, T, in, tg);
    }

    /** Throws unless {@code batch * T} ids fit in a Java array. */
    private static void checkWindowSize(int batch, int T) {
        if ((long) batch * T > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("batch x T = " + batch + " x " + T + " = " + (long) batch * T
                    + " ids, more than a Java array holds; use a smaller batch or window length");
        }
    }

    /**
     * Windows of token ids.
     *
     * @param inputs  {@code [batch, length]} row-major
     * @param targets {@code [batch, length]}: {@code inputs} shifted by one position
     */
    public record Windows(int batch, int length, int[] inputs, int[] targets) {
        /** The inputs as floats (for an embedding lookup that takes a float tensor of ids). */
        public float[] inputsAsFloats() {
            float[] f = new float[inputs.length];
            for (int i = 0; i < f.length; i++) {
                f[i] = inputs[i];
            }
            return f;
        }
    }
}
