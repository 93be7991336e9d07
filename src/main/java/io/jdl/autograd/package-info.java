/**
 * The gradient-recording switch of {@code io.jdl.tensor}: {@link io.jdl.autograd.Autograd#noGrad()} turns
 * recording off for a scope on this thread. The engine itself (the graph nodes, backward, the ownership
 * rules) lives with {@code Tensor} in {@code io.jdl.tensor}; this package depends on nothing of jdl's.
 */
package io.jdl.autograd;
