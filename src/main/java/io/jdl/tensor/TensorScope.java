package io.jdl.tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * A bounded lifetime for the tensors created inside it, in the spirit of {@link java.lang.foreign.Arena}'s
 * confined arenas: every tensor created on this thread while the scope is the innermost open one belongs
 * to it, and {@link #close()} closes them all, except those {@linkplain #keep kept} (handed to the
 * enclosing scope, or to the caller when there is none) and those {@linkplain #unscoped taken out of
 * scopes} (owned by whoever took them: a module its parameters, an optimizer its state).
 *
 * <pre>{@code
 * try (TensorScope step = TensorScope.open()) {
 *     Tensor loss = model.forward(x).crossEntropy(y);   // intermediates, logits, loss: all in `step`
 *     loss.backward();                                  // gradients belong to the parameters, not to `step`
 * }                                                     // everything else is freed here, also on an exception
 * }</pre>
 *
 * <p>Rules:
 * <ul>
 * <li>Scopes nest per thread: {@link #open()} makes a child of the innermost open scope. They must be closed
 *     in reverse order of opening, on the thread that opened them (try-with-resources does both); otherwise
 *     {@code close()} throws {@link IllegalStateException}.</li>
 * <li>Closing a scope closes each tensor it owns that is still open, newest first. A tensor that a recorded
 *     op still reads is closed for its owner and freed with its graph (see {@link Tensor}), so a graph built
 *     inside a scope can be back-propagated after the scope closed, as long as its root was kept.</li>
 * <li>Tensors created by {@link Tensor#backward()} (the gradients) never belong to a scope: a leaf owns its
 *     gradient.</li>
 * <li>Closing a tensor before its scope closes is allowed; the scope skips it.</li>
 * </ul>
 * {@link io.jdl.nn.Module#forward} runs every module's forward in a child scope that keeps only the result,
 * so module code frees nothing by hand.
 */
public final class TensorScope implements AutoCloseable {
    /** This thread's scope state, in one thread-local: {@link #adopt} reads it for every tensor created. */
    private static final ThreadLocal<PerThread> STATE = ThreadLocal.withInitial(PerThread::new);

    /** A thread's innermost open scope, whether backward() runs, and the tensors its current step made. */
    private static final class PerThread {
        TensorScope current;
        /** Set while backward() runs: its tensors belong to leaves or to the engine, never to a scope. */
        boolean suspended;
        /** Tensors made by the backward step running on this thread (see {@link #trackBackwardStep}), or null. */
        List<Tensor> backwardStep;
    }

    private final TensorScope parent;
    private final PerThread state;
    private final Thread thread = Thread.currentThread();
    private static final int PRUNE_AT = 1024;

    private final List<Tensor> owned = new ArrayList<>();
    private int pruneAt = PRUNE_AT;
    /** Ops ({@link #op}) running with this as the innermost scope: {@link #owned} may not be pruned meanwhile. */
    private int runningOps;
    private boolean closed;

    private TensorScope(TensorScope parent, PerThread state) {
        this.parent = parent;
        this.state = state;
    }

    /** Opens a scope nested in this thread's innermost open scope (if any); close it with try-with-resources. */
    public static TensorScope open() {
        PerThread state = STATE.get();
        TensorScope s = new TensorScope(state.current, state);
        state.current = s;
        return s;
    }

    /** Runs {@code body} in a new scope and keeps its result (hands it to the enclosing scope). */
    public static Tensor keeping(Supplier<Tensor> body) {
        try (TensorScope scope = open()) {
            return scope.keep(body.get());
        }
    }

    /**
     * Runs one tensor op as {@link #keeping} would (what it made and does not return is closed when it returns or
     * throws; the result goes to the innermost scope), without a scope of its own: it marks the innermost scope's
     * list and, at the end, closes what was added after the mark. Every tensor method runs one, several per
     * layer; a scope each cost an object, a list and two thread-local switches.
     */
    static Tensor op(Supplier<Tensor> body) {
        PerThread state = STATE.get();
        if (state.suspended) {
            return body.get(); // inside backward() no scope adopts anything: there is nothing to close here
        }
        TensorScope s = state.current;
        if (s == null) {
            return keeping(body); // no scope to mark: a scope of its own tracks what the op makes
        }
        int mark = s.owned.size();
        s.runningOps++;
        Tensor result;
        try {
            result = body.get();
        } catch (RuntimeException | Error e) {
            try {
                s.closeAddedSince(mark, null);
            } catch (RuntimeException closing) {
                e.addSuppressed(closing);
            }
            throw e;
        } finally {
            s.runningOps--;
        }
        s.closeAddedSince(mark, result);
        return result;
    }

    /**
     * Closes the tensors added to {@link #owned} since {@code mark} that this scope still owns, newest first, except
     * {@code result}, which stays owned; then, outside any op, prunes a long list as {@link #adopt} would have.
     * The first failure to close is thrown after all were tried, the others suppressed in it. {@link #close()}
     * is this from mark 0.
     */
    private void closeAddedSince(int mark, Tensor result) {
        RuntimeException failure = null;
        boolean resultAdded = false;
        for (int i = owned.size() - 1; i >= mark; i--) {
            Tensor t = owned.get(i);
            if (t == result) {
                resultAdded = true;
            } else if (t.scope == this && !t.isClosed()) {
                t.scope = null;
                try {
                    t.close();
                } catch (RuntimeException e) {
                    if (failure == null) {
                        failure = e;
                    } else {
                        failure.addSuppressed(e);
                    }
                }
            }
        }
        owned.subList(mark, owned.size()).clear();
        if (resultAdded && result.scope == this) {
            owned.add(result);
        }
        if (runningOps == 0 && owned.size() >= pruneAt) {
            prune();
        }
        if (failure != null) {
            throw failure;
        }
    }

    /** Forgets the tensors closed or handed on meanwhile, so that a long-lived scope's list stays short. */
    private void prune() {
        owned.removeIf(o -> o.isClosed() || o.scope != this);
        pruneAt = Math.max(PRUNE_AT, 2 * owned.size());
    }

    /**
     * Hands {@code t} to the enclosing scope (or, when there is none, to the caller) if this scope owns it;
     * otherwise leaves it alone. Returns {@code t}, so {@code return scope.keep(y);} reads naturally.
     */
    public Tensor keep(Tensor t) {
        checkThread();
        if (t != null && t.scope == this) {
            t.scope = parent;
            if (parent != null) {
                parent.owned.add(t);
            }
        }
        return t;
    }

    /** Takes {@code t} out of whatever scope owns it: the caller now owns it and closes it. Returns {@code t}. */
    public static Tensor unscoped(Tensor t) {
        t.scope = null;
        return t;
    }

    /**
     * Starts recording the tensors that one node's backward makes on this thread, so that the engine can close
     * those nobody holds when the step throws (a device out-of-memory half-way through a backward closure).
     * {@link #claim} takes a gradient off the list when a tensor takes it; {@link #endBackwardStep} stops.
     */
    static List<Tensor> trackBackwardStep() {
        List<Tensor> made = new ArrayList<>();
        STATE.get().backwardStep = made;
        return made;
    }

    static void endBackwardStep() {
        STATE.get().backwardStep = null;
    }

    /** {@code g} now belongs to a tensor as its gradient: a failing backward step must not close it. */
    static void claim(Tensor g) {
        List<Tensor> made = STATE.get().backwardStep;
        if (made != null) {
            made.remove(g);
        }
    }

    /** Registers a new tensor with this thread's innermost open scope. */
    static void adopt(Tensor t) {
        PerThread state = STATE.get();
        if (state.suspended) {
            if (state.backwardStep != null) {
                state.backwardStep.add(t);
            }
            return;
        }
        TensorScope s = state.current;
        if (s != null) {
            t.scope = s;
            // A long-lived scope forgets what was closed or handed on meanwhile; not under a running op's mark.
            if (s.owned.size() >= s.pruneAt && s.runningOps == 0) {
                s.prune();
            }
            s.owned.add(t);
        }
    }

    /** Whether backward() is running on this thread (inside {@link #unscopedWhile}). */
    static boolean inBackward() {
        return STATE.get().suspended;
    }

    /** Runs {@code body} with no scope adopting the tensors it creates. */
    static void unscopedWhile(Runnable body) {
        PerThread state = STATE.get();
        boolean was = state.suspended;
        state.suspended = true;
        try {
            body.run();
        } finally {
            state.suspended = was;
        }
    }

    /** Closes every tensor this scope still owns (newest first) and makes the enclosing scope current. */
    @Override
    public void close() {
        checkThread();
        if (closed) {
            throw new IllegalStateException("tensor scope closed twice");
        }
        if (state.current != this) {
            throw new IllegalStateException("tensor scopes must be closed innermost first: an inner scope opened"
                    + " after this one is still open");
        }
        closed = true;
        state.current = parent;
        closeAddedSince(0, null);
    }

    private void checkThread() {
        if (Thread.currentThread() != thread) {
            throw new IllegalStateException("tensor scope opened on thread " + thread.getName() + " used on "
                    + Thread.currentThread().getName() + " (scopes are confined to their thread)");
        }
    }
}
