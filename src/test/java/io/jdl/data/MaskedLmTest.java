package io.jdl.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class MaskedLmTest {
    @Test
    void proportionsAndIgnoreIndex() {
        int n = 400_000, vocab = 50, maskId = vocab;
        int[] ids = new int[n];
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < n; i++) {
            ids[i] = r.nextInt(vocab);
        }
        int[] before = ids.clone();
        MaskedLm.Masked m = MaskedLm.mask(ids, maskId, vocab, new SplittableRandom(11));
        assertArrayEquals(before, ids, "input not changed");
        int chosen = 0, masked = 0, random = 0, kept = 0;
        for (int i = 0; i < n; i++) {
            if (m.targets()[i] == MaskedLm.IGNORE_INDEX) {
                assertEquals(ids[i], m.inputs()[i], "unchosen positions are unchanged");
                continue;
            }
            chosen++;
            assertEquals(ids[i], m.targets()[i], "target is the original id");
            if (m.inputs()[i] == maskId) {
                masked++;
            } else if (m.inputs()[i] == ids[i]) {
                kept++; // includes random replacements that drew the same id (1/50 of them)
            } else {
                random++;
                assertTrue(m.inputs()[i] >= 0 && m.inputs()[i] < vocab);
            }
        }
        assertEquals(chosen, m.chosen());
        assertEquals(0.15, chosen / (double) n, 0.003);
        assertEquals(0.80, masked / (double) chosen, 0.01);
        assertEquals(0.10 * 49 / 50, random / (double) chosen, 0.006);
        assertEquals(0.10 + 0.10 / 50, kept / (double) chosen, 0.006);
    }

    @Test
    void seededAndValidated() {
        int[] ids = new int[1000];
        MaskedLm.Masked a = MaskedLm.mask(ids, 9, 9, new SplittableRandom(4));
        MaskedLm.Masked b = MaskedLm.mask(ids, 9, 9, new SplittableRandom(4));
        assertArrayEquals(a.inputs(), b.inputs());
        assertArrayEquals(a.targets(), b.targets());
        assertEquals(-100, MaskedLm.IGNORE_INDEX);
        assertThrows(IllegalArgumentException.class, () -> MaskedLm.mask(ids, 9, 9, 1.5, new SplittableRandom(1)));
        assertEquals(0, MaskedLm.mask(ids, 9, 9, 0.0, new SplittableRandom(1)).chosen());
    }
}
