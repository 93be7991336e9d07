package io.jdl.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.cuda.CudaBackend;
import io.jdl.cuda.GraphCaptureException;
import io.jdl.cuda.Gpu;
import io.jdl.cuda.StandIn;
import io.jdl.device.Device;
import io.jdl.nn.Activations;
import io.jdl.nn.BatchNorm2d;
import io.jdl.nn.Conv2d;
import io.jdl.nn.Dropout;
import io.jdl.nn.Linear;
import io.jdl.nn.Pool2d;
import io.jdl.nn.Sequential;
import io.jdl.optim.Adam;
import io.jdl.tensor.CudaGraphStep;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A training step captured as a CUDA graph (forward, cross-entropy, backward, Adam, with dropout) replayed N
 * times trains exactly as N eager steps; replay allocates nothing; a host read inside the capture fails
 * cleanly; closing the step frees its pool. Runs on the host stand-in in CI and on a GPU where there is one.
 */
@Tag("gpu")
class CudaGraphStepGpuTest {
    private static final int BATCH = 16, IN = 12, HIDDEN = 24, CLASSES = 5, STEPS = 6;
    private final Device gpu = Device.cuda(0);
    private Shape input = Shape.of(BATCH, IN);
    private CudaBackend backend;

    @BeforeEach
    void setUp() {
        Gpu.assumeAvailable();
        backend = CudaBackend.get(0);
    }

    private static Sequential model(long dropoutSeed) {
        Random rng = new Random(7);
        return new Sequential(new Linear(IN, HIDDEN, rng), Activations.relu(), new Dropout(0.25f, dropoutSeed),
                new Linear(HIDDEN, CLASSES, rng));
    }

    private record Batch(float[] x, int[] y) {
    }

