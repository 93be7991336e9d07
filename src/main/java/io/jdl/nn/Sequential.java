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

    /**
     * Each layer's output feeds the next. Outside a recorded graph (no grad) the intermediates are
     * closed here as soon as the next layer has used them; when a layer throws, the last intermediate
     * (with the graph that produced it) is closed before the exception propagates.
     */
    @Override
    public Tensor forward(Tensor x) {
        Tensor h = x;
        for (Module m : layers) {
            Tensor next;
            try {
                next = m.forward(h);
            } catch (RuntimeException e) {
                if (h != x) {
                    h.close(); // no caller will see it: closing frees its graph too
                }
                throw e;
            }
            if (h != x && h != next && !h.needsGrad()) {
                h.close();
            }
            h = next;
        }
        return h == x ? x.scale(1f) : h;
    }

    @Override
    public String toString() {
        return "Sequential" + layers;
    }
}
