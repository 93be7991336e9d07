package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.Gpu;
import io.jdl.cuda.StandIn;
import io.jdl.cuda.Stream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.ToIntFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The cuDNN stand-in's documented semantics that jdl's own code does not reach (true convolution, average
 * pooling without padding, instance softmax, max reduction with indices) and rules it must refuse, through
 * the raw bindings, against values worked out by hand. Stand-in only: it pins the stand-in, not cuDNN.
 */
@Tag("gpu")
class CudnnStandInSemanticsTest {
    private Arena arena;
    private Stream stream;
    private Cudnn cudnn;
    private CachingAllocator alloc;
    private final java.util.List<DeviceMemory> blocks = new java.util.ArrayList<>();

    @BeforeEach
    void open() {
        Gpu.assumeAvailable();
        Cudnn.ensureLoaded();
        Assumptions.assumeTrue(StandIn.isLoaded(), "pins the host stand-in's cuDNN semantics");
        arena = Arena.ofConfined();
        stream = Stream.create();
        cudnn = Cudnn.create(stream);
        alloc = new CachingAllocator();
    }

    @AfterEach
    void close() {
        if (arena != null) {
            stream.synchronize();
            blocks.forEach(DeviceMemory::close);
            cudnn.close();
            alloc.close();
            stream.close();
            arena.close();
        }
    }

    /** A descriptor from a cudnnCreate* call (left to the process: a handful per test). */
    private MemorySegment create(ToIntFunction<MemorySegment> create) {
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        assertEquals(0, create.applyAsInt(out));
        return out.get(ValueLayout.ADDRESS, 0);
    }

    private MemorySegment tensor(int... dims) {
        MemorySegment d = create(io.jdl.bindings.cudnn.cudnn_h::cudnnCreateTensorDescriptor);
        int[] strides = new int[dims.length];
        for (int i = dims.length - 1, s = 1; i >= 0; s *= dims[i], i--) {
            strides[i] = s;
        }
        assertEquals(0, cudnnSetTensorNdDescriptor(d, CUDNN_DATA_FLOAT(), dims.length, ints(dims), ints(strides)));
        return d;
    }

    private MemorySegment ints(int... v) {
        return arena.allocateFrom(ValueLayout.JAVA_INT, v);
    }

    private MemorySegment f(float v) {
        return arena.allocateFrom(ValueLayout.JAVA_FLOAT, v);
    }

    private DeviceMemory device(float... values) {
        DeviceMemory m = alloc.allocate(values.length * 4L);
        blocks.add(m);
        stream.copyToDevice(arena.allocateFrom(ValueLayout.JAVA_FLOAT, values), 0, m, 0, values.length * 4L);
        return m;
    }

    private float[] host(DeviceMemory m, int n) {
        MemorySegment out = arena.allocate(n * 4L);
        stream.copyToHost(m, 0, out, 0, n * 4L);
        stream.synchronize();
        return out.toArray(ValueLayout.JAVA_FLOAT);
    }

