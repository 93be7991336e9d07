package io.jdl.nn;

import io.jdl.tensor.FusedActivation;
import io.jdl.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/** Modules applied in order; they are named "0", "1", ... as in PyTorch. */
public final class Sequential extends Module {
    private final List<Module> layers = new ArrayList<>();

    public Sequential(Module... layers) {
        for (Module m : layers) {
            add(m);
        }
    }

    public Sequential add(Module m) {
        registerModule(Integer.toString(layers.size()), m);
        layers.add(m);
        return this;
    }

    public Module get(int i) {
        return layers.get(i);
    }

    public int size() {
        return layers.size();
    }

    /**
     * Each layer's output feeds the next; with no layers, the input itself. A {@link Linear} or {@link Conv2d}
     * directly followed by a pointwise activation module (ReLU, leaky ReLU, sigmoid, tanh, GELU) runs as one
     * fused layer: its bias and the activation in one pass (one kernel on CUDA), with the same result.
     */
    @Override
    protected Tensor compute(Tensor x) {
        Tensor h = x;
        for (int i = 0; i < layers.size(); i++) {
            Module m = layers.get(i);
            Module next = i + 1 < layers.size() ? layers.get(i + 1) : null;
            FusedActivation act = next == null ? null : Activations.fusable(next);
            if (act != null && m instanceof ActivationFusing layer) {
                next.checkOpen();
                h = layer.forward(h, act);
                i++;
            } else {
                h = m.forward(h);
            }
        }
        return h;
    }

    @Override
    public String toString() {
        return "Sequential" + layers;
    }
}
