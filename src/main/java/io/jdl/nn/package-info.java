/**
 * Layers and models. A training step:
 *
 * <pre>{@code
 * try (Sequential model = Mlp.of(new Random(0), Activations::relu, 784, 512, 10);
 *      Adam opt = new Adam(model.to(device).parameters(), 1e-3f)) {
 *     for (Batch b : batches) {
 *         opt.zeroGrad();
 *         try (TensorScope step = TensorScope.open()) {   // frees this step's tensors, also on an exception
 *             model.forward(b.inputs()).crossEntropy(b.labels()).backward();  // frees the graph
 *             opt.step();        // on a GPU: fused kernels, nothing copied to the host
 *         }
 *     }
 * }
 * }</pre>
 *
 * <p>Modules own their parameters and buffers; parameter names follow PyTorch's state dicts.
 */
package io.jdl.nn;
