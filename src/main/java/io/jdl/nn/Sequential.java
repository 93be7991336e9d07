package io.jdl.nn;

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

    /** Each layer's output feeds the next; with no layers, the input itself. */
    @Override
    protected Tensor compute(Tensor x) {
        Tensor h = x;
        for (Module m : layers) {
            h = m.forward(h);
        }
        return h;
    }

    @Override
    public String toString() {
        return "Sequential" + layers;
    }
}
