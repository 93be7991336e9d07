package io.jdl.backend.cpu;

import io.jdl.backend.Backend;
import io.jdl.backend.Device;
import io.jdl.backend.Storage;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * The pure-Java reference backend: straightforward loops, float32 storage, float64 accumulation in
 * products and sums. It is the oracle the CUDA backend is tested against, and the default without a GPU.
 */
public final class CpuBackend implements Backend {
    public static final CpuBackend INSTANCE = new CpuBackend();

    /** Rows per task when a product is split across cores. */
    private static final long PARALLEL_WORK = 1 << 16;

    private CpuBackend() {
    }

    private static float[] data(Storage s) {
        if (!(s instanceof CpuStorage cpu)) {
            throw new IllegalArgumentException("CPU backend got storage on " + s.device());
        }
        return cpu.data();
    }

    @Override
    public Device device() {
        return Device.CPU;
    }

    @Override
    public Storage allocate(long numel) {
        if (numel < 0 || numel > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("CPU tensors hold at most " + (Integer.MAX_VALUE - 8) + " elements, asked "
                    + numel);
        }
        return new CpuStorage(new float[(int) numel]);
    }

    @Override
    public Storage upload(float[] data) {
        return new CpuStorage(data.clone());
    }

    @Override
    public float[] download(Storage src, long numel) {
        return Arrays.copyOf(data(src), (int) numel);
    }

    @Override
    public void fill(Storage out, float value) {
        Arrays.fill(data(out), value);
    }

    @Override
    public void matmul(boolean transA, boolean transB, int batch, int m, int n, int k, Storage as, Storage bs, Storage cs) {
        float[] a = data(as), b = data(bs), c = data(cs);
        IntStream rows = IntStream.range(0, batch * m);
        if ((long) batch * m * n * k >= PARALLEL_WORK) {
            rows = rows.parallel();
        }
        rows.forEach(row -> {
            int bi = row / m, i = row % m;
            int aOff = bi * m * k, bOff = bi * k * n, cOff = bi * m * n;
            double[] acc = new double[n];
            for (int p = 0; p < k; p++) {
                double aip = transA ? a[aOff + p * m + i] : a[aOff + i * k + p];
                if (aip == 0) {
                    continue;
                }
                if (transB) {
                    for (int j = 0; j < n; j++) {
                        acc[j] += aip * b[bOff + j * k + p];
                    }
                } else {
                    int bRow = bOff + p * n;
                    for (int j = 0; j < n; j++) {
                        acc[j] += aip * b[bRow + j];
                    }
                }
            }
            for (int j = 0; j < n; j++) {
                c[cOff + i * n + j] = (float) acc[j];
            }
        });
    }

    @Override
    public void axpby(float alpha, Storage as, float beta, Storage bs, Storage outs, long n) {
        float[] a = data(as), b = data(bs), out = data(outs);
        for (int i = 0; i < n; i++) {
            out[i] = alpha * a[i] + beta * b[i];
        }
    }

    @Override
    public void mul(Storage as, Storage bs, Storage outs, long n) {
        float[] a = data(as), b = data(bs), out = data(outs);
        for (int i = 0; i < n; i++) {
            out[i] = a[i] * b[i];
        }
    }

    @Override
    public void addBias(Storage xs, Storage biases, Storage outs, int rows, int cols) {
        float[] x = data(xs), bias = data(biases), out = data(outs);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[r * cols + c] = x[r * cols + c] + bias[c];
            }
        }
    }

    @Override
    public void relu(Storage xs, Storage outs, long n) {
        float[] x = data(xs), out = data(outs);
        for (int i = 0; i < n; i++) {
            out[i] = Math.max(x[i], 0f);
        }
    }

    @Override
    public void sum(Storage xs, Storage outs, int outer, int dim, int inner) {
        float[] x = data(xs), out = data(outs);
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                double s = 0;
                for (int d = 0; d < dim; d++) {
                    s += x[(o * dim + d) * inner + i];
                }
                out[o * inner + i] = (float) s;
            }
        }
    }
}
