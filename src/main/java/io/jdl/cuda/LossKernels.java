package io.jdl.cuda;

import static io.jdl.cuda.NativeKernels.BLOCK;
import static io.jdl.cuda.NativeKernels.checkCount;
import static io.jdl.cuda.NativeKernels.checkPositive;
import static io.jdl.cuda.NativeKernels.checkStream;
import static io.jdl.cuda.NativeKernels.elementwiseGrid;
import static io.jdl.cuda.NativeKernels.requireFloats;
import static io.jdl.cuda.NativeKernels.requireInts;

import io.jdl.cuda.KernelLibrary.Kernel;

/**
 * Softmax cross-entropy in one launch each way: the forward writes the mean loss itself (no separate sum
 * and scaling) and saves each row's log-sum-exp, from which the backward is one elementwise pass that also
 * applies the incoming gradient (a device scalar, so no host read).
 *
 * <p>The contract is {@link NativeKernels}'s: each method checks counts and buffer sizes before queueing
 * (IllegalArgumentException naming the operand), queues one kernel on {@code stream} and returns at once.
 * Obtained from {@link NativeKernels#losses()}; stateless, usable from any thread. The forward's
 * {@link Workspace} is not: it belongs to one stream's work at a time.
 */
public final class LossKernels {
    /** Most blocks of the forward (JDL_CE_MAX_BLOCKS in the .cu): the size of its partial sums. */
    static final int MAX_FORWARD_BLOCKS = 1024;

    private final NativeKernels kernels;

    LossKernels(NativeKernels kernels) {
        this.kernels = kernels;
    }

    /**
     * The forward's device scratch: one partial sum per block and the ticket that finds the last block, which
     * must be 0 before a launch; each launch leaves it 0 again. Keep one per stream (two launches running at
     * once on different streams must not share it) for as long as that stream computes losses; close it after
     * the stream's work has finished.
     */
    public static final class Workspace implements AutoCloseable {
        final DeviceMemory partials, ticket;

        Workspace(DeviceMemory partials, DeviceMemory ticket) {
            this.partials = partials;
            this.ticket = ticket;
        }

        /** Allocates the scratch from {@code allocator} and zeroes the ticket on {@code stream}. */
        public static Workspace allocate(CachingAllocator allocator, Stream stream) {
            DeviceMemory partials = allocator.allocate((long) MAX_FORWARD_BLOCKS * Float.BYTES);
            DeviceMemory ticket = null;
            try {
                ticket = allocator.allocate(Integer.BYTES);
                stream.memset(ticket, 0, 0, Integer.BYTES);
                return new Workspace(partials, ticket);
            } catch (RuntimeException e) {
                partials.close();
                if (ticket != null) {
                    ticket.close();
                }
                throw e;
            }
        }

        @Override
        public void close() {
            partials.close();
            ticket.close();
        }
    }

    /**
     * {@code loss[0] = scale * sum over rows r with targets[r] != ignoreIndex of
     * (logsumexp(logits[r, :]) - logits[r, targets[r]])}, max-subtracted; {@code logSumExp[r]} receives each
     * row's log-sum-exp (0 for ignored rows), which {@link #crossEntropyBackward} reads. A target outside
     * {@code [0, classes)} that is not {@code ignoreIndex} makes the loss NaN. With no rows, loss is 0.
     * The partial sums are added in a fixed order: the result is the same from run to run.
     */
    public void crossEntropy(Stream stream, Workspace workspace, DeviceMemory logits, DeviceMemory targets,
                             DeviceMemory logSumExp, DeviceMemory loss, int rows, int classes, int ignoreIndex,
                             float scale) {
        checkStream(stream);
        checkCount("rows", rows);
        checkPositive("classes", classes);
        if (workspace == null) {
            throw new NullPointerException("workspace");
        }
        requireFloats("logits", logits, (long) rows * classes);
        requireInts("targets", targets, rows);
        requireFloats("logSumExp", logSumExp, rows);
        requireFloats("loss", loss, 1);
        requireFloats("workspace partials", workspace.partials, MAX_FORWARD_BLOCKS);
        requireInts("workspace ticket", workspace.ticket, 1);
        int grid = Math.max(1, Math.min(rows, MAX_FORWARD_BLOCKS));
        kernels.launch(Kernel.CROSS_ENTROPY, stream, grid, BLOCK, logits.pointer(), targets.pointer(),
                logSumExp.pointer(), workspace.partials.pointer(), workspace.ticket.pointer(), loss.pointer(), rows,
                classes, ignoreIndex, scale);
    }

    /**
     * {@code dLogits[r, j] = gradOut[0] * scale * (exp(logits[r, j] - logSumExp[r]) - (j == targets[r] ? 1 : 0))}
     * with the forward's {@code logSumExp}, the whole row 0 where {@code targets[r] == ignoreIndex} (NaN where the
     * target is out of range). {@code gradOut} holds one float on the device; {@code dLogits} is overwritten and
     * may be {@code logits}.
     */
    public void crossEntropyBackward(Stream stream, DeviceMemory logits, DeviceMemory targets, DeviceMemory logSumExp,
                                     DeviceMemory gradOut, DeviceMemory dLogits, int rows, int classes,
                                     int ignoreIndex, float scale) {
        checkStream(stream);
        checkCount("rows", rows);
        checkPositive("classes", classes);
        long n = (long) rows * classes;
        requireFloats("logits", logits, n);
        requireInts("targets", targets, rows);
        requireFloats("logSumExp", logSumExp, rows);
        requireFloats("gradOut", gradOut, n > 0 ? 1 : 0);
        requireFloats("dLogits", dLogits, n);
        if (n > 0) {
            kernels.launch(Kernel.CROSS_ENTROPY_BACKWARD, stream, elementwiseGrid(n), BLOCK, logits.pointer(),
                    targets.pointer(), logSumExp.pointer(), gradOut.pointer(), dLogits.pointer(), n, classes,
                    ignoreIndex, scale);
        }
    }
}
