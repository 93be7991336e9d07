package io.jdl.nn;

import io.jdl.device.Device;
import io.jdl.tensor.Tensor;
import io.jdl.tensor.TensorScope;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A layer or a model: named parameters (leaves that require grad), named buffers (state such as
 * batch-norm running statistics), named child modules, and a training/evaluation mode.
 *
 * <p>A module owns its parameters and buffers and closes them in {@link #close()} (children too).
 * Names follow PyTorch's state-dict convention: {@code fc1.weight}, {@code 0.bias},
 * {@code 1.running_mean}, so checkpoints line up with the same model in PyTorch.
 *
 * <p><b>Forward.</b> {@link #forward} runs {@link #compute} in a child {@link TensorScope} that keeps only
 * the result: every intermediate a module makes is closed when it returns (or throws), and the ones a
 * recorded graph still reads are freed with that graph. Module code therefore reads like the maths and
 * frees nothing by hand; a module with other inputs (a mask, token ids) wraps its body in {@link #scoped}.
 * The result may be the input itself (identity layers, dropout in evaluation).
 *
 * <p><b>Lifetime.</b> Parameters and buffers are taken out of any scope when registered: the module owns
 * them until {@link #close()}. Using a closed module throws {@link IllegalStateException} naming it.
 *
 * <p><b>Threads.</b> A module, like its tensors, is used by one thread at a time: while a graph recorded on
 * one thread reads its parameters, recording with it on another thread throws
 * {@link IllegalStateException}. Train copies (one module per thread), not one module from many threads.
 */
public abstract class Module implements AutoCloseable {
    private final Map<String, Tensor> params = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private boolean training = true;
    private boolean closed;

    /**
     * The output for {@code x}, recorded for backward when grad is enabled; intermediates are freed (see the
     * class comment).
     *
     * @throws IllegalStateException when this module is closed
     */
    public final Tensor forward(Tensor x) {
        return scoped(() -> compute(x));
    }

    /** This module's computation, as plain maths over tensor ops: {@link #forward} frees the intermediates. */
    protected abstract Tensor compute(Tensor x);

    /** Runs {@code body} in a child scope that keeps only its result, after checking this module is open. */
    protected final Tensor scoped(Supplier<Tensor> body) {
        checkOpen();
        return TensorScope.keeping(body);
    }

    /** Throws {@link IllegalStateException} naming this module when it was closed. */
    protected final void checkOpen() {
        if (closed) {
            throw new IllegalStateException(getClass().getSimpleName() + " is closed: its parameters and buffers were"
                    + " freed");
        }
    }

    /** Registers a parameter (marked as requiring grad) under {@code name}; this module now owns it. */
    protected final Tensor registerParameter(String name, Tensor t) {
        params.put(name, TensorScope.unscoped(t).requiresGrad(true));
        return t;
    }

    /** Registers a buffer (state without gradient) under {@code name}; this module now owns it. */
    protected final Tensor registerBuffer(String name, Tensor t) {
        buffers.put(name, TensorScope.unscoped(t));
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
     * present, open and of the same shape; extra names are an error too. Everything is checked before
     * anything is copied, so on an exception the module is unchanged. A value of another dtype is converted to
     * the module tensor's dtype, as PyTorch's {@code load_state_dict} copies ({@code param.copy_(value)}): a
     * bfloat16 state dict loads exactly into float32 parameters, an int64 counter into a float32 buffer.
     */
    public void loadStateDict(Map<String, Tensor> state) {
        checkOpen();
        Map<String, Tensor> mine = stateDict();
        for (Map.Entry<String, Tensor> e : mine.entrySet()) {
            Tensor src = state.get(e.getKey());
            if (src == null) {
                throw new IllegalArgumentException("state dict lacks " + e.getKey());
            }
            if (src.isClosed()) {
                throw new IllegalArgumentException("state dict entry " + e.getKey() + " is a closed tensor");
            }
            if (e.getValue().isClosed()) {
                throw new IllegalStateException("the module's own " + e.getKey() + " was closed");
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
        try (TensorScope moves = TensorScope.open()) {
            // Moved copies first: a failing upload leaves the module as it was.
            Map<String, Tensor> sources = new LinkedHashMap<>();
            mine.forEach((k, t) -> {
                Tensor src = state.get(k);
                Tensor typed = src.dtype() == t.dtype() ? src : src.to(t.dtype());
                sources.put(k, typed.device().equals(t.device()) ? typed : typed.to(t.device()));
            });
            mine.forEach((k, t) -> t.copyFrom(sources.get(k)));
        }
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
        checkOpen();
        params.replaceAll((k, t) -> moved(t, device).requiresGrad(true));
        buffers.replaceAll((k, t) -> moved(t, device));
        children.values().forEach(m -> m.to(device));
        return this;
    }

    private static Tensor moved(Tensor t, Device device) {
        if (t.device().equals(device)) {
            return t;
        }
        Tensor copy = TensorScope.unscoped(t.to(device));
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
        closed = true;
        params.values().forEach(Tensor::close);
        buffers.values().forEach(Tensor::close);
        children.values().forEach(Module::close);
        params.clear();
        buffers.clear();
        children.clear();
    }
}
