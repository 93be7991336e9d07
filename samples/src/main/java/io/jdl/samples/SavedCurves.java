package io.jdl.samples;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A run's curves (rows of numbers: step, loss, accuracy...) as checkpoint metadata text, so that a resumed run's
 * {@code metrics.json} and plots cover the whole run, not only the part after {@code --resume}. Rows are separated
 * by spaces, columns by colons, each number as {@link Double#toString} writes it (read back exactly).
 */
final class SavedCurves {
    /** Metadata key prefix of the curves. */
    static final String PREFIX = "curves.";

    private SavedCurves() {
    }

    /** Puts each curve of {@code curves} (by name) under {@value #PREFIX}{@code name} into {@code metadata}. */
    static void save(Map<String, String> metadata, Map<String, List<double[]>> curves) {
        curves.forEach((name, rows) -> metadata.put(PREFIX + name, text(rows)));
    }

    /**
     * Appends to each curve of {@code curves} the rows saved under its name in the resumed checkpoint (nothing for a
     * checkpoint without curves).
     */
    static void restore(Architecture checkpoint, Map<String, List<double[]>> curves) {
        curves.forEach((name, rows) -> rows.addAll(rows(checkpoint.savedText(PREFIX + name))));
    }

    private static String text(List<double[]> rows) {
        StringBuilder text = new StringBuilder();
        for (double[] row : rows) {
            if (!text.isEmpty()) {
                text.append(' ');
            }
            for (int c = 0; c < row.length; c++) {
                text.append(c == 0 ? "" : ":").append(row[c]);
            }
        }
        return text.toString();
    }

    private static List<double[]> rows(String text) {
        List<double[]> rows = new ArrayList<>();
        if (text == null || text.isEmpty()) {
            return rows;
        }
        for (String row : text.split(" ")) {
            String[] columns = row.split(":");
            double[] values = new double[columns.length];
            for (int c = 0; c < columns.length; c++) {
                values[c] = Double.parseDouble(columns[c]);
            }
            rows.add(values);
        }
        return rows;
    }
}
