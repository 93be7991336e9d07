package io.jdl.backend;

import static io.jdl.Refusals.assertRefused;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** {@link ConvShape} and {@link PoolShape} refuse bad geometry themselves, naming it, and size outputs in 64 bits. */
class WindowShapeTest {

    @Test
    void convolutionGeometry() {
        assertRefused(() -> new ConvShape(1, 4, 8, 8, 4, 3, 3, 0, 0, 1, 1, 1, 1, 0), "groups", "at least 1", "0");
        assertRefused(() -> new ConvShape(1, 4, 8, 8, 4, 3, 3, 0, 0, 1, 1, 1, 1, 3), "groups=3", "(4)");
        assertRefused(() -> new ConvShape(1, 4, 8, 8, 4, 3, 3, -1, 0, 1, 1, 1, 1, 1), "padding", "-1");
        assertRefused(() -> new ConvShape(1, 4, 8, 8, 4, 3, 3, 0, 0, 0, 1, 1, 1, 1), "stride", "0");
        assertRefused(() -> new ConvShape(1, 4, 8, 8, 4, 3, 3, 0, 0, 1, 1, 1, 0, 1), "dilation", "0");
        assertRefused(() -> new ConvShape(-1, 4, 8, 8, 4, 3, 3, 0, 0, 1, 1, 1, 1, 1), "batch size", "-1");
        // Dilation 2^30 stretches a 3-tap kernel to 2^31 + 1 positions: larger than any padded input here.
        assertRefused(() -> new ConvShape(1, 1, 8, 8, 1, 3, 3, 0, 0, 1, 1, 1 << 30, 1, 1), "height", "2147483649");
        // Padding 2^30 on both sides with stride 1: 2 + 2^31 output rows, more than an int holds.
        assertRefused(() -> new ConvShape(1, 1, 2, 2, 1, 1, 1, 1 << 30, 0, 1, 1, 1, 1, 1), "output height",
                "2147483650");
        ConvShape s = new ConvShape(1, 1, 2, 2, 1, 1, 1, 1 << 30, 1 << 30, 1 << 30, 1 << 30, 1, 1, 1);
        assertEquals(3, s.outH());
        assertEquals(3, s.outW());
    }

    @Test
    void poolingGeometry() {
        assertRefused(() -> new PoolShape(true, 1, 1, 4, 6, Integer.MAX_VALUE, Integer.MAX_VALUE, (1 << 30) + 1,
                (1 << 30) + 1, 2, 2), "maxPool2d", "padding 1073741825", "more than half");
        assertRefused(() -> new PoolShape(false, 1, 1, 3, 3, 4, 4, 0, 0, 2, 2), "avgPool2d of [1, 1, 3, 3] with a 4x4",
                "smaller than the window (4)");
        assertRefused(() -> new PoolShape(false, 1, 1, 3, 3, 0, 0, 0, 0, 1, 1), "kernel", "0");
        assertRefused(() -> new PoolShape(true, 1, 1, 3, 3, 2, 2, 0, 0, -2, 1), "stride", "-2");
        PoolShape s = new PoolShape(true, 1, 1, 4, 4, 1 << 30, 1 << 30, 1 << 29, 1 << 29, 1, 1);
        assertEquals(5, s.outH());
        // Floor division: (5 - 2) / 2 + 1 = 2.
        assertEquals(2, new PoolShape(true, 1, 1, 5, 5, 2, 2, 0, 0, 2, 2).outW());
    }
}
