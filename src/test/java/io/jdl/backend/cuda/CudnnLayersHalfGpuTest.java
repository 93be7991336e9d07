package io.jdl.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.ConvShape;
import io.jdl.backend.HalfPrecision;
import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.Gpu;
import io.jdl.cuda.StandIn;
import io.jdl.cuda.Stream;
import io.jdl.cudnn.Cudnn;
import io.jdl.cudnn.CudnnDataType;
import io.jdl.cudnn.FlashAttention;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Tag;

/**
 * The internal half-precision entry points of {@link CudnnLayers}, ready for when tensors carry a dtype: a bfloat16
 * convolution agrees with the float32 one on the same values (up to the bfloat16 rounding of its output), an
 * empty batch zeroes a 16-bit gradient, and fused attention runs where cuDNN has an engine and answers false (the
 * caller falls back) where it has none, asking cuDNN only once per configuration.
 */
@Tag("gpu")
class CudnnLayersHalfGpuTest {

    private static DeviceMemory upload(Stream s, CachingAllocator a, Arena arena, short[] h) {
        DeviceMemory m = a.allocate(h.length * 2L);
        s.copyToDevice(arena.allocateFrom(ValueLayout.JAVA_SHORT, h), 0, m, 0, h.length * 2L);
        return m;
    }

    private static DeviceMemory upload(Stream s, CachingAllocator a, Arena arena, float[] f) {
        DeviceMemory m = a.allocate(f.length * 4L);
        s.copyToDevice(arena.allocateFrom(ValueLayout.JAVA_FLOAT, f), 0, m, 0, f.length * 4L);
        return m;
    }

    @Test
    void bf16ConvolutionMatchesTheFloatOneRoundedAndEmptyBatchesZero() {
        Gpu.assumeAvailable();
        ConvShape s = new ConvShape(2, 4, 6, 5, 6, 3, 3, 1, 1, 2, 1, 1, 1, 2);
        int xn = 2 * 4 * 6 * 5, wn = 6 * 2 * 3 * 3, yn = 2 * 6 * s.outH() * s.outW();
        HalfPrecision bf16 = HalfPrecision.BF16;
        Random random = new Random(5);
        short[] xh = new short[xn], wh = new short[wn];
        float[] xf = new float[xn], wf = new float[wn];
        for (int i = 0; i < xn; i++) {
            xh[i] = bf16.fromFloat(random.nextFloat() - 0.5f);
            xf[i] = bf16.toFloat(xh[i]);
        }
        for (int i = 0; i < wn; i++) {
            wh[i] = bf16.fromFloat(random.nextFloat() - 0.5f);
            wf[i] = bf16.toFloat(wh[i]);
        }
        try (Stream stream = Stream.create(); Cudnn cudnn = Cudnn.create(stream); CachingAllocator alloc = new CachingAllocator();
             Arena arena = Arena.ofConfined()) {
            CudnnLayers layers = new CudnnLayers(cudnn, alloc, () -> false, new DescriptorCache(), new CudaElementwise(stream, storage -> ((CudaStorage) storage).memory()));
            try (DeviceMemory x = upload(stream, alloc, arena, xh); DeviceMemory w = upload(stream, alloc, arena, wh);
                 DeviceMemory xF = upload(stream, alloc, arena, xf); DeviceMemory wF = upload(stream, alloc, arena, wf);
                 DeviceMemory y = alloc.allocate(yn * 2L); DeviceMemory yF = alloc.allocate(yn * 4L)) {
                layers.conv2d(s, CudnnDataType.BFLOAT16, x, w, y);
                layers.conv2d(s, CudnnDataType.FLOAT, xF, wF, yF);
                MemorySegment half = arena.allocate(yn * 2L), full = arena.allocate(yn * 4L);
                stream.copyToHost(y, 0, half, 0, yn * 2L);
                stream.copyToHost(yF, 0, full, 0, yn * 4L);
                stream.synchronize();
                for (int i = 0; i < yn; i++) {
                    float want = full.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                    float got = bf16.toFloat(half.getAtIndex(ValueLayout.JAVA_SHORT, i));
                    // the float32 result rounded to bfloat16, give or take one ulp of reordered float sums
                    assertEquals(want, got, Math.abs(want) * 0x1p-7 + 1e-6, "output " + i);
                }
            }
            // An empty batch: the weight gradient is zero, written as 16-bit zeros without a plan.
            try (DeviceMemory dw = upload(stream, alloc, arena, new short[] {1, 2, 3, 4, 5, 6, 7, 8})) {
                ConvShape tiny = new ConvShape(0, 2, 3, 3, 2, 2, 1, 0, 0, 1, 1, 1, 1, 1);
                layers.conv2dBackwardFilter(tiny, CudnnDataType.HALF, dw, dw, dw);
                MemorySegment out = arena.allocate(16);
                stream.copyToHost(dw, 0, out, 0, 16);
                stream.synchronize();
                assertArrayEquals(new short[8], out.toArray(ValueLayout.JAVA_SHORT));
            }
        }
    }

    @Test
    void flashAttentionRunsOrDeclinesOncePerConfiguration() {
        Gpu.assumeAvailable();
        FlashAttention.Config bf16 = FlashAttention.Config.of(CudnnDataType.BFLOAT16, 1, 2, 8, 8, true);
        FlashAttention.Config fp32 = FlashAttention.Config.of(CudnnDataType.FLOAT, 1, 2, 8, 8, true);
        try (Stream stream = Stream.create(); Cudnn cudnn = Cudnn.create(stream); CachingAllocator alloc = new CachingAllocator()) {
            CudnnLayers layers = new CudnnLayers(cudnn, alloc, () -> false, new DescriptorCache(), new CudaElementwise(stream, storage -> ((CudaStorage) storage).memory()));
            try (DeviceMemory io = alloc.allocate(128 * 4L); DeviceMemory stats = alloc.allocate(16 * 4L)) {
                stream.memset(io, 0, 0, 128 * 4L);
                FlashAttention.Operand op = FlashAttention.Operand.of(io);
                assertTrue(layers.flashAttentionForward(bf16, false, op, op, op, op, stats, null, null));
                assertFalse(layers.flashAttentionForward(fp32, false, op, op, op, op, stats, null, null));
                long heuristics = StandIn.isLoaded() ? StandIn.callCount("cudnnBackendFinalize") : 0;
                assertTrue(layers.flashAttentionForward(bf16, false, op, op, op, op, stats, null, null));
                assertFalse(layers.flashAttentionForward(fp32, false, op, op, op, op, stats, null, null));
                if (StandIn.isLoaded()) {
                    // Only the per-run variant packs are finalized now: no graph is built again.
                    assertEquals(heuristics + 1, StandIn.callCount("cudnnBackendFinalize"));
                }
                stream.synchronize();
            }
        }
    }
}
