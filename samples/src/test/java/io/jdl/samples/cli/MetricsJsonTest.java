package io.jdl.samples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsJsonTest {
    @TempDir
    Path dir;

    @Test
    void writesOrderedJson() throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("sample", "cnn \"small\"");
        m.put("epochs", 3);
        m.put("test_accuracy", 0.9123);
        m.put("loss", new double[] {1.5, 0.25, Double.NaN});
        m.put("device", Map.of("name", "cpu"));
        m.put("ok", true);
        m.put("tags", List.of("a", 1));
        Path f = dir.resolve("metrics.json");
        MetricsJson.write(f, m);
        assertEquals("""
                {
                  "sample": "cnn \\"small\\"",
                  "epochs": 3,
                  "test_accuracy": 0.9123,
                  "loss": [1.5, 0.25, null],
                  "device": {"name": "cpu"},
                  "ok": true,
                  "tags": ["a", 1]
                }
                """, Files.readString(f));
        assertEquals("{}", MetricsJson.toJson(Map.of()));
    }
}
