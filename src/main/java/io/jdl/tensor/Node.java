package io.jdl.tensor;

import java.util.List;
import java.util.function.Consumer;

/**
 * One recorded operation, attached to its result: the op's name, the tensors it read (with their
 * versions at that moment, see {@link Tensor#version}), how to push the result's gradient back to them,
 * and the buffers it made only for its backward (masks, batch statistics), which it owns and closes when
 * its graph is freed.
 */
final class Node {
    final String op;
    final Tensor[] inputs;
    final int[] inputVersions;
    final Consumer<Tensor> backward;
    final List<Tensor> saved;
    final Thread thread;

    Node(String op, Tensor[] inputs, Consumer<Tensor> backward, List<Tensor> saved) {
        this.op = op;
        this.inputs = inputs;
        this.backward = backward;
        this.saved = saved;
        this.thread = Thread.currentThread();
        this.inputVersions = new int[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            inputVersions[i] = inputs[i].version();
        }
    }

    /** Throws when an input was modified in place after this op read it: its gradient would be wrong. */
    void checkVersions() {
        for (int i = 0; i < inputs.length; i++) {
            if (inputs[i].version() != inputVersions[i]) {
                throw new IllegalStateException("backward(): input " + i + " of " + op + " (tensor "
                        + inputs[i].shape() + " on " + inputs[i].device() + ") was modified in place after " + op
                        + " read it (version " + inputVersions[i] + ", now " + inputs[i].version()
                        + "); its gradient would be computed from the new values. Modify a copy, or run the forward"
                        + " pass again after the change");
            }
        }
    }

    /** Closes the buffers saved for backward. */
    void freeSaved() {
        for (Tensor t : saved) {
            if (!t.isClosed()) {
                t.close();
            }
        }
    }
}
