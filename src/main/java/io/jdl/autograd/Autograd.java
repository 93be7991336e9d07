package io.jdl.autograd;

/**
 * Whether operations are recorded for {@code backward()}, per thread. Recording is on by default;
 * {@link #noGrad()} turns it off for a scope (evaluation, optimizer updates):
 *
 * <pre>{@code
 * try (NoGrad ignored = Autograd.noGrad()) {
 *     Tensor logits = model.forward(x);   // no graph: the caller owns and closes logits
 * }
 * }</pre>
 */
public final class Autograd {
    private static final ThreadLocal<int[]> DISABLED = ThreadLocal.withInitial(() -> new int[1]);

    private Autograd() {
    }

    /** True unless inside a {@link #noGrad()} scope on this thread. */
    public static boolean isGradEnabled() {
        return DISABLED.get()[0] == 0;
    }

    /** Turns recording off until the returned scope is closed (scopes nest). */
    public static NoGrad noGrad() {
        DISABLED.get()[0]++;
        return new NoGrad();
    }

    static void restore() {
        DISABLED.get()[0]--;
    }
}
