/**
 * Reverse-mode automatic differentiation for {@link io.jdl.tensor.Tensor}: a define-by-run tape.
 *
 * <p>Each recorded operation attaches a {@link io.jdl.autograd.Node} (its inputs and a backward
 * closure) to its result; {@code loss.backward()} walks the nodes from the loss in reverse
 * topological order, accumulates gradients into the leaves that require them, and frees the graph
 * (intermediates and saved buffers). {@link io.jdl.autograd.Autograd#noGrad()} turns recording off
 * for a scope. The ownership rules are spelled out on {@link io.jdl.tensor.Tensor}.
 */
package io.jdl.autograd;
