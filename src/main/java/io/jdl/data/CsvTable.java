package io.jdl.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * A CSV or TSV file of numeric feature columns and one named target column, read into memory: the table a
 * first tabular baseline trains on. The first line names the columns; {@code .tsv} files (or a header with a
 * tab and no comma) are tab-separated, others comma-separated; fields may be double-quoted ({@code ""} inside
 * quotes is a quote); blank lines are skipped.
 *
 * <p>The target decides the task, as a column's type does in pandas: if every target value is an integer the
 * table is a <b>classification</b> with those integers as classes, and so it is if any value is not a number
 * (the distinct strings are the classes); otherwise (some value has a fraction or exponent) it is a
 * <b>regression</b>. Classes are sorted (numerically for integers) and numbered from 0.
 *
 * <p>Every feature value must be a finite number: a ragged row, a non-numeric or empty feature or an empty
 * target ends the read with a {@link DataFormatException} naming the file, the line and the column.
 */
public final class CsvTable {
    private final List<String> featureNames;
    private final String targetName;
    private final float[] features;      // [rows, features]
    private final float[] targets;       // [rows] (regression), else null
    private final int[] labels;          // [rows] (classification), else null
    private final List<String> classes;  // classification only

    private CsvTable(List<String> featureNames, String targetName, float[] features, float[] targets, int[] labels,
                     List<String> classes) {
        this.featureNames = featureNames;
        this.targetName = targetName;
        this.features = features;
        this.targets = targets;
        this.labels = labels;
        this.classes = classes;
    }

    /**
     * Reads {@code file} with {@code target} as the target column, or the last column when {@code target} is null.
     *
     * @throws DataFormatException when the file is empty, has no column {@code target}, has no data row, or a row is
     *                             ragged or holds a value that is not a number (message: {@code file:line: ...})
     * @throws IOException         when the file cannot be read
     */
    public static CsvTable read(Path file, String target) throws IOException {
        List<List<String>> rows = new ArrayList<>();
        List<Integer> lineNumbers = new ArrayList<>();
        List<String> header = null;
        char separator = ',';
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            int lineNo = 0;
            for (String line; (line = in.readLine()) != null; ) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                if (header == null) {
                    separator = file.toString().endsWith(".tsv") || (line.indexOf('\t') >= 0 && line.indexOf(',') < 0) ? '\t' : ',';
                    header = split(line, separator, file, lineNo);
                    continue;
                }
                List<String> fields = split(line, separator, file, lineNo);
                if (fields.size() != header.size()) {
                    throw new DataFormatException(file + ":" + lineNo + ": " + fields.size() + " fields, but the header has "
                            + header.size() + " columns");
                }
                rows.add(fields);
                lineNumbers.add(lineNo);
            }
        } catch (CharacterCodingException e) {
            throw new DataFormatException(file + ": not UTF-8 text", e);
        }
        if (header == null) {
            throw new DataFormatException(file + ": empty file, expected a header line naming the columns");
        }
        if (target == null) {
            target = header.getLast();
        }
        int t = header.indexOf(target);
        if (t < 0) {
            throw new DataFormatException(file + ":1: no column '" + target + "' (columns: " + String.join(", ", header) + ")");
        }
        if (rows.isEmpty()) {
            throw new DataFormatException(file + ": a header but no data rows");
        }
        if (header.size() < 2) {
            throw new DataFormatException(file + ":1: only the target column '" + target + "', no feature columns");
        }
        List<String> names = new ArrayList<>(header);
        names.remove(t);
        int n = rows.size(), d = names.size();
        float[] x = new float[n * d];
        for (int r = 0; r < n; r++) {
            List<String> row = rows.get(r);
            for (int c = 0, j = 0; c < row.size(); c++) {
                if (c == t) {
                    continue;
                }
                x[r * d + j] = number(row.get(c), file, lineNumbers.get(r), header.get(c));
                j++;
            }
        }
        boolean integers = true, numeric = true;
        for (int r = 0; r < n; r++) {
            String v = rows.get(r).get(t).strip();
            if (v.isEmpty()) {
                throw new DataFormatException(file + ":" + lineNumbers.get(r) + ": empty target '" + target + "'");
            }
            integers &= v.matches("[-+]?\\d{1,9}");
            numeric &= isFinite(v);
        }
        if (numeric && !integers) {
            float[] y = new float[n];
            for (int r = 0; r < n; r++) {
                y[r] = Float.parseFloat(rows.get(r).get(t).strip());
            }
            return new CsvTable(List.copyOf(names), target, x, y, null, null);
        }
        TreeSet<String> distinct = new TreeSet<>(integers
                ? (a, b) -> Integer.compare(Integer.parseInt(a.replace("+", "")), Integer.parseInt(b.replace("+", ""))) : String::compareTo);
        for (List<String> row : rows) {
            distinct.add(row.get(t).strip());
        }
        List<String> classes = List.copyOf(distinct);
        int[] y = new int[n];
        for (int r = 0; r < n; r++) {
            y[r] = distinct.headSet(rows.get(r).get(t).strip()).size(); // the class's rank: its label
        }
        return new CsvTable(List.copyOf(names), target, x, null, y, classes);
    }

    private static float number(String field, Path file, int line, String column) throws DataFormatException {
        String v = field.strip();
        if (!isFinite(v)) {
            throw new DataFormatException(file + ":" + line + ": column '" + column + "': '" + v + "' is not a number"
                    + (v.isEmpty() ? " (empty)" : ""));
        }
        return Float.parseFloat(v);
    }

    private static boolean isFinite(String v) {
        try {
            return !v.isEmpty() && Float.isFinite(Float.parseFloat(v)) && !v.matches(".*[a-df-zA-DF-Z].*");
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** The fields of one line; a quoted field may hold the separator and {@code ""} for a quote. */
    private static List<String> split(String line, char separator, Path file, int lineNo) throws DataFormatException {
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char ch = line.charAt(i);
            if (quoted) {
                if (ch == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                    field.append('"');
                    i++;
                } else if (ch == '"') {
                    quoted = false;
                } else {
                    field.append(ch);
                }
            } else if (ch == '"') {
                quoted = true;
            } else if (ch == separator) {
                fields.add(field.toString());
                field.setLength(0);
            } else {
                field.append(ch);
            }
        }
        if (quoted) {
            throw new DataFormatException(file + ":" + lineNo + ": a quote opened and not closed");
        }
        fields.add(field.toString());
        return fields;
    }

    public int rows() {
        return labels != null ? labels.length : targets.length;
    }

    public List<String> featureNames() {
        return featureNames;
    }

    public String targetName() {
        return targetName;
    }

    public boolean isClassification() {
        return labels != null;
    }

    /** The class names in label order (classification only, else empty). */
    public List<String> classes() {
        return classes == null ? List.of() : classes;
    }

    /** The feature values, row after row: [rows, features]. Not a copy: treat as read-only. */
    public float[] features() {
        return features;
    }

    /** The class of each row (classification only). */
    public int[] labels() {
        if (labels == null) {
            throw new IllegalStateException("'" + targetName + "' holds fractional numbers: a regression target has no labels");
        }
        return labels;
    }

    /** The target of each row (regression only). */
    public float[] targets() {
        if (targets == null) {
            throw new IllegalStateException("'" + targetName + "' holds classes: a classification target has no float targets");
        }
        return targets;
    }

    @Override
    public String toString() {
        return "CsvTable(" + rows() + " rows, " + featureNames.size() + " features, target " + targetName
                + (isClassification() ? ": " + classes.size() + " classes" : ": regression") + ")";
    }
}
