package io.jdl;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.function.Executable;

/** The one assertion of the bad-input tests: a call is refused with an IllegalArgumentException whose message names the problem. */
public final class Refusals {
    private Refusals() {
    }

    /** Asserts that {@code call} throws an {@link IllegalArgumentException} whose message contains every one of {@code parts}. */
    public static IllegalArgumentException assertRefused(Executable call, String... parts) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "'" + e.getMessage() + "' lacks '" + p + "'");
        }
        return e;
    }
}
