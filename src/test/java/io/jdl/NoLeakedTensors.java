package io.jdl;

import io.jdl.tensor.LeakDetector;
import java.lang.ref.WeakReference;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class that leaves a tensor unclosed, so that its memory is not freed later by the garbage
 * collector in the middle of another class's test, where an exact count of allocated device bytes then reads
 * short (how {@code FaultRecoveryGpuTest} failed in CI, at a different allocation each run).
 *
 * <p>Before and after each class it forces a collection and lets {@link LeakDetector}'s cleaner run, and
 * compares {@link LeakDetector#leaks()}. A leak found is real; one the cleaner has not reached yet within
 * the wait goes unseen (a missed report, never a false one). Where each leaked tensor was made is in the
 * detector's LEAK warnings above the failure; run with {@code -Djdl.leakDetection=paranoid} (the stand-in run
 * does) to have every tensor's place of creation.
 *
 * <p>Registered through {@code META-INF/services} for the runs that set
 * {@code junit.jupiter.extensions.autodetection.enabled=true} (the pom's stand-in run).
 */
public final class NoLeakedTensors implements BeforeAllCallback, AfterAllCallback {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(NoLeakedTensors.class);

    @Override
    public void beforeAll(ExtensionContext context) throws InterruptedException {
        context.getStore(NS).put("leaks", collectedLeaks());
    }

    @Override
    public void afterAll(ExtensionContext context) throws InterruptedException {
        long found = collectedLeaks() - context.getStore(NS).get("leaks", Long.class);
        if (found > 0) {
            throw new AssertionError(found + " tensor(s) made by " + context.getDisplayName() + " were never closed:"
                    + " where each was made is in the LEAK warning(s) logged above");
        }
    }

    /** The detector's count once everything unreachable now has been collected and the cleaner has run. */
    private static long collectedLeaks() throws InterruptedException {
        WeakReference<Object> probe = new WeakReference<>(new Object());
        for (int i = 0; i < 20 && probe.get() != null; i++) {
            System.gc();
            Thread.sleep(5);
        }
        long leaks = LeakDetector.leaks();
        for (int quiet = 0; quiet < 3; ) {  // the cleaner thread works through the queue after the collection
            Thread.sleep(10);
            long now = LeakDetector.leaks();
            quiet = now == leaks ? quiet + 1 : 0;
            leaks = now;
        }
        return leaks;
    }
}
