package io.jdl.cublas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.backend.HalfPrecision;
import io.jdl.bindings.cublas.cublas_v2_h;
import io.jdl.bindings.cudart.cuda_runtime_api_h;
import io.jdl.cublas.Cublas.DataType;
import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.Gpu;
import io.jdl.cuda.NativeKernels;
import io.jdl.cuda.StandIn;
import io.jdl.cuda.Stream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Half precision on the device: the conversion kernels bit for bit against {@link HalfPrecision} (itself checked
 * against PyTorch), and {@link Cublas#gemmEx} against the CPU emulation (inputs rounded to the half type, float32
 * accumulation, the output rounded once) within accumulation-order error.
 */
@Tag("gpu")
class HalfPrecisionGpuTest {
    private Stream stream;
    private CachingAllocator alloc;
    private Cublas cublas;
    private final List<DeviceMemory> buffers = new ArrayList<>();
    private final Random random = new Random(1201);

    @BeforeEach
    void open() {
        Gpu.assumeAvailable();
        stream = Stream.create();
        alloc = new CachingAllocator();
        cublas = Cublas.create(stream);
    }

    @AfterEach
    void close() {
        if (cublas != null) {
            stream.synchronize();
            buffers.forEach(DeviceMemory::close);
            cublas.close();
            assertEquals(0, alloc.allocatedBytes(), "test leaked device memory");
            alloc.close();
            stream.close();
        }
    }

    private DeviceMemory upload(MemorySegment host) {
        DeviceMemory m = alloc.allocate(Math.max(1, host.byteSize()));
        buffers.add(m);
        stream.copyToDevice(host, 0, m, 0, host.byteSize());
        stream.synchronize();
        return m;
    }

    private DeviceMemory upload(float[] x) {
        try (Arena arena = Arena.ofConfined()) {
            return upload(arena.allocateFrom(ValueLayout.JAVA_FLOAT, x));
        }
    }

    private DeviceMemory upload(short[] x) {
        try (Arena arena = Arena.ofConfined()) {
            return upload(arena.allocateFrom(ValueLayout.JAVA_SHORT, x));
        }
    }

    private DeviceMemory allocate(long bytes) {
        DeviceMemory m = alloc.allocate(bytes);
        buffers.add(m);
        stream.memset(m, 0, 0xFF, bytes); // NaN patterns, so that an element left unwritten shows
        return m;
    }

    private MemorySegment download(DeviceMemory m, long bytes, Arena arena) {
        MemorySegment host = arena.allocate(Math.max(1, bytes), 4);
        stream.copyToHost(m, 0, host, 0, bytes);
        stream.synchronize();
        return host;
    }

    // ---------------------------------------------------------------------------------------------
    // Conversion kernels

    @Test
    void conversionKernelsAgreeWithHalfPrecisionBitForBit() {
        float[] values = new float[65536 * 3 + 4000];
        for (int h = 0; h < 65536; h++) { // every half pattern's upper-half float, and the floats around its midpoints
            values[3 * h] = Float.intBitsToFloat((h << 16) | 0x8000);
            values[3 * h + 1] = Float.intBitsToFloat((h << 16) | 0x7fff);
            values[3 * h + 2] = Float.intBitsToFloat((h << 16) | 0x1000);
        }
        for (int i = 65536 * 3; i < values.length; i++) {
            values[i] = (float) (random.nextGaussian() * Math.pow(2, random.nextInt(50) - 30));
        }
        short[] every = new short[65536];
        for (int h = 0; h < every.length; h++) {
            every[h] = (short) h;
        }
        NativeKernels kernels = NativeKernels.get();
        for (HalfPrecision type : HalfPrecision.values()) {
            boolean bf16 = type == HalfPrecision.BF16;
            DeviceMemory halves = allocate(values.length * 2L);
            DeviceMemory widened = allocate(every.length * 4L);
            kernels.mixedPrecision().floatToHalf(stream, upload(values), halves, values.length, bf16);
            kernels.mixedPrecision().halfToFloat(stream, upload(every), widened, every.length, bf16);
            try (Arena arena = Arena.ofConfined()) {
                short[] h = download(halves, values.length * 2L, arena).toArray(ValueLayout.JAVA_SHORT);
                for (int i = 0; i < values.length; i++) {
                    if (h[i] != type.fromFloat(values[i])) {
                        throw new AssertionError(type + " of " + Integer.toHexString(Float.floatToRawIntBits(values[i]))
                                + ": device " + Integer.toHexString(h[i] & 0xffff) + ", HalfPrecision "
                                + Integer.toHexString(type.fromFloat(values[i]) & 0xffff));
                    }
                }
                float[] f = download(widened, every.length * 4L, arena).toArray(ValueLayout.JAVA_FLOAT);
                for (int i = 0; i < every.length; i++) {
                    assertEquals(Float.floatToRawIntBits(type.toFloat(every[i])), Float.floatToRawIntBits(f[i]),
                            type + " pattern " + Integer.toHexString(i));
                }
            }
        }
        assertThrows(IllegalArgumentException.class,
                () -> kernels.mixedPrecision().floatToHalf(stream, upload(new float[8]), allocate(15), 8, true), "15 bytes for 8 halves");
    }

