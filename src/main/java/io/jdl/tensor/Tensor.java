package io.jdl.tensor;

import io.jdl.backend.Backend;
import io.jdl.backend.Device;
import io.jdl.backend.Storage;
import io.jdl.backend.cpu.CpuBackend;
import io.jdl.backend.cuda.CudaBackend;
import java.util.Random;

/**
 * An n-dimensional array of float32 on one device.
 *
 * <p><b>Ownership.</b> A tensor owns its memory and frees it on {@link #close()}, exactly once: use
 * it in try-with-resources or close it when done. Every operation returns a new tensor that the
 * caller owns. Using a closed tensor, or closing it twice, throws {@link IllegalStateException}.
 *
 * <p><b>Checks.</b> Each operation validates shapes and devices before any work is queued: a mismatch
 * is an {@link IllegalArgumentException} naming the shapes or devices involved.
 *
 * <p><b>Asynchrony.</b> On a GPU, operations are queued on the device's stream and return at once;
 * {@link #toArray()} and {@link #item()} wait for the result.
 */
public final class Tensor implements AutoCloseable {
    private final Shape shape;
    private final Backend backend;
    private final Storage storage;

    private Tensor(Shape shape, Backend backend, Storage storage) {
        this.shape = shape;
        this.backend = backend;
        this.storage = storage;
    }

    /** The backend that computes on {@code device}; for CUDA it throws when no usable GPU exists. */
    public static Backend backend(Device device) {
        return device.isCuda() ? CudaBackend.get(device.index()) : CpuBackend.INSTANCE;
    }

    // ---- creation ----

    /** A CPU tensor holding a copy of {@code data}. */
    public static Tensor of(float[] data, int... dims) {
        return of(data, Shape.of(dims), Device.CPU);
    }

    /** A tensor on {@code device} holding a copy of {@code data}. */
    public static Tensor of(float[] data, Shape shape, Device device) {
        if (data.length != shape.numel()) {
            throw new IllegalArgumentException("shape " + shape + " has " + shape.numel() + " elements but " + data.length
                    + " values were given");
        }
        Backend b = backend(device);
        return new Tensor(shape, b, b.upload(data));
    }

    public static Tensor full(Shape shape, float value, Device device) {
        Backend b = backend(device);
        Storage s = b.allocate(shape.numel());
        b.fill(s, value);
        return new Tensor(shape, b, s);
    }

    public static Tensor zeros(Shape shape, Device device) {
        return full(shape, 0f, device);
    }

