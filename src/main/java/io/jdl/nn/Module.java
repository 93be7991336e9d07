package io.jdl.nn;

import io.jdl.backend.Device;
import io.jdl.tensor.Tensor;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A layer or a model: named parameters (leaves that require grad), named buffers (state such as
 * batch-norm running statistics), named child modules, and a training/evaluation mode.
 *
 * <p>A module owns its parameters and buffers and closes them in {@link #close()} (children too).
 * Names follow PyTorch's state-dict convention: {@code fc1.weight}, {@code 0.bias},
 * {@code 1.running_mean}, so checkpoints line up with the same model in PyTorch.
 */
public abstract class Module implements AutoCloseable {
    private final Map<String, Tensor> params = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private boolean training = true;

    /** Computes the output for {@code x}; recorded for backward when grad is enabled. */
    public abstract Tensor forward(Tensor x);

    /** Registers a parameter (marked as requiring grad) under {@code name}. */
    protected final Tensor registerParameter(String name, Tensor t) {
        params.put(name, t.requiresGrad(true));
        return t;
    }

    protected final Tensor registerBuffer(String name, Tensor t) {
        buffers.put(name, t);
        return t;
    }

    protected final <M extends Module> M registerModule(String name, M m) {
        children.put(name, m);
        return m;
    }

    /** This module's own parameter {@code name} (it moves with {@link #to}; do not cache it). */
    protected final Tensor param(String name) {
        return params.get(name);
    }

    protected final Tensor buffer(String name) {
        return buffers.get(name);
    }

    /** Direct children, by name. */
    public Map<String, Module> children() {
        return Collections.unmodifiableMap(children);
    }

    /** Every parameter of this module and its descendants, by dotted name, in registration order. */
    public Map<String, Tensor> namedParameters() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        collect("", out, false);
        return out;
    }

    public List<Tensor> parameters() {
        return new ArrayList<>(namedParameters().values());
    }

    /** Parameters and buffers by dotted name: the tensors a checkpoint holds (live, not copies). */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        collect("", out, true);
        return out;
    }

    private void collect(String prefix, Map<String, Tensor> out, boolean withBuffers) {
        params.forEach((k, v) -> out.put(prefix + k, v));
        if (withBuffers) {
            buffers.forEach((k, v) -> out.put(prefix + k, v));
        }
        children.forEach((k, m) -> m.collect(prefix + k + ".", out, withBuffers));
    }

    /**
     * Copies values into this module's tensors by name. Every name of {@link #stateDict()} must be
     * present with the same shape; extra names are an error too (nothing is changed then).
     */
    public void loadStateDict(Map<String, Tensor> state) {
        Map<String, Tensor> mine = stateDict();
        for (Map.Entry<String, Tensor> e : mine.entrySet()) {
            Tensor src = state.get(e.getKey());
            if (src == null) {
                throw new IllegalArgumentException("state dict lacks " + e.getKey());
            }
            if (!src.shape().equals(e.getValue().shape())) {
                throw new IllegalArgumentException("state dict entry " + e.getKey() + " has shape " + src.shape()
                        + ", the module expects " + e.getValue().shape());
            }
        }
        for (String k : state.keySet()) {
            if (!mine.containsKey(k)) {
                throw new IllegalArgumentException("state dict has unexpected entry " + k);
            }
        }
        mine.forEach((k, t) -> {
            Tensor src = state.get(k);
            if (src.device().equals(t.device())) {
                t.copyFrom(src);
            } else {
                try (Tensor moved = src.to(t.device())) {
                    t.copyFrom(moved);
                }
            }
        });
    }

    /** Sets training mode here and in every descendant; returns this. */
    public Module train(boolean on) {
        training = on;
        children.values().forEach(m -> m.train(on));
        return this;
    }

    public Module eval() {
        return train(false);
    }

    public boolean isTraining() {
        return training;
    }

    /** Moves every parameter and buffer to {@code device} (the old copies are closed); returns this. */
    public Module to(Device device) {
        params.replaceAll((k, t) -> moved(t, device).requiresGrad(true));
        buffers.replaceAll((k, t) -> moved(t, device));
        children.values().forEach(m -> m.to(device));
        return this;
    }

    private static Tensor moved(Tensor t, Device device) {
        if (t.device().equals(device)) {
            return t;
        }
        Tensor copy = t.to(device);
        t.close();
        return copy;
    }

    /** Clears every parameter's gradient. */
    public void zeroGrad() {
        parameters().forEach(Tensor::zeroGrad);
    }

    /** Closes every parameter, buffer and child module. */
    @Override
    public void close() {
        params.values().forEach(Tensor::close);
        buffers.values().forEach(Tensor::close);
        children.values().forEach(Module::close);
        params.clear();
        buffers.clear();
        children.clear();
    }
}
