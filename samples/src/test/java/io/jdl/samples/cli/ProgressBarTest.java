package io.jdl.samples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ProgressBarTest {
    @Test
    void formatShowsLossThroughputAndEta() {
        String s = ProgressBar.format("epoch 2/10", 30000, 60000, 0.42131, 10.0, "samples", 20);
        assertEquals("epoch 2/10 [==========>         ]  50%  30000/60000  loss 0.4213  3.00k samples/s  ETA 0:10", s);
    }

    @Test
    void formatEdgeCases() {
        assertEquals("[>   ]   0%  0/8  - tokens/s  ETA ?", ProgressBar.format("", 0, 8, Double.NaN, 0, "tokens", 4));
        assertEquals("x [====] 100%  8/8  loss 1.0000  4.00 tokens/s  ETA 0:00",
                ProgressBar.format("x", 8, 8, 1.0, 2.0, "tokens", 4));
        String hours = ProgressBar.format("", 1, 10_000, Double.NaN, 1.0, "samples", 10);
        assertTrue(hours.endsWith("1.00 samples/s  ETA 2:46:39"), hours);
        assertEquals("950", ProgressBar.si(950));
        assertEquals("12.3k", ProgressBar.si(12345));
        assertEquals("2.50M", ProgressBar.si(2.5e6));
        assertEquals("1:05", ProgressBar.duration(65));
        assertEquals("?", ProgressBar.duration(Double.POSITIVE_INFINITY));
    }

    @Test
    void logModePrintsAtEachTenthAndAFinalLine() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        AtomicLong now = new AtomicLong();
        try (ProgressBar bar = new ProgressBar("train", 1000, "samples", new PrintStream(bytes, true, StandardCharsets.UTF_8),
                false, now::get)) {
            for (int i = 0; i < 100; i++) {
                now.addAndGet(10_000_000L); // 10 ms per step of 10 samples: 1000 samples/s
                bar.advance(10, 2.0 - i / 100.0);
            }
        }
        String[] lines = bytes.toString(StandardCharsets.UTF_8).split("\n");
        // the first update, one at each tenth of the way, and the final line
        assertEquals(11, lines.length, String.join("\n", lines));
        assertTrue(lines[0].contains("  1%"), lines[0]);
        assertTrue(lines[1].contains(" 10%"), lines[1]);
        assertTrue(lines[10].contains("100%") && lines[10].contains("took 0:01") && lines[10].contains("1.00k samples/s"),
                lines[10]);
        assertTrue(lines[10].contains("loss 1.0100"), lines[10]);
    }

    @Test
    void interactiveModeRedrawsInPlace() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        AtomicLong now = new AtomicLong();
        ProgressBar bar = new ProgressBar("e", 4, "tokens", new PrintStream(bytes, true, StandardCharsets.UTF_8), true, now::get);
        for (int i = 0; i < 4; i++) {
            now.addAndGet(200_000_000L);
            bar.advance(1, 0.5);
        }
        bar.close();
        bar.close();
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(out.startsWith("\r"));
        assertEquals(1, out.chars().filter(c -> c == '\n').count());
        assertThrows(IllegalStateException.class, () -> bar.advance(1, 0));
        assertThrows(IllegalArgumentException.class, () -> new ProgressBar("x", 0, "u"));
    }
}