    /** Standard normal values from {@code random}: the same seed gives the same tensor on any device. */
    public static Tensor randn(Random random, Shape shape, Device device) {
        float[] data = new float[Math.toIntExact(shape.numel())];
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) random.nextGaussian();
        }
        return of(data, shape, device);
    }

    private Tensor result(Shape s) {
        return new Tensor(s, backend, backend.allocate(s.numel()));
    }

    // ---- properties ----

    public Shape shape() {
        return shape;
    }

    public DType dtype() {
        return DType.FLOAT32;
    }

    public Device device() {
        return backend.device();
    }

    public long numel() {
        return shape.numel();
    }

    /** The storage, for backends and the layers above; throws once closed. */
    public Storage storage() {
        checkOpen();
        return storage;
    }

    public boolean isClosed() {
        return storage.isClosed();
    }

    private void checkOpen() {
        if (storage.isClosed()) {
            throw new IllegalStateException("tensor " + shape + " on " + device() + " is closed");
        }
    }

    // ---- moving data ----

    /** A copy on {@code device} (a copy even when it is already there). */
    public Tensor to(Device device) {
        return of(toArray(), shape, device);
    }

    /** The elements in row-major order, copied to the host (waits for queued work). */
    public float[] toArray() {
        checkOpen();
        return backend.download(storage, shape.numel());
    }

    /** The value of a one-element tensor. */
    public float item() {
        if (shape.numel() != 1) {
            throw new IllegalArgumentException("item() needs a tensor with one element, not shape " + shape);
        }
        return toArray()[0];
    }

    // ---- operations ----

    /** The matrix product of [m, k] and [k, n] tensors, or batched over a leading dimension: [b, m, k]·[b, k, n]. */
    public Tensor matmul(Tensor other) {
        return matmul(other, false, false);
    }

    /**
     * op(this)·op(other), where op transposes the last two dimensions when asked: this is [.., m, k]
     * ([.., k, m] when {@code transThis}), other [.., k, n] ([.., n, k] when {@code transOther}).
     */
    public Tensor matmul(Tensor other, boolean transThis, boolean transOther) {
        sameDevice("matmul", other);
        int rank = shape.rank();
        if (rank < 2 || rank > 3 || other.shape.rank() != rank) {
            throw new IllegalArgumentException("matmul takes two 2-d or two 3-d tensors, got shapes " + shape + " and "
                    + other.shape);
        }
        int batch = rank == 3 ? shape.dim(0) : 1;
        if (rank == 3 && other.shape.dim(0) != batch) {
            throw new IllegalArgumentException("matmul batch sizes differ: shapes " + shape + " and " + other.shape);
        }
        int m = transThis ? shape.dim(-1) : shape.dim(-2);
        int k = transThis ? shape.dim(-2) : shape.dim(-1);
        int k2 = transOther ? other.shape.dim(-1) : other.shape.dim(-2);
        int n = transOther ? other.shape.dim(-2) : other.shape.dim(-1);
        if (k != k2) {
            throw new IllegalArgumentException("matmul inner dimensions differ: shapes " + shape + (transThis ? "ᵀ" : "")
                    + " and " + other.shape + (transOther ? "ᵀ" : "") + " (" + k + " vs " + k2 + ")");
        }
        Tensor out = result(rank == 3 ? Shape.of(batch, m, n) : Shape.of(m, n));
        backend.matmul(transThis, transOther, batch, m, n, k, storage, other.storage, out.storage);
        return out;
    }

    public Tensor add(Tensor other) {
        return axpby("add", 1f, other, 1f);
    }

    public Tensor sub(Tensor other) {
        return axpby("sub", 1f, other, -1f);
    }

    private Tensor axpby(String op, float alpha, Tensor other, float beta) {
        sameShape(op, other);
        Tensor out = result(shape);
        backend.axpby(alpha, storage, beta, other.storage, out.storage, numel());
        return out;
    }

    /** Elementwise product. */
    public Tensor mul(Tensor other) {
        sameShape("mul", other);
        Tensor out = result(shape);
        backend.mul(storage, other.storage, out.storage, numel());
        return out;
    }

    /** Every element times {@code factor}. */
    public Tensor scale(float factor) {
        checkOpen();
        Tensor out = result(shape);
        backend.axpby(factor, storage, 0f, storage, out.storage, numel());
        return out;
    }

    /** this[.., c] + bias[c]: adds a bias of the last dimension's size to every row. */
    public Tensor addBias(Tensor bias) {
        sameDevice("addBias", bias);
        if (shape.rank() < 1 || bias.shape.rank() != 1 || bias.shape.dim(0) != shape.dim(-1)) {
            throw new IllegalArgumentException("addBias: bias of shape " + bias.shape
                    + " does not match the last dimension of shape " + shape);
        }
        int cols = shape.dim(-1);
        Tensor out = result(shape);
        backend.addBias(storage, bias.storage, out.storage, cols == 0 ? 0 : Math.toIntExact(numel() / cols), cols);
        return out;
    }

    public Tensor relu() {
        checkOpen();
        Tensor out = result(shape);
        backend.relu(storage, out.storage, numel());
        return out;
    }

    /** The sum of all elements, as a one-element tensor of shape []. */
    public Tensor sum() {
        checkOpen();
        Tensor out = result(Shape.of());
        backend.sum(storage, out.storage, 1, Math.toIntExact(numel()), 1);
        return out;
    }

    /** The mean of all elements, shape []. */
    public Tensor mean() {
        try (Tensor s = sum()) {
            return s.scale(1f / numel());
        }
    }

    /** Sums over dimension {@code axis}, which disappears from the shape. */
    public Tensor sum(int axis) {
        checkOpen();
        int a = shape.axis(axis);
        Tensor out = result(shape.without(a));
        backend.sum(storage, out.storage, shape.product(0, a), shape.dim(a), shape.product(a + 1, shape.rank()));
        return out;
    }

    /** Means over dimension {@code axis}, which disappears from the shape. */
    public Tensor mean(int axis) {
        try (Tensor s = sum(axis)) {
            return s.scale(1f / shape.dim(axis));
        }
    }

    private void sameDevice(String op, Tensor other) {
        checkOpen();
        other.checkOpen();
        if (!device().equals(other.device())) {
            throw new IllegalArgumentException(op + ": tensors on different devices: " + device() + " and "
                    + other.device() + " (shapes " + shape + " and " + other.shape + "); move one with to(device)");
        }
    }

    private void sameShape(String op, Tensor other) {
        sameDevice(op, other);
        if (!shape.equals(other.shape)) {
            throw new IllegalArgumentException(op + ": shapes " + shape + " and " + other.shape + " differ");
        }
    }

    // ---- lifetime ----

    /** Frees the memory; throws {@link IllegalStateException} when already closed. */
    @Override
    public void close() {
        if (storage.isClosed()) {
            throw new IllegalStateException("tensor " + shape + " on " + device() + " was already closed");
        }
        storage.close();
    }

    @Override
    public String toString() {
        return "Tensor" + shape + " " + dtype() + " on " + device() + (isClosed() ? " (closed)" : "");
    }
}
