package io.jdl.bench;

import io.jdl.backend.Storage;
import io.jdl.backend.cpu.CpuBackend;
import io.jdl.cpunative.OneDnnGemm;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The candidates for the CPU backend's matrix product, on the same float arrays: the backend itself
 * ({@code java}: its pure-Java kernel when run with {@code -Djdl.cpu.native=off}, else whatever it calls),
 * and oneDNN's {@code dnnl_sgemm} (through FFM on the heap arrays, no copy). OpenBLAS's {@code cblas_sgemm}
 * was a third candidate until oneDNN was chosen: {@code git log -S OpenBlasGemm} finds the commits that have it,
 * and results/cpu/gemm-libraries-jmh.log has its numbers.
 * Shapes {@code MxKxN:TT}: C[M, N] = op(A)·op(B) with the transposes the MLP's backward uses
 * ({@code NT}: dX = dY·Wᵀ, {@code TN}: dW = Xᵀ·dY).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class CpuGemmLibrariesBenchmark {
    @Param({"512x512x512:NN", "128x784x1024:NN", "128x1024x784:NT", "784x128x1024:TN", "128x1024x1024:NN",
            "128x1024x1024:NT", "1024x128x1024:TN"})
    public String shape;

    @Param({"java", "onednn"})
    public String impl;

    private int m, n, k;
    private boolean transA, transB;
    private float[] a, b, c;
    private Storage as, bs, cs;

    @Setup(Level.Trial)
    public void setUp() {
        String[] parts = shape.split(":");
        String[] d = parts[0].split("x");
        m = Integer.parseInt(d[0]);
        k = Integer.parseInt(d[1]);
        n = Integer.parseInt(d[2]);
        transA = parts[1].charAt(0) == 'T';
        transB = parts[1].charAt(1) == 'T';
        Random rng = new Random(0);
        a = new float[m * k];
        b = new float[k * n];
        c = new float[m * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rng.nextGaussian();
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) rng.nextGaussian();
        }
        as = CpuBackend.INSTANCE.upload(a);
        bs = CpuBackend.INSTANCE.upload(b);
        cs = CpuBackend.INSTANCE.allocate((long) m * n);
    }

    @Benchmark
    public Object gemm() {
        int lda = transA ? m : k, ldb = transB ? k : n;
        switch (impl) {
            case "java" -> CpuBackend.INSTANCE.matmul(transA, transB, 1, m, n, k, as, bs, cs);
            case "onednn" -> OneDnnGemm.sgemm(transA, transB, m, n, k, a, 0, lda, b, 0, ldb, c, 0, n);
            default -> throw new IllegalArgumentException("impl " + impl);
        }
        return impl.equals("java") ? cs : c;
    }
}
