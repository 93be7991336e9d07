package io.jdl.backend.cpu;

import java.util.stream.IntStream;

/** The CPU backend's one rule for spreading a loop over cores: only when there is enough work to repay it. */
final class CpuParallel {
    /** Multiply-adds (or element visits) below which a loop stays on the calling thread. */
    static final long MIN_WORK = 1 << 16;

    private CpuParallel() {
    }

    /** [0, count) as a stream: parallel when there is more than one task and at least {@link #MIN_WORK} work. */
    static IntStream range(int count, long work) {
        IntStream r = IntStream.range(0, count);
        return count > 1 && work >= MIN_WORK ? r.parallel() : r;
    }
}
