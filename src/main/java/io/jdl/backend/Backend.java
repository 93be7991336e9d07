package io.jdl.backend;

/**
 * The compute kernels behind tensors, one implementation per device kind: {@code CpuBackend} (pure
 * Java, the reference) and {@code CudaBackend} (cuBLAS, cuDNN).
 *
 * <p>Callers ({@code io.jdl.tensor.Tensor}) validate shapes and devices; a backend receives storages
 * of its own kind that are open and large enough, and writes into {@code out}, which may alias an
 * input only where stated. Work may be asynchronous: only {@link #download} waits for it.
 */
public interface Backend {

    Device device();

    /** Uninitialised storage for {@code numel} floats. */
    Storage allocate(long numel);

    /** Storage holding a copy of {@code data}. */
    Storage upload(float[] data);

    /** The first {@code numel} floats of {@code src}, after all queued work on it has finished. */
    float[] download(Storage src, long numel);

    /** out[i] = value for every element. */
    void fill(Storage out, float value);

    /**
     * {@code batch} row-major products C_b = op(A_b)·op(B_b) of m×k and k×n matrices, packed one after
     * another (a batch of 1 is a plain matrix product). A is stored k×m when {@code transA}, B n×k when
     * {@code transB}.
     */
    void matmul(boolean transA, boolean transB, int batch, int m, int n, int k, Storage a, Storage b, Storage c);

    /** out = alpha·a + beta·b, elementwise over {@code n} elements (out may alias a or b). */
    void axpby(float alpha, Storage a, float beta, Storage b, Storage out, long n);

    /** out = a·b elementwise (out may alias a or b). */
    void mul(Storage a, Storage b, Storage out, long n);

    /** out[r][c] = x[r][c] + bias[c] for a rows×cols matrix. */
    void addBias(Storage x, Storage bias, Storage out, int rows, int cols);

    /** out = max(x, 0) elementwise (out may alias x). */
    void relu(Storage x, Storage out, long n);

    /** For x viewed as [outer, dim, inner]: out[o][i] = Σ_d x[o][d][i]. */
    void sum(Storage x, Storage out, int outer, int dim, int inner);
}
