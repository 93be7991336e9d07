package io.jdl.autograd;

import io.jdl.tensor.Tensor;
import java.util.List;
import java.util.function.Consumer;

/**
 * One recorded operation: the tensors it read and how to push its output's gradient back to them.
 * {@code saved} are buffers the op made only for its backward (masks, batch statistics): the node
 * owns them and closes them when the graph is freed.
 */
public final class Node {
    private final Tensor[] inputs;
    private final Consumer<Tensor> backward;
    private final List<Tensor> saved;

    public Node(Tensor[] inputs, Consumer<Tensor> backward, List<Tensor> saved) {
        this.inputs = inputs;
        this.backward = backward;
        this.saved = saved;
    }

    public Tensor[] inputs() {
        return inputs;
    }

    /** Runs the backward closure with the output's gradient (which the caller keeps owning). */
    public void backward(Tensor gradOutput) {
        backward.accept(gradOutput);
    }

    /** Closes the buffers saved for backward. */
    public void free() {
        for (Tensor t : saved) {
            if (!t.isClosed()) {
                t.close();
            }
        }
    }
}
