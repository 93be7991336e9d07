package io.jdl.nn;

import io.jdl.tensor.FusedActivation;
import io.jdl.tensor.Tensor;

/**
 * A layer whose output can take a following activation in the same pass as its bias ({@link Linear},
 * {@link Conv2d}): {@link Sequential} calls it for a layer directly followed by one of {@link Activations}'
 * pointwise activations, with the same result as the two modules one after the other.
 */
interface ActivationFusing {
    /** act(this layer's output for x), run as {@link Module#forward} runs {@code compute}. */
    Tensor forward(Tensor x, FusedActivation act);
}