    private List<Batch> batches() {
        Random rng = new Random(3);
        List<Batch> out = new ArrayList<>();
        for (int s = 0; s < STEPS; s++) {
            float[] x = new float[Math.toIntExact(input.numel())];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rng.nextGaussian();
            }
            out.add(new Batch(x, rng.ints(BATCH, 0, CLASSES).toArray()));
        }
        return out;
    }

    private float eagerStep(Sequential net, Adam adam, Batch b) {
        adam.zeroGrad();
        try (Tensor x = Tensor.of(b.x(), input, gpu); Tensor loss = net.forward(x).crossEntropy(b.y())) {
            loss.backward();
            adam.step();
            return loss.item();
        }
    }

    /** Warm-up step on batch 0, then a capture whose output is the loss; x is the static input. */
    private CudaGraphStep warmUpAndCapture(Sequential net, Adam adam, Tensor x, Batch first) {
        try (Tensor b0 = Tensor.of(first.x(), input, gpu)) {
            x.copyFrom(b0);
        }
        adam.zeroGrad();
        try (Tensor loss = net.forward(x).crossEntropy(first.y())) {
            loss.backward();
        }
        adam.step();
        return CudaGraphStep.capture(gpu, () -> {
            adam.zeroGrad();
            Tensor loss = net.forward(x).crossEntropy(first.y());
            loss.backward();
            adam.step();
            return loss;
        });
    }

    /** The backend's first capture gives cuBLAS a workspace it keeps: done here, so that it is not counted later. */
    private void firstCaptureDone() {
        backend.captureGraph(() -> { }).close();
    }

    private void feed(CudaGraphStep step, Tensor x, Batch b) {
        try (Tensor fresh = Tensor.of(b.x(), input, gpu)) {
            x.copyFrom(fresh);
        }
        step.setTargets(b.y());
    }

    @Test
    void replaysTrainExactlyAsEagerStepsWithAdamAndDropout() {
        assertReplaysTrainAsEagerSteps(model(100), model(100), 2);
    }

    /** Convolution, batch norm (running statistics updated in place by the graph), pooling, dropout. */
    @Test
    void aConvolutionalStepReplaysAsEagerSteps() {
        input = Shape.of(BATCH, 1, 8, 8);
        assertReplaysTrainAsEagerSteps(cnn(200), cnn(200), 5);
    }

    private Sequential onGpu(Sequential net) {
        net.to(gpu);
        return net;
    }

    private static Sequential cnn(long dropoutSeed) {
        Random rng = new Random(5);
        return new Sequential(new Conv2d(1, 4, 3, 1, rng), new BatchNorm2d(4), Activations.relu(), Pool2d.max(2),
                Activations.flatten(), new Dropout(0.25f, dropoutSeed), new Linear(4 * 4 * 4, CLASSES, rng));
    }

    private void assertReplaysTrainAsEagerSteps(Sequential eager, Sequential graphed, int dropoutIndex) {
        List<Batch> data = batches();
        eager.to(gpu);
        graphed.to(gpu);
        float[] eagerLosses = new float[STEPS], graphLosses = new float[STEPS];
        try (eager; graphed; Adam a = new Adam(eager.parameters(), 1e-2f);
             Adam g = new Adam(graphed.parameters(), 1e-2f);
             Tensor x = Tensor.zeros(input, gpu)) {
            for (int s = 0; s < STEPS; s++) {
                eagerLosses[s] = eagerStep(eager, a, data.get(s));
            }
            try (CudaGraphStep step = warmUpAndCapture(graphed, g, x, data.get(0))) {
                graphLosses[0] = Float.NaN;
                assertEquals(g.counters().get("0.step"), 1L, "the capture ran no step: Adam's host count is back at 1");
                for (int s = 1; s < STEPS; s++) {
                    feed(step, x, data.get(s));
                    step.replay();
                    graphLosses[s] = step.output().item();
                }
                assertEquals(STEPS - 1, step.replays());
            }
            for (int s = 1; s < STEPS; s++) {
                assertEquals(eagerLosses[s], graphLosses[s], 1e-6f * Math.abs(eagerLosses[s]), "loss of step " + s);
            }
            List<Tensor> pe = eager.parameters(), pg = graphed.parameters();
            for (int i = 0; i < pe.size(); i++) {
                double err = Gpu.relativeError(pg.get(i).toArray(), pe.get(i).toArray());
                assertTrue(err < 1e-6, "parameter " + i + " differs from the eager run by " + err);
            }
            // The host copies of the device counters say what the eager run's do (checkpoints stay right).
            assertEquals(a.counters(), g.counters());
            assertEquals(((Dropout) eager.get(dropoutIndex)).seeds().peek(),
                    ((Dropout) graphed.get(dropoutIndex)).seeds().peek());
            for (String name : eager.stateDict().keySet()) { // includes batch norm's running statistics
                double err = Gpu.relativeError(graphed.stateDict().get(name).toArray(),
                        eager.stateDict().get(name).toArray());
                assertTrue(err < 1e-6, name + " differs from the eager run by " + err);
            }
            // Dropout drew a fresh mask each replay: a constant seed would not have matched the eager losses above.
            assertNotEquals(eagerLosses[1], eagerLosses[2]);
        }
    }

    @Test
    void replayAllocatesNothingAndLaunchesOneGraph() {
        List<Batch> data = batches();
        try (Sequential net = onGpu(model(5)); Adam adam = new Adam(net.parameters(), 1e-3f);
             Tensor x = Tensor.zeros(input, gpu);
             CudaGraphStep step = warmUpAndCapture(net, adam, x, data.get(0))) {
            feed(step, x, data.get(1));
            backend.synchronize();
            long allocated = backend.allocator().allocatedBytes(), reserved = backend.allocator().reservedBytes();
            boolean standIn = StandIn.isLoaded();
            long mallocs = standIn ? StandIn.callCount("cudaMalloc") : 0;
            long launches = standIn ? StandIn.launchCount() : 0;
            long graphLaunches = standIn ? StandIn.graphLaunchCount() : 0;
            for (int r = 0; r < 10; r++) {
                step.replay();
            }
            assertTrue(Float.isFinite(step.output().item()));
            assertEquals(allocated, backend.allocator().allocatedBytes(), "allocated bytes during replay");
            assertEquals(reserved, backend.allocator().reservedBytes(), "reserved bytes during replay");
            if (standIn) {
                assertEquals(mallocs, StandIn.callCount("cudaMalloc"), "cudaMalloc during replay");
                assertEquals(launches, StandIn.launchCount(), "no kernel launched from the host during replay");
                assertEquals(graphLaunches + 10, StandIn.graphLaunchCount(), "one cudaGraphLaunch per replay");
            }
        }
    }

    @Test
    void aHostReadInsideTheCaptureThrowsAndLeavesTheBackendUsable() {
        List<Batch> data = batches();
        try (Sequential net = onGpu(model(9)); Adam adam = new Adam(net.parameters(), 1e-3f);
             Tensor x = Tensor.zeros(input, gpu)) {
            eagerStep(net, adam, data.get(0));
            adam.zeroGrad();
            firstCaptureDone();
            backend.synchronize();
            long allocated = backend.allocator().allocatedBytes();
            long graphs = StandIn.isLoaded() ? StandIn.liveGraphs() : 0;
            GraphCaptureException e = assertThrows(GraphCaptureException.class, () -> CudaGraphStep.capture(gpu, () -> {
                Tensor loss = net.forward(x).crossEntropy(data.get(0).y());
                loss.item();
                return loss;
            }));
            assertTrue(e.getMessage().startsWith("cannot read a device value inside CUDA graph capture: a download of 1"),
                    e.getMessage());
            assertFalse(backend.isCapturing());
            assertFalse(backend.stream().isCapturing());
            assertEquals(allocated, backend.allocator().allocatedBytes(), "what the failed capture allocated is freed");
            if (StandIn.isLoaded()) {
                assertEquals(graphs, StandIn.liveGraphs(), "the partial graph is destroyed");
            }
            assertEquals(1L, adam.counters().get("0.step"));
            // Uploads are refused the same way, and an eager step still trains afterwards.
            GraphCaptureException upload = assertThrows(GraphCaptureException.class, () -> CudaGraphStep.capture(gpu,
                    () -> Tensor.of(new float[] {1f}, Shape.of(1), gpu)));
            assertTrue(upload.getMessage().startsWith("cannot upload host data inside CUDA graph capture"));
            assertTrue(Float.isFinite(eagerStep(net, adam, data.get(1))));
            assertEquals(2L, adam.counters().get("0.step"));
        }
    }

    @Test
    void closingTheStepGivesItsPoolBack() {
        List<Batch> data = batches();
        try (Sequential net = onGpu(model(11)); Adam adam = new Adam(net.parameters(), 1e-3f);
             Tensor x = Tensor.zeros(input, gpu)) {
            eagerStep(net, adam, data.get(0));
            adam.zeroGrad();
            firstCaptureDone();
            backend.allocator().emptyCache();
            long reserved = backend.allocator().reservedBytes();
            long live = StandIn.isLoaded() ? StandIn.liveAllocations() : 0;
            CudaGraphStep step = warmUpAndCapture(net, adam, x, data.get(0));
            feed(step, x, data.get(1));
            step.replay();
            assertTrue(Float.isFinite(step.output().item()));
            assertTrue(step.poolBytes() > 0, "the capture took memory for its private pool");
            step.close();
            step.close(); // idempotent
            assertThrows(IllegalStateException.class, step::replay);
            adam.zeroGrad(); // the gradients the graph created: back to the ordinary cache
            backend.allocator().emptyCache();
            assertEquals(reserved, backend.allocator().reservedBytes());
            if (StandIn.isLoaded()) {
                assertEquals(live, StandIn.liveAllocations());
            }
        }
    }

    @Test
    void targetsThatDoNotFitTheCaptureAreRefused() {
        List<Batch> data = batches();
        try (Sequential net = onGpu(model(13)); Adam adam = new Adam(net.parameters(), 1e-3f);
             Tensor x = Tensor.zeros(input, gpu);
             CudaGraphStep step = warmUpAndCapture(net, adam, x, data.get(0))) {
            IllegalStateException unset = assertThrows(IllegalStateException.class, step::replay);
            assertTrue(unset.getMessage().contains("setTargets"), unset.getMessage());
            assertThrows(IllegalArgumentException.class, () -> step.setTargets(new int[BATCH - 1]));
            int[] outside = data.get(1).y().clone();
            outside[3] = CLASSES;
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> step.setTargets(outside));
            assertTrue(e.getMessage().contains("row 3"), e.getMessage());
            int[] ignored = data.get(1).y().clone();
            ignored[0] = -100;
            IllegalArgumentException divisor = assertThrows(IllegalArgumentException.class, () -> step.setTargets(ignored));
            assertTrue(divisor.getMessage().contains("recapture"), divisor.getMessage());
        }
    }

    @Test
    void aChangedLearningRateIsRefusedAtReplayAndCapturingWithoutWarmUpThrows() {
        List<Batch> data = batches();
        try (Sequential net = onGpu(model(17)); Adam adam = new Adam(net.parameters(), 1e-3f);
             Tensor x = Tensor.zeros(input, gpu)) {
            // No eager step yet: Adam would create its moments inside the capture, and every replay would zero them.
            IllegalStateException cold = assertThrows(IllegalStateException.class, () -> CudaGraphStep.capture(gpu, () -> {
                adam.zeroGrad();
                Tensor loss = net.forward(x).crossEntropy(data.get(0).y());
                loss.backward();
                adam.step();
                return loss;
            }));
            assertTrue(cold.getMessage().contains("run one eager step before capturing"), cold.getMessage());
            assertFalse(backend.isCapturing());
            try (CudaGraphStep step = warmUpAndCapture(net, adam, x, data.get(0))) {
                feed(step, x, data.get(1));
                step.replay();
                adam.setLr(5e-4f);
                IllegalStateException e = assertThrows(IllegalStateException.class, step::replay);
                assertTrue(e.getMessage().startsWith("the Adam learning rate changed from 0.001 to 5.0E-4"), e.getMessage());
                assertEquals(1, step.replays(), "the refused replay did not run");
                adam.setLr(1e-3f);
                step.replay();
                assertEquals(2, step.replays());
            }
        }
    }
}