    // ---------------------------------------------------------------------------------------------
    // gemmEx

    /**
     * The CPU emulation of gemmEx: half inputs (already rounded), float32 products summed in order of p, alpha and beta
     * applied in float32, the output rounded once to its type (null: float32). The stand-in computes exactly this.
     */
    private static float[] emulate(boolean ta, boolean tb, int batch, int m, int n, int k, float alpha, float[] a,
                                   float[] b, float beta, float[] c, HalfPrecision output) {
        float[] out = new float[batch * m * n];
        for (int q = 0; q < batch; q++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    float s = 0;
                    for (int p = 0; p < k; p++) {
                        s += (ta ? a[q * m * k + p * m + i] : a[q * m * k + i * k + p])
                                * (tb ? b[q * k * n + j * k + p] : b[q * k * n + p * n + j]);
                    }
                    int o = q * m * n + i * n + j;
                    float v = alpha * s + (beta == 0 ? 0 : beta * c[o]);
                    out[o] = output == null ? v : output.round(v);
                }
            }
        }
        return out;
    }

    private float[] randomRounded(int n, HalfPrecision type) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = type.round((float) random.nextGaussian());
        }
        return x;
    }

    private void checkGemmEx(DataType input, DataType output, boolean ta, boolean tb, int batch, int m, int n, int k,
                             float alpha, float beta) {
        HalfPrecision in = input == DataType.BF16 ? HalfPrecision.BF16 : HalfPrecision.F16;
        HalfPrecision out = output == DataType.F32 ? null : in;
        float[] a = randomRounded(batch * m * k, in);
        float[] b = randomRounded(batch * k * n, in);
        float[] c0 = out == null ? randomRounded(batch * m * n, in) : randomRounded(batch * m * n, out);
        DeviceMemory dc = out == null ? upload(c0) : upload(out.fromFloats(c0));
        cublas.gemmEx(ta, tb, m, n, k, alpha, input, upload(in.fromFloats(a)), (long) m * k, upload(in.fromFloats(b)),
                (long) k * n, beta, output, dc, (long) m * n, batch);
        // op(A)·op(B) of the half-rounded inputs summed in double, then alpha and beta
        float[] product = CublasGpuTest.reference(ta, tb, batch, m, n, k, a, b);
        double[] expected = new double[product.length];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = alpha * (double) product[i] + (beta == 0 ? 0 : beta * (double) c0[i]);
        }
        float[] got;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = download(dc, (long) batch * m * n * output.bytes(), arena);
            got = out == null ? host.toArray(ValueLayout.JAVA_FLOAT) : out.toFloats(host.toArray(ValueLayout.JAVA_SHORT));
        }
        String what = input + "->" + output + " ta=" + ta + " tb=" + tb + " batch=" + batch + " m=" + m + " n=" + n
                + " k=" + k + " alpha=" + alpha + " beta=" + beta;
        if (StandIn.isLoaded()) { // its order of summation is the emulation's: bit for bit
            float[] emulated = emulate(ta, tb, batch, m, n, k, alpha, a, b, beta, c0, out);
            for (int i = 0; i < emulated.length; i++) {
                assertEquals(Float.floatToRawIntBits(emulated[i]), Float.floatToRawIntBits(got[i]), what + ": C[" + i + "]");
            }
        }
        for (int i = 0; i < expected.length; i++) {
            // float32 accumulation in any order: k roundings of terms up to |alpha|·4²; a half output adds one rounding
            // (half its ulp), or a whole ulp when the accumulation error straddles a rounding boundary.
            double accumulation = (k + 2) * 0x1p-23 * Math.max(1, Math.abs(alpha) * 16 * k);
            double ulp = out == null ? 0 : Math.ulp(out.round((float) expected[i])) * (out == HalfPrecision.F16 ? 0x1p13 : 0x1p16);
            double bound = accumulation + ulp;
            assertTrue(Math.abs(got[i] - expected[i]) <= bound, what + ": C[" + i + "] = " + got[i] + ", expected "
                    + expected[i] + " within " + bound);
        }
    }

    @Test
    void gemmExMatchesTheCpuEmulationForEveryTypeTransposeAndBatch() {
        int[][] shapes = {{1, 1, 1, 1}, {1, 7, 5, 3}, {1, 33, 17, 65}, {3, 19, 23, 31}, {2, 1, 40, 9}};
        for (DataType input : new DataType[] {DataType.BF16, DataType.F16}) {
            for (DataType output : new DataType[] {input, DataType.F32}) {
                for (int[] s : shapes) {
                    for (int t = 0; t < 4; t++) {
                        checkGemmEx(input, output, (t & 1) != 0, (t & 2) != 0, s[0], s[1], s[2], s[3], 1f, 0f);
                    }
                    checkGemmEx(input, output, false, true, s[0], s[1], s[2], s[3], -0.75f, 0.5f);
                }
            }
        }
    }

    @Test
    void gemmExRefusesWhatCublasDoesNotSupport() {
        DeviceMemory big = allocate(1 << 12);
        IllegalArgumentException mixed = assertThrows(IllegalArgumentException.class, () -> cublas.gemmEx(false, false,
                4, 4, 4, 1f, DataType.BF16, big, 0, big, 0, 0f, DataType.F16, big, 0, 1));
        assertTrue(mixed.getMessage().contains("C must be BF16 or F32"), mixed.getMessage());
        IllegalArgumentException small = assertThrows(IllegalArgumentException.class, () -> cublas.gemmEx(false, false,
                8, 8, 8, 1f, DataType.F16, allocate(127), 0, big, 0, 0f, DataType.F32, big, 0, 1));
        assertTrue(small.getMessage().contains("operand A needs 128 bytes"), small.getMessage());
        assertThrows(IllegalArgumentException.class, () -> cublas.gemmEx(false, false, 2, 2, 2, 1f, null, big, 0, big,
                0, 0f, DataType.F32, big, 0, 1));
        // The library itself (here through the raw binding): A and B of different types, and a bf16 input with an
        // fp16 output, are CUBLAS_STATUS_NOT_SUPPORTED, as the cuBLAS guide's table says.
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment scalars = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 1f, 0f);
            int[][] combos = {{DataType.F16.cuda(), DataType.BF16.cuda(), DataType.F32.cuda()},
                              {DataType.BF16.cuda(), DataType.BF16.cuda(), DataType.F16.cuda()}};
            for (int[] t : combos) {
                int status = cublas_v2_h.cublasGemmEx(cublas.handle(), cublas_v2_h.CUBLAS_OP_N(), cublas_v2_h.CUBLAS_OP_N(),
                        4, 4, 4, scalars, big.pointer(), t[0], 4, big.pointer(), t[1], 4, scalars.asSlice(4),
                        big.pointer(), t[2], 4, cublas_v2_h.CUBLAS_COMPUTE_32F(), cublas_v2_h.CUBLAS_GEMM_DEFAULT());
                assertEquals(cublas_v2_h.CUBLAS_STATUS_NOT_SUPPORTED(), status, "types " + t[0] + ", " + t[1] + ", " + t[2]);
            }
        }
        assertEquals(cuda_runtime_api_h.CUDA_R_16BF(), DataType.BF16.cuda());
    }
}
