package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.CUDNN_STATUS_BAD_PARAM;
import static io.jdl.bindings.cudnn.cudnn_h.CUDNN_STATUS_EXECUTION_FAILED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.Gpu;
import io.jdl.cuda.StandIn;
import io.jdl.cuda.Stream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.LongFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * jdl's cuDNN error paths under the host stand-in's fault injection: a failed call leaves no descriptor
 * behind and no plan stuck on a failed algorithm. Needs the stand-in (real cuDNN cannot be made to fail on
 * demand); tagged "gpu" so that it runs where the stand-in is loaded.
 */
@Tag("gpu")
class CudnnStandInTest {

    @BeforeEach
    void needsStandIn() {
        Gpu.assumeAvailable();
        Cudnn.ensureLoaded();
        Assumptions.assumeTrue(StandIn.isLoaded(), "fault injection needs the host stand-in");
    }

    @AfterEach
    void noInjectedFaultsLeft() {
        if (StandIn.isLoaded()) {
            for (String f : new String[] {"cudnnSetTensorNdDescriptor", "cudnnSetConvolutionMathType",
                    "cudnnGetConvolutionBackwardDataAlgorithm_v7", "cudnnConvolutionForward"}) {
                StandIn.failCall(f, 0, 0);
            }
        }
    }


    @Test
    void failedDescriptorSetupLeavesNoDescriptor() {
        long before = DeviceBuffers.liveCudnnObjects();
        StandIn.failCall("cudnnSetTensorNdDescriptor", CUDNN_STATUS_BAD_PARAM(), 1);
        CudnnException e = assertThrows(CudnnException.class, () -> TensorDescriptor.of(2, 3));
        assertTrue(e.getMessage().contains("cudnnSetTensorNdDescriptor"), e.getMessage());
        StandIn.failCall("cudnnSetConvolutionMathType", CUDNN_STATUS_BAD_PARAM(), 1);
        assertThrows(CudnnException.class, () -> new ConvolutionDescriptor(1, 1, 1, 1, 1, 1, 1, false));
        try (Stream stream = Stream.create(); Cudnn cudnn = Cudnn.create(stream)) {
            long withHandle = DeviceBuffers.liveCudnnObjects();
            StandIn.failCall("cudnnGetConvolutionBackwardDataAlgorithm_v7", CUDNN_STATUS_BAD_PARAM(), 1);
            assertThrows(CudnnException.class, () -> new ConvolutionPlan(cudnn, 1, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1,
                    5, 5, false));
            assertEquals(withHandle, DeviceBuffers.liveCudnnObjects(), "descriptors left by a plan that failed to build");
        }
        assertEquals(before, DeviceBuffers.liveCudnnObjects(), "descriptors left by failed setups");
    }

    @Test
    void aRunThatFailsLeavesThePlanUsable() {
        float[] x = new float[2 * 5 * 5], w = new float[3 * 2 * 9];
        for (int i = 0; i < x.length; i++) {
            x[i] = (i % 7) - 3;
        }
        for (int i = 0; i < w.length; i++) {
            w[i] = (i % 5) * 0.5f - 1;
        }
        try (Stream stream = Stream.create(); Cudnn cudnn = Cudnn.create(stream); CachingAllocator alloc = new CachingAllocator();
             ConvolutionPlan plan = new ConvolutionPlan(cudnn, 1, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 5, 5, false);
             DeviceMemory gx = alloc.allocate(x.length * 4L); DeviceMemory gw = alloc.allocate(w.length * 4L);
             DeviceMemory gy = alloc.allocate(3 * 25 * 4L); Arena arena = Arena.ofConfined()) {
            stream.copyToDevice(arena.allocateFrom(ValueLayout.JAVA_FLOAT, x), 0, gx, 0, x.length * 4L);
            stream.copyToDevice(arena.allocateFrom(ValueLayout.JAVA_FLOAT, w), 0, gw, 0, w.length * 4L);
            LongFunction<DeviceMemory> workspaces = alloc::allocate;
            plan.forward(cudnn, gx, gw, gy, workspaces);
            float[] expected = DeviceBuffers.floats(stream, gy, 75, arena);

            // Every candidate fails once: the run throws, naming the injected status, and nothing is left stuck.
            StandIn.failCall("cudnnConvolutionForward", CUDNN_STATUS_EXECUTION_FAILED(), 0);
            CudnnException e = assertThrows(CudnnException.class, () -> plan.forward(cudnn, gx, gw, gy, workspaces));
            assertTrue(e.getMessage().contains("CUDNN_STATUS_EXECUTION_FAILED") && e.getMessage().contains("no forward"),
                    e.getMessage());
            StandIn.failCall("cudnnConvolutionForward", 0, 0);
            try (DeviceMemory gy2 = alloc.allocate(3 * 25 * 4L)) {
                plan.forward(cudnn, gx, gw, gy2, workspaces);
                assertArrayEquals(expected, DeviceBuffers.floats(stream, gy2, 75, arena));
            }
        }
    }
}
