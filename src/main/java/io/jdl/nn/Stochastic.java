package io.jdl.nn;

/**
 * A module that draws a fresh seed for each training forward (dropout masks) from its {@link Seeds}: their
 * position is the module's random state, which a checkpoint saves and sets back, so that a resumed run draws
 * the same masks as an uninterrupted one.
 */
public interface Stochastic {
    /** This module's seed sequence (live: setting it changes the next masks). */
    Seeds seeds();

    /** A sequence of seeds {@code s, s + 1, s + 2, ...}; one per training forward. */
    final class Seeds {
        private long next;

        public Seeds(long first) {
            this.next = first;
        }

        /** The seed the next training forward will use. */
        public long peek() {
            return next;
        }

        /** Makes {@code seed} the next one. */
        public void set(long seed) {
            this.next = seed;
        }

        /** Takes the next seed. */
        long take() {
            return next++;
        }
    }
}
