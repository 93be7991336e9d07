package io.jdl.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CsvTableTest {
    @TempDir
    Path tmp;

    private Path write(String name, String text) throws IOException {
        return Files.writeString(tmp.resolve(name), text);
    }

    @Test
    void integerTargetsAreClassesSortedNumerically() throws IOException {
        CsvTable t = CsvTable.read(write("a.csv", "x,cls,y\n1.5,10,2\n-2,2,3e1\n\n0,10,4\n"), "cls");
        assertTrue(t.isClassification());
        assertEquals(List.of("2", "10"), t.classes());
        assertArrayEquals(new int[] {1, 0, 1}, t.labels());
        assertEquals(List.of("x", "y"), t.featureNames());
        assertArrayEquals(new float[] {1.5f, 2, -2, 30, 0, 4}, t.features());
    }

    @Test
    void wordTargetsAreClassesAndQuotedFieldsMayHoldTheSeparator() throws IOException {
        CsvTable t = CsvTable.read(write("b.csv", "\"a, b\",kind\n1,\"cat, grey\"\n2,dog\n3,\"cat, grey\"\n"), "kind");
        assertEquals(List.of("cat, grey", "dog"), t.classes());
        assertArrayEquals(new int[] {0, 1, 0}, t.labels());
        assertEquals(List.of("a, b"), t.featureNames());
    }

    @Test
    void fractionalTargetsAreARegressionAndTsvIsTabSeparated() throws IOException {
        CsvTable t = CsvTable.read(write("c.tsv", "x\tprice\n1\t2.5\n2\t3\n"), "price");
        assertFalse(t.isClassification());
        assertArrayEquals(new float[] {2.5f, 3}, t.targets());
        assertThrows(IllegalStateException.class, t::labels);
        assertEquals("price", CsvTable.read(tmp.resolve("c.tsv"), null).targetName()); // null: the last column
    }

    @Test
    void badRowsNameTheFileLineAndColumn() throws IOException {
        Path ragged = write("r.csv", "a,b,y\n1,2,0\n3,4\n");
        assertEquals(ragged + ":3: 2 fields, but the header has 3 columns",
                assertThrows(DataFormatException.class, () -> CsvTable.read(ragged, "y")).getMessage());
        Path word = write("w.csv", "a,b,y\n1,NaN,0\n");
        assertEquals(word + ":2: column 'b': 'NaN' is not a number",
                assertThrows(DataFormatException.class, () -> CsvTable.read(word, "y")).getMessage());
        Path empty = write("e.csv", "a,b,y\n1,,0\n");
        assertTrue(assertThrows(DataFormatException.class, () -> CsvTable.read(empty, "y")).getMessage().endsWith("(empty)"));
        Path noTarget = write("n.csv", "a,y\n1,\n");
        assertEquals(noTarget + ":2: empty target 'y'",
                assertThrows(DataFormatException.class, () -> CsvTable.read(noTarget, "y")).getMessage());
        Path quote = write("q.csv", "a,y\n\"1,0\n");
        assertEquals(quote + ":2: a quote opened and not closed",
                assertThrows(DataFormatException.class, () -> CsvTable.read(quote, "y")).getMessage());
        assertTrue(assertThrows(DataFormatException.class, () -> CsvTable.read(write("h.csv", "a,y\n"), "y")).getMessage()
                .endsWith("a header but no data rows"));
        assertTrue(assertThrows(DataFormatException.class, () -> CsvTable.read(write("z.csv", ""), "y")).getMessage()
                .contains("empty file"));
        assertThrows(java.nio.file.NoSuchFileException.class, () -> CsvTable.read(tmp.resolve("missing.csv"), "y"));
    }
}
