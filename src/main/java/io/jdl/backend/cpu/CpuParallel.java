package io.jdl.backend.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * The CPU backend's one rule for spreading a loop over cores: only when there is enough work to repay the
 * hand-off, on jdl's own pool of {@link #threads()} threads (the calling thread counts as one), never on the
 * JDK's common pool, which the application owns.
 *
 * <p>Thread count: the system property {@code jdl.cpu.threads} at class initialisation, else
 * {@link Runtime#availableProcessors()} (which honours container CPU limits), and
 * {@link CpuBackend#setThreads(int)} at any time. A call already running keeps the pool it started on.
 *
 * <p>A loop is cut into chunks handed out from one counter, so uneven iterations (causal attention rows)
 * balance; the caller works too and returns when every chunk is done. A loop started from inside another
 * (a worker's body calling a parallel kernel) runs on its thread alone: the other threads are already busy.
 */
final class CpuParallel {
    /** Multiply-adds (or element visits) below which a loop stays on the calling thread. */
    static final long MIN_WORK = 1 << 16;

    /** Chunks per thread: enough to balance uneven iterations, few enough that the counter stays cold. */
    private static final int CHUNKS_PER_THREAD = 4;

    private static volatile Pool pool = new Pool(initialThreads());

    private CpuParallel() {
    }

    /** The threads loops run on, the caller included. */
    static int threads() {
        return pool.threads;
    }

    /** Sets the thread count (>= 1); the previous pool's idle workers end. */
    static synchronized void setThreads(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("CPU thread count must be >= 1, got " + threads);
        }
        Pool old = pool;
        if (old.threads != threads) {
            pool = new Pool(threads);
            old.shutdown();
        }
    }

    private static int initialThreads() {
        String p = System.getProperty("jdl.cpu.threads");
        if (p == null || p.isBlank()) {
            return Runtime.getRuntime().availableProcessors();
        }
        int n;
        try {
            n = Integer.parseInt(p.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("system property jdl.cpu.threads must be a whole number >= 1, got '"
                    + p + "'", e);
        }
        if (n < 1) {
            throw new IllegalArgumentException("system property jdl.cpu.threads must be >= 1, got " + n);
        }
        return n;
    }

    /**
     * Runs body(i) for every i in [0, count): across the pool when there is more than one iteration and at
     * least {@link #MIN_WORK} work in all, else in order on the calling thread. The first exception a body
     * throws is rethrown once every started chunk has finished.
     */
    static void forEach(int count, long work, IntConsumer body) {
        Pool p = pool;
        if (count <= 1 || work < MIN_WORK || p.threads == 1 || p.owns(Thread.currentThread())) {
            for (int i = 0; i < count; i++) {
                body.accept(i);
            }
            return;
        }
        new Loop(count, Math.max(1, count / (p.threads * CHUNKS_PER_THREAD)), body).run(p);
    }

    /** A body over an index range [from, to). */
    @FunctionalInterface
    interface RangeBody {
        void run(int from, int to);
    }

    /** Elements per range of {@link #forEachRange}: 64 KiB of floats, large enough to amortise a hand-off. */
    static final int RANGE = 1 << 14;

    /**
     * Runs body over [0, n) cut into ranges of {@link #RANGE} elements, across the pool when
     * {@code n · workPerElement} reaches {@link #MIN_WORK}: the shape of every element-wise kernel.
     */
    static void forEachRange(long n, int workPerElement, RangeBody body) {
        int size = Math.toIntExact(n), ranges = (int) ((n + RANGE - 1) / RANGE);
        forEach(ranges, n * workPerElement, r -> body.run(r * RANGE, (int) Math.min(size, (r + 1L) * RANGE)));
    }

    /** One parallel loop: a counter handing out chunks, and the count of chunks not yet finished. */
    private static final class Loop implements Runnable {
        private final int count, grain;
        private final IntConsumer body;
        private final AtomicInteger next = new AtomicInteger(), unfinished;
        private final AtomicReference<Throwable> failure = new AtomicReference<>();
        private final Thread caller = Thread.currentThread();

        Loop(int count, int grain, IntConsumer body) {
            this.count = count;
            this.grain = grain;
            this.body = body;
            this.unfinished = new AtomicInteger((count + grain - 1) / grain);
        }

        void run(Pool p) {
            int helpers = Math.min(p.threads - 1, unfinished.get() - 1);
            try {
                for (int h = 0; h < helpers; h++) {
                    p.workers.execute(this);
                }
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // setThreads shut this pool down meanwhile: the caller takes the chunks no helper will
            }
            run();
            while (unfinished.get() > 0) {
                LockSupport.park(this);
            }
            Throwable t = failure.get();
            if (t instanceof RuntimeException e) {
                throw e;
            }
            if (t instanceof Error e) {
                throw e;
            }
        }

        /** Takes chunks until none is left; a helper that starts late finds none and returns at once. */
        @Override
        public void run() {
            for (int start; (start = next.getAndAdd(grain)) < count; ) {
                try {
                    if (failure.get() == null) {
                        for (int i = start, end = Math.min(count, start + grain); i < end; i++) {
                            body.accept(i);
                        }
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                } finally {
                    if (unfinished.decrementAndGet() == 0) {
                        LockSupport.unpark(caller);
                    }
                }
            }
        }
    }

    /** The worker threads (threads - 1 of them: the caller is the last) of one thread count. */
    private static final class Pool {
        final int threads;
        final ForkJoinPool workers;

        Pool(int threads) {
            this.threads = threads;
            this.workers = threads == 1 ? null : new ForkJoinPool(threads - 1, pool -> {
                ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
                t.setName("jdl-cpu-" + t.getPoolIndex());
                return t;
            }, null, true);
        }

        boolean owns(Thread t) {
            return workers != null && t instanceof ForkJoinWorkerThread w && w.getPool() == workers;
        }

        void shutdown() {
            if (workers != null) {
                workers.shutdown();
            }
        }
    }
}