    @Test
    void trueConvolutionAppliesTheFilterMirrored() {
        // x = [[1,2,3],[4,5,6],[7,8,9]], w = [[1,0],[0,2]]: cross-correlation 1·x[i][j] + 2·x[i+1][j+1],
        // convolution (filter mirrored) 2·x[i][j] + 1·x[i+1][j+1].
        MemorySegment xd = tensor(1, 1, 3, 3), yd = tensor(1, 1, 2, 2);
        MemorySegment wd = create(io.jdl.bindings.cudnn.cudnn_h::cudnnCreateFilterDescriptor);
        assertEquals(0, cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT(), CUDNN_TENSOR_NCHW(), 1, 1, 2, 2));
        DeviceMemory x = device(1, 2, 3, 4, 5, 6, 7, 8, 9), w = device(1, 0, 0, 2), y = device(0, 0, 0, 0);
        float[][] expected = {{11, 14, 20, 23}, {7, 10, 16, 19}};
        int[] modes = {CUDNN_CROSS_CORRELATION(), CUDNN_CONVOLUTION()};
        for (int i = 0; i < 2; i++) {
            MemorySegment conv = create(io.jdl.bindings.cudnn.cudnn_h::cudnnCreateConvolutionDescriptor);
            assertEquals(0, cudnnSetConvolution2dDescriptor(conv, 0, 0, 1, 1, 1, 1, modes[i], CUDNN_DATA_FLOAT()));
            assertEquals(0, cudnnSetConvolutionMathType(conv, CUDNN_FMA_MATH()));
            assertEquals(0, cudnnConvolutionForward(cudnn.handle(), f(1), xd, x.pointer(), wd, w.pointer(), conv,
                    CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM(), MemorySegment.NULL, 0, f(0), yd, y.pointer()));
            assertArrayEquals(expected[i], host(y, 4));
        }
    }

    @Test
    void averagePoolingCountsPaddingOnlyWhenAsked() {
        // A 2x2 image, 2x2 windows, padding 1, stride 2: each window holds one pixel and three padding cells.
        MemorySegment xd = tensor(1, 1, 2, 2), yd = tensor(1, 1, 2, 2);
        DeviceMemory x = device(1, 2, 3, 4), y = device(0, 0, 0, 0);
        int[] modes = {CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING(), CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING()};
        float[][] expected = {{0.25f, 0.5f, 0.75f, 1f}, {1, 2, 3, 4}};
        for (int i = 0; i < 2; i++) {
            MemorySegment pool = create(io.jdl.bindings.cudnn.cudnn_h::cudnnCreatePoolingDescriptor);
            assertEquals(0, cudnnSetPooling2dDescriptor(pool, modes[i], CUDNN_PROPAGATE_NAN(), 2, 2, 1, 1, 2, 2));
            assertEquals(0, cudnnPoolingForward(cudnn.handle(), pool, f(1), xd, x.pointer(), f(0), yd, y.pointer()));
            assertArrayEquals(expected[i], host(y, 4), 1e-7f);
        }
    }

    @Test
    void instanceSoftmaxNormalizesEachSampleAndLogGivesLogProbabilities() {
        // [2, 2, 1, 2]: INSTANCE mode normalizes the 4 values of each sample together.
        MemorySegment d = tensor(2, 2, 1, 2);
        float l4 = (float) Math.log(4);
        DeviceMemory x = device(0, 0, 0, 0, 1, 1, 1, 1), y = device(new float[8]);
        assertEquals(0, cudnnSoftmaxForward(cudnn.handle(), CUDNN_SOFTMAX_ACCURATE(), CUDNN_SOFTMAX_MODE_INSTANCE(), f(1),
                d, x.pointer(), f(0), d, y.pointer()));
        assertArrayEquals(new float[] {.25f, .25f, .25f, .25f, .25f, .25f, .25f, .25f}, host(y, 8), 1e-7f);
        assertEquals(0, cudnnSoftmaxForward(cudnn.handle(), CUDNN_SOFTMAX_LOG(), CUDNN_SOFTMAX_MODE_INSTANCE(), f(1),
                d, x.pointer(), f(0), d, y.pointer()));
        assertArrayEquals(new float[] {-l4, -l4, -l4, -l4, -l4, -l4, -l4, -l4}, host(y, 8), 1e-6f);
    }

    @Test
    void maxReductionReportsWhereEachMaximumWas() {
        // A [1, 1, 2, 3] reduced over its rows: column maxima and their row (flattened over the reduced dims).
        MemorySegment ad = tensor(1, 1, 2, 3), cd = tensor(1, 1, 1, 3);
        MemorySegment r = create(io.jdl.bindings.cudnn.cudnn_h::cudnnCreateReduceTensorDescriptor);
        assertEquals(0, cudnnSetReduceTensorDescriptor(r, CUDNN_REDUCE_TENSOR_MAX(), CUDNN_DATA_FLOAT(),
                CUDNN_PROPAGATE_NAN(), CUDNN_REDUCE_TENSOR_FLATTENED_INDICES(), CUDNN_32BIT_INDICES()));
        MemorySegment size = arena.allocate(ValueLayout.JAVA_LONG);
        assertEquals(0, cudnnGetReductionWorkspaceSize(cudnn.handle(), r, ad, cd, size));
        DeviceMemory a = device(1, 9, 3, 4, 2, 8), c = device(0, 0, 0), idx = device(0, 0, 0);
        try (DeviceMemory ws = alloc.allocate(size.get(ValueLayout.JAVA_LONG, 0))) {
            assertEquals(0, cudnnReduceTensor(cudnn.handle(), r, idx.pointer(), 12, ws.pointer(), ws.bytes(), f(1), ad,
                    a.pointer(), f(0), cd, c.pointer()));
            assertArrayEquals(new float[] {4, 9, 8}, host(c, 3));
            MemorySegment indices = arena.allocate(12);
            stream.copyToHost(idx, 0, indices, 0, 12);
            stream.synchronize();
            assertArrayEquals(new int[] {1, 0, 1}, indices.toArray(ValueLayout.JAVA_INT));
            // Too small a workspace is refused, naming both sizes.
            assertNotEquals(0, cudnnReduceTensor(cudnn.handle(), r, idx.pointer(), 12, ws.pointer(), 1, f(1), ad,
                    a.pointer(), f(0), cd, c.pointer()));
            String message = StandIn.takeLastError().orElse("");
            org.junit.jupiter.api.Assertions.assertTrue(message.contains("workspaceSizeInBytes 1 "), message);
        }
    }

    @Test
    void documentedMisusesAreRefused() {
        MemorySegment d = create(io.jdl.bindings.cudnn.cudnn_h::cudnnCreateTensorDescriptor);
        assertEquals(CUDNN_STATUS_NOT_SUPPORTED(), cudnnSetTensorNdDescriptor(d, CUDNN_DATA_FLOAT(), 2, ints(2, 2), ints(2, 1)));
        assertEquals(CUDNN_STATUS_BAD_PARAM(), cudnnSetTensorNdDescriptor(d, CUDNN_DATA_FLOAT(), 4, ints(1, 1, 2, 2),
                ints(4, 4, 0, 1)));
        MemorySegment pool = create(io.jdl.bindings.cudnn.cudnn_h::cudnnCreatePoolingDescriptor);
        assertEquals(CUDNN_STATUS_BAD_PARAM(), cudnnSetPooling2dDescriptor(pool, CUDNN_POOLING_MAX(), CUDNN_PROPAGATE_NAN(),
                2, 2, 2, 0, 1, 1));
        // A transform may not write over its input; identity activation is not for cudnnActivationForward.
        MemorySegment t = tensor(1, 1, 2, 2);
        DeviceMemory x = device(1, 2, 3, 4);
        assertEquals(CUDNN_STATUS_BAD_PARAM(), cudnnTransformTensor(cudnn.handle(), f(1), t, x.pointer(), f(0), t,
                x.pointer()));
        MemorySegment act = create(io.jdl.bindings.cudnn.cudnn_h::cudnnCreateActivationDescriptor);
        assertEquals(0, cudnnSetActivationDescriptor(act, CUDNN_ACTIVATION_IDENTITY(), CUDNN_PROPAGATE_NAN(), 0));
        assertEquals(CUDNN_STATUS_BAD_PARAM(), cudnnActivationForward(cudnn.handle(), act, f(1), t, x.pointer(), f(0), t,
                x.pointer()));
        // A reduction that reduces nothing.
        MemorySegment r = create(io.jdl.bindings.cudnn.cudnn_h::cudnnCreateReduceTensorDescriptor);
        assertEquals(0, cudnnSetReduceTensorDescriptor(r, CUDNN_REDUCE_TENSOR_ADD(), CUDNN_DATA_FLOAT(),
                CUDNN_PROPAGATE_NAN(), CUDNN_REDUCE_TENSOR_NO_INDICES(), CUDNN_32BIT_INDICES()));
        assertNotEquals(0, cudnnGetReductionWorkspaceSize(cudnn.handle(), r, t, t, arena.allocate(ValueLayout.JAVA_LONG)));
        StandIn.takeLastError();
    }
}
