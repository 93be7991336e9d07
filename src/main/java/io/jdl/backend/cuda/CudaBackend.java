package io.jdl.backend.cuda;

import io.jdl.backend.Backend;
import io.jdl.backend.Device;
import io.jdl.backend.Storage;
import io.jdl.cublas.Cublas;
import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.CudaDevice;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cudnn.ActivationDescriptor;
import io.jdl.cudnn.Cudnn;
import io.jdl.cudnn.OpTensorDescriptor;
import io.jdl.cudnn.ReduceDescriptor;
import io.jdl.cudnn.TensorDescriptor;
import io.jdl.cuda.Stream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Tensors on one CUDA device: a stream, a caching allocator, and a cuBLAS and a cuDNN handle bound to
 * that stream. Every operation is queued on the stream; only {@link #download} waits for it.
 *
 * <p>One backend exists per device for the life of the process ({@link #get(int)}). Like the library
 * handles it wraps, it is meant for one thread at a time.
 */
public final class CudaBackend implements Backend {
    private static final ConcurrentHashMap<Integer, CudaBackend> BACKENDS = new ConcurrentHashMap<>();

    private final Device device;
    private final CudaDevice properties;
    private final Stream stream;
    private final CachingAllocator allocator;
    private final Cublas cublas;
    private final Cudnn cudnn;
    private final ActivationDescriptor reluDescriptor;
    private final OpTensorDescriptor mulDescriptor;
    private final ReduceDescriptor sumDescriptor;

    private CudaBackend(int index) {
        this.properties = CudaDevice.get(index);
        properties.makeCurrent();
        this.device = Device.cuda(index);
        this.stream = Stream.create();
        this.allocator = new CachingAllocator();
        this.cublas = Cublas.create(stream);
        this.cudnn = Cudnn.create(stream);
        this.reluDescriptor = new ActivationDescriptor(ActivationDescriptor.Mode.RELU);
        this.mulDescriptor = new OpTensorDescriptor(OpTensorDescriptor.Op.MUL);
        this.sumDescriptor = new ReduceDescriptor(ReduceDescriptor.Op.SUM);
    }

    /** The backend of CUDA device {@code index}; throws {@code CudaUnavailableException} without one. */
    public static CudaBackend get(int index) {
        CudaDevice.requireAvailable();
        return BACKENDS.computeIfAbsent(index, CudaBackend::new);
    }

    public CudaDevice properties() {
        return properties;
    }

    public CachingAllocator allocator() {
        return allocator;
    }

    public Stream stream() {
        return stream;
    }

    public Cublas cublas() {
        return cublas;
    }

    public Cudnn cudnn() {
        return cudnn;
    }

    /** Waits for all queued work. */
    public void synchronize() {
        stream.synchronize();
    }

    private DeviceMemory mem(Storage s) {
        if (!(s instanceof CudaStorage cuda) || !cuda.device().equals(device)) {
            throw new IllegalArgumentException("CUDA backend for " + device + " got storage on " + s.device());
        }
        return cuda.memory();
    }

    @Override
    public Device device() {
        return device;
    }

    @Override
    public Storage allocate(long numel) {
        return new CudaStorage(device, allocator.allocate(numel * Float.BYTES), numel);
    }

    @Override
    public Storage upload(float[] data) {
        Storage s = allocate(data.length);
        long bytes = (long) data.length * Float.BYTES;
        if (bytes > 0) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment host = arena.allocateFrom(ValueLayout.JAVA_FLOAT, data);
                stream.copyToDevice(host, 0, mem(s), 0, bytes);
                // The host copy must outlive the asynchronous transfer.
                stream.synchronize();
            }
        }
        return s;
    }

    @Override
    public float[] download(Storage src, long numel) {
        long bytes = numel * Float.BYTES;
        if (bytes == 0) {
            return new float[0];
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(bytes, Float.BYTES);
            stream.copyToHost(mem(src), 0, host, 0, bytes);
            stream.synchronize();
            return host.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    @Override
    public void fill(Storage out, float value) {
        try (TensorDescriptor d = vector(out.numel())) {
            cudnn.setTensor(d, mem(out), value);
        }
    }

    @Override
    public void matmul(boolean transA, boolean transB, int batch, int m, int n, int k, Storage a, Storage b, Storage c) {
        cublas.gemmStridedBatched(transA, transB, m, n, k, 1f, mem(a), (long) m * k, mem(b), (long) k * n, 0f, mem(c),
                (long) m * n, batch);
    }

    @Override
    public void axpby(float alpha, Storage a, float beta, Storage b, Storage out, long n) {
        cublas.geam(false, false, 1, Math.toIntExact(n), alpha, mem(a), beta, mem(b), mem(out));
    }

    @Override
    public void mul(Storage a, Storage b, Storage out, long n) {
        try (TensorDescriptor d = vector(n)) {
            cudnn.opTensor(mulDescriptor, 1f, d, mem(a), 1f, d, mem(b), 0f, d, mem(out));
        }
    }

    @Override
    public void addBias(Storage x, Storage bias, Storage out, int rows, int cols) {
        if (x != out) {
            stream.copyOnDevice(mem(x), 0, mem(out), 0, (long) rows * cols * Float.BYTES);
        }
        try (TensorDescriptor b = TensorDescriptor.of(1, cols); TensorDescriptor o = TensorDescriptor.of(rows, cols)) {
            cudnn.addTensor(1f, b, mem(bias), 1f, o, mem(out));
        }
    }

    @Override
    public void relu(Storage x, Storage out, long n) {
        try (TensorDescriptor d = vector(n)) {
            cudnn.activationForward(reluDescriptor, 1f, d, mem(x), 0f, d, mem(out));
        }
    }

    @Override
    public void sum(Storage x, Storage out, int outer, int dim, int inner) {
        try (TensorDescriptor in = TensorDescriptor.of(outer, dim, inner);
             TensorDescriptor result = TensorDescriptor.of(outer, 1, inner)) {
            long workspaceBytes = cudnn.reductionWorkspaceBytes(sumDescriptor, in, result);
            try (DeviceMemory workspace = workspaceBytes > 0 ? allocator.allocate(workspaceBytes) : null) {
                cudnn.reduce(sumDescriptor, workspace, 1f, in, mem(x), 0f, result, mem(out));
            }
        }
    }

    private static TensorDescriptor vector(long n) {
        return TensorDescriptor.of(Math.toIntExact(n));
    }

    @Override
    public String toString() {
        return "CudaBackend[" + properties + "]";
    }
}
