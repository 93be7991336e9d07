package io.jdl.nn;

/**
 * A module that draws a fresh seed for each training forward (dropout masks). The next seed is the module's
 * random state: a checkpoint saves it and sets it back, so a resumed run draws the same masks as an
 * uninterrupted one.
 */
public interface Stochastic {
    /** The seed the next training forward will use. */
    long nextSeed();

    /** Sets the seed the next training forward will use. */
    void setNextSeed(long seed);
}
