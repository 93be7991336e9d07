package io.jdl.cublas;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.Gpu;
import io.jdl.cuda.Stream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Row-major GEMMs through cuBLAS against a float64 reference on the host. */
@Tag("gpu")
class CublasGpuTest {
    private Stream stream;
    private CachingAllocator alloc;
    private Cublas cublas;
    private final Random random = new Random(42);

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
            cublas.close();
            assertTrue(alloc.allocatedBytes() == 0, "test leaked device memory");
            alloc.close();
            stream.close();
        }
    }

    private float[] random(int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return x;
    }

    private DeviceMemory upload(float[] x) {
        DeviceMemory m = alloc.allocate(x.length * 4L);
        try (Arena arena = Arena.ofConfined()) {
            stream.copyToDevice(arena.allocateFrom(ValueLayout.JAVA_FLOAT, x), 0, m, 0, x.length * 4L);
            stream.synchronize();
        }
        return m;
    }

    private float[] download(DeviceMemory m, int n) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(n * 4L);
            stream.copyToHost(m, 0, host, 0, n * 4L);
            stream.synchronize();
            return host.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    /** Reference row-major op(A)·op(B) for each batch, in float64. */
    static float[] reference(boolean ta, boolean tb, int batch, int m, int n, int k, float[] a, float[] b) {
        float[] c = new float[batch * m * n];
        for (int q = 0; q < batch; q++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) {
                        double x = ta ? a[q * m * k + p * m + i] : a[q * m * k + i * k + p];
                        double y = tb ? b[q * k * n + j * k + p] : b[q * k * n + p * n + j];
                        s += x * y;
                    }
                    c[q * m * n + i * n + j] = (float) s;
                }
            }
        }
        return c;
    }

    private double gemmError(boolean ta, boolean tb, int batch, int m, int n, int k) {
        float[] a = random(batch * m * k), b = random(batch * k * n);
        try (DeviceMemory da = upload(a); DeviceMemory db = upload(b); DeviceMemory dc = alloc.allocate(batch * m * n * 4L)) {
            cublas.gemmStridedBatched(ta, tb, m, n, k, 1f, da, (long) m * k, db, (long) k * n, 0f, dc, (long) m * n, batch);
            return Gpu.relativeError(download(dc, batch * m * n), reference(ta, tb, batch, m, n, k, a, b));
        }
    }

    /** The workspace CUDA graph capture gives cuBLAS: GEMMs are still right with it. */
    @Test
    void gemmsAreRightWithAUserWorkspace() {
        try (DeviceMemory workspace = alloc.allocate(Cublas.recommendedWorkspaceBytes(9))) {
            cublas.setWorkspace(workspace);
            assertTrue(gemmError(false, true, 2, 33, 17, 65) < 1e-5);
            stream.synchronize();
        }
        assertTrue(Cublas.recommendedWorkspaceBytes(8) == 4L << 20 && Cublas.recommendedWorkspaceBytes(10) == 32L << 20);
    }

    @Test
    void gemmMatchesTheReferenceForEveryTransposeInFp32() {
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                double err = gemmError(ta, tb, 1, 67, 45, 129);
                assertTrue(err < 1e-5, "transA=" + ta + " transB=" + tb + " relative error " + err);
            }
        }
    }

    @Test
    void stridedBatchedGemmMatchesInFp32() {
        double err = gemmError(false, true, 7, 33, 65, 31);
        assertTrue(err < 1e-5, "relative error " + err);
    }

    @Test
    void tf32IsCloseButLooser() {
        cublas.setTf32(true);
        double err = gemmError(false, false, 1, 256, 256, 256);
        assertTrue(err < 1e-3, "TF32 relative error " + err);
        cublas.setTf32(false);
    }

    @Test
    void geamAndAxpyMatch() {
        float[] a = random(6), b = random(6);
        try (DeviceMemory da = upload(a); DeviceMemory db = upload(b); DeviceMemory dc = alloc.allocate(24)) {
            cublas.geam(true, false, 2, 3, 2f, da, -1f, db, dc); // A stored 3x2, transposed
            float[] c = download(dc, 6);
            for (int i = 0; i < 2; i++) {
                for (int j = 0; j < 3; j++) {
                    float expected = 2 * a[j * 2 + i] - b[i * 3 + j];
                    assertTrue(Math.abs(c[i * 3 + j] - expected) < 1e-5);
                }
            }
            cublas.axpy(6, 0.5f, da, db);
            float[] y = download(db, 6);
            for (int i = 0; i < 6; i++) {
                assertTrue(Math.abs(y[i] - (b[i] + 0.5f * a[i])) < 1e-5);
            }
        }
    }

    @Test
    void tooSmallOperandsAreRejectedBeforeTheCall() {
        try (DeviceMemory small = alloc.allocate(16)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> cublas.gemm(false, false, 4, 4, 4, 1f, small, small, 0f, small));
            assertTrue(e.getMessage().contains("needs 64 bytes"), e.getMessage());
        }
    }
}
