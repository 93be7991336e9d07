package io.jdl.nn;

import io.jdl.tensor.Tensor;

/** Helpers for modules that build graphs from several ops (also for modules written outside this package). */
public final class Modules {
    private Modules() {
    }

    /**
     * Closes an intermediate that no graph owns (outside autograd, or when nothing needed a gradient);
     * a recorded intermediate is left to its graph, which backward() frees.
     */
    public static void release(Tensor t) {
        if (t != null && !t.needsGrad() && !t.isClosed()) {
            t.close();
        }
    }

    /**
     * Closes intermediates whose consumer threw: no caller will see them, so no backward() will free them
     * either. Closing a recorded one frees the graph that produced it.
     */
    public static void discard(Tensor... ts) {
        for (Tensor t : ts) {
            if (t != null && !t.isClosed()) {
                t.close();
            }
        }
    }
}
