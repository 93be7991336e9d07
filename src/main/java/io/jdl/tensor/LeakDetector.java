package io.jdl.tensor;

import io.jdl.backend.Storage;
import java.lang.ref.Cleaner;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds tensors that became unreachable without being closed, like Netty's leak detector: the memory is
 * freed anyway and the leak is logged once per place of creation (a WARN through slf4j).
 *
 * <p>Level from the system property {@code jdl.leakDetection}:
 * <ul>
 * <li>{@code simple} (default): GPU tensors are tracked; one in {@value #SAMPLE} records where it was created,
 *     which the report shows (the others say how to see it).</li>
 * <li>{@code paranoid}: every tensor on every device is tracked with its place of creation (slow; for tests
 *     and debugging).</li>
 * <li>{@code disabled}: nothing is tracked; an unclosed GPU tensor's memory stays allocated.</li>
 * </ul>
 * The {@link Cleaner} thread only queues a leaked storage; it is freed by the next tensor created (on the
 * thread that uses the backend, which is not safe to call from the cleaner's thread).
 */
public final class LeakDetector {
    /** One GPU tensor in this many records its creation stack at level {@code simple}. */
    static final int SAMPLE = 128;

    private static final Logger LOG = LoggerFactory.getLogger(LeakDetector.class);
    private static final Cleaner CLEANER = Cleaner.create();
    private static final ConcurrentLinkedQueue<Storage> LEAKED = new ConcurrentLinkedQueue<>();
    private static final Set<String> REPORTED = ConcurrentHashMap.newKeySet();
    private static final AtomicLong LEAKS = new AtomicLong();
    private static volatile String level =
            System.getProperty("jdl.leakDetection", "simple").toLowerCase(Locale.ROOT);

    private LeakDetector() {
    }

    /** How many leaked tensors were found since the start (for tests and metrics). */
    public static long leaks() {
        return LEAKS.get();
    }

    /** Sets the level ({@code disabled}, {@code simple}, {@code paranoid}) for tensors created from now on. */
    public static void setLevel(String newLevel) {
        String l = newLevel.toLowerCase(Locale.ROOT);
        if (!Set.of("disabled", "simple", "paranoid").contains(l)) {
            throw new IllegalArgumentException("leak detection level must be disabled, simple or paranoid, not "
                    + newLevel);
        }
        level = l;
    }

    /** Frees the storages of leaked tensors found so far, on this thread. */
    static void freeLeaked() {
        for (Storage s; (s = LEAKED.poll()) != null; ) {
            if (!s.isClosed()) {
                s.close();
            }
        }
    }

    /**
     * Starts watching {@code t} (whose memory is {@code storage}, read through {@code broadcast} when it is a broadcast
     * view, else null); returns the registration, which the tensor keeps for {@link #closeStorage}, or null when
     * {@code t} is not tracked.
     */
    static Cleaner.Cleanable track(Tensor t, Storage storage, BroadcastView broadcast) {
        freeLeaked();
        String l = level;
        boolean paranoid = l.equals("paranoid");
        if (l.equals("disabled") || !paranoid && !t.device().isCuda()) {
            return null;
        }
        Throwable created = paranoid || ThreadLocalRandom.current().nextInt(SAMPLE) == 0
                ? new Throwable("tensor " + t.shape() + " on " + t.device() + " created here") : null;
        return CLEANER.register(t, new Check(storage, broadcast, created));
    }

    /**
     * Closes {@code t}'s handle on its memory (not the tensor's own state: see {@link Tensor#close()}), after which it
     * cannot leak: its registration is dropped now (the check runs here, finds the storage closed and does nothing),
     * which spares the garbage collector and the cleaner thread a phantom reference per tensor, dozens per step.
     */
    static void closeStorage(Tensor t) {
        if (t.broadcast != null) {
            t.broadcast.release();  // the view's materialised copy goes with its handle (see BroadcastView)
        }
        t.memory().close();
        if (t.leakCheck != null) {
            t.leakCheck.clean();
            t.leakCheck = null;
        }
    }

    /** Runs when the tensor is unreachable: a still-open storage is a leak. Holds no reference to the tensor. */
    private record Check(Storage storage, BroadcastView broadcast, Throwable created) implements Runnable {
        @Override
        public void run() {
            if (storage.isClosed()) {
                return;
            }
            LEAKS.incrementAndGet();
            LEAKED.add(storage);
            Storage materialised = broadcast == null ? null : broadcast.materialised();
            if (materialised != null) {
                LEAKED.add(materialised);
            }
            String where = created == null ? "(set -Djdl.leakDetection=paranoid to record where)"
                    : stackOf(created);
            if (REPORTED.add(where)) {
                LOG.warn("LEAK: a tensor of {} floats on {} was not closed before it became unreachable; its"
                        + " memory is freed now. Close tensors or create them inside a TensorScope. Created at:\n{}",
                        storage.numel(), storage.device(), where);
            }
        }

        private static String stackOf(Throwable t) {
            StringBuilder sb = new StringBuilder();
            // Only the detector's own frames go: the tensor op that made the tensor, then its caller (which may
            // itself be in this package, a test of it for one).
            for (StackTraceElement e : t.getStackTrace()) {
                if (!e.getClassName().equals(LeakDetector.class.getName())) {
                    sb.append("\tat ").append(e).append('\n');
                }
            }
            return sb.toString();
        }
    }
}
