package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

import io.jdl.cuda.Cuda;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.NativeLibraries;
import io.jdl.cuda.NativeResource;
import io.jdl.cuda.Stream;
import io.jdl.cuda.VersionCheck;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A cuDNN handle bound to one {@link Stream}, and the float32 tensor operations the backends use.
 * Not thread-safe (like the handle itself): use it from one thread at a time.
 *
 * <p>The operations take descriptors (which say the shapes) and {@link DeviceMemory} (which says how
 * many bytes exist); each checks that the memory holds what the descriptor describes.
 */
public final class Cudnn extends NativeResource {
    private final MemorySegment handle;
    private final Stream stream;
    private final Arena scalars = Arena.ofShared();
    /** alpha and beta by host pointer, as cuDNN takes them. */
    private final MemorySegment alphaBeta = scalars.allocate(ValueLayout.JAVA_FLOAT, 2);

    private Cudnn(MemorySegment handle, Stream stream) {
        this.handle = handle;
        this.stream = stream;
    }

    public static Cudnn create(Stream stream) {
        ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            check(cudnnCreate(out), "cudnnCreate");
            Cudnn cudnn = new Cudnn(out.get(ValueLayout.ADDRESS, 0), stream);
            check(cudnnSetStream(cudnn.handle, stream.handle()), "cudnnSetStream");
            return cudnn;
        }
    }

    private static final class Library {
        static final long VERSION = loadAndCheck();

        private static long loadAndCheck() {
            Cuda.ensureLoaded();
            NativeLibraries.load(NativeLibraries.Library.CUDNN);
            long v = cudnnGetVersion();
            // cuDNN 9 encodes major * 10000 + minor * 100 + patch.
            VersionCheck.verify("cuDNN", (int) (v / 10000), (int) (v % 10000 / 100), (int) (v % 100),
                    CUDNN_MAJOR(), CUDNN_MINOR(), CUDNN_PATCHLEVEL());
            return v;
        }
    }

    /** Loads cuDNN and its sub-libraries (after the CUDA runtime) and checks the version. */
    public static void ensureLoaded() {
        long unused = Library.VERSION;
    }

    /** The loaded cuDNN version as it encodes it (92400 is 9.24.0). */
    public static long version() {
        return Library.VERSION;
    }

    /** The CUDA runtime version cuDNN was built against. */
    public static long cudartVersion() {
        ensureLoaded();
        return cudnnGetCudartVersion();
    }

    static void check(int status, String call) {
        if (status != CUDNN_STATUS_SUCCESS()) {
            throw new CudnnException(call, status, Cuda.cString(cudnnGetErrorString(status)));
        }
    }

    public Stream stream() {
        return stream;
    }

    MemorySegment handle() {
        checkOpen();
        return handle;
    }

    private MemorySegment scalars(float alpha, float beta) {
        alphaBeta.setAtIndex(ValueLayout.JAVA_FLOAT, 0, alpha);
        alphaBeta.setAtIndex(ValueLayout.JAVA_FLOAT, 1, beta);
        return alphaBeta;
    }

    private MemorySegment beta() {
        return alphaBeta.asSlice(Float.BYTES);
    }

    /** Sets every element of {@code y} to {@code value}. */
    public void setTensor(TensorDescriptor yDesc, DeviceMemory y, float value) {
        yDesc.checkFits(y, "y");
        MemorySegment v = scalars(value, 0f);
        check(cudnnSetTensor(handle(), yDesc.handle(), y.pointer(), v), "cudnnSetTensor");
    }

    /** C = alpha·A + beta·C, where each dimension of A equals C's or is 1 (broadcast, e.g. a bias). */
    public void addTensor(float alpha, TensorDescriptor aDesc, DeviceMemory a, float beta, TensorDescriptor cDesc,
                          DeviceMemory c) {
        aDesc.checkFits(a, "A");
        cDesc.checkFits(c, "C");
        MemorySegment s = scalars(alpha, beta);
        check(cudnnAddTensor(handle(), s, aDesc.handle(), a.pointer(), beta(), cDesc.handle(), c.pointer()),
                "cudnnAddTensor");
    }

    /** C = op(alpha1·A, alpha2·B) + beta·C, with B broadcast like {@link #addTensor}. */
    public void opTensor(OpTensorDescriptor op, float alpha1, TensorDescriptor aDesc, DeviceMemory a, float alpha2,
                         TensorDescriptor bDesc, DeviceMemory b, float beta, TensorDescriptor cDesc, DeviceMemory c) {
        aDesc.checkFits(a, "A");
        bDesc.checkFits(b, "B");
        cDesc.checkFits(c, "C");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a1 = arena.allocateFrom(ValueLayout.JAVA_FLOAT, alpha1);
            MemorySegment a2 = arena.allocateFrom(ValueLayout.JAVA_FLOAT, alpha2);
            MemorySegment be = arena.allocateFrom(ValueLayout.JAVA_FLOAT, beta);
            check(cudnnOpTensor(handle(), op.handle(), a1, aDesc.handle(), a.pointer(), a2, bDesc.handle(), b.pointer(),
                    be, cDesc.handle(), c.pointer()), "cudnnOpTensor");
        }
    }

    /** y = alpha·act(x) + beta·y. */
    public void activationForward(ActivationDescriptor act, float alpha, TensorDescriptor xDesc, DeviceMemory x,
                                  float beta, TensorDescriptor yDesc, DeviceMemory y) {
        xDesc.checkFits(x, "x");
        yDesc.checkFits(y, "y");
        MemorySegment s = scalars(alpha, beta);
        check(cudnnActivationForward(handle(), act.handle(), s, xDesc.handle(), x.pointer(), beta(), yDesc.handle(),
                y.pointer()), "cudnnActivationForward");
    }

    /** dx = alpha·act'(x)·dy + beta·dx, given the forward output y. */
    public void activationBackward(ActivationDescriptor act, float alpha, TensorDescriptor yDesc, DeviceMemory y,
                                   DeviceMemory dy, TensorDescriptor xDesc, DeviceMemory x, float beta, DeviceMemory dx) {
        yDesc.checkFits(y, "y");
        yDesc.checkFits(dy, "dy");
        xDesc.checkFits(x, "x");
        xDesc.checkFits(dx, "dx");
        MemorySegment s = scalars(alpha, beta);
        check(cudnnActivationBackward(handle(), act.handle(), s, yDesc.handle(), y.pointer(), yDesc.handle(), dy.pointer(),
                xDesc.handle(), x.pointer(), beta(), xDesc.handle(), dx.pointer()), "cudnnActivationBackward");
    }

    /**
     * C = alpha·reduce(A) + beta·C over the dimensions where C has size 1, with {@code workspace}
     * of at least {@link #reductionWorkspaceBytes} bytes.
     */
    public void reduce(ReduceDescriptor reduce, DeviceMemory workspace, float alpha, TensorDescriptor aDesc,
                       DeviceMemory a, float beta, TensorDescriptor cDesc, DeviceMemory c) {
        aDesc.checkFits(a, "A");
        cDesc.checkFits(c, "C");
        long needed = reductionWorkspaceBytes(reduce, aDesc, cDesc);
        long have = workspace == null ? 0 : workspace.bytes();
        if (have < needed) {
            throw new IllegalArgumentException("cudnnReduceTensor needs " + needed + " workspace bytes, got " + have);
        }
        MemorySegment s = scalars(alpha, beta);
        check(cudnnReduceTensor(handle(), reduce.handle(), MemorySegment.NULL, 0,
                workspace == null ? MemorySegment.NULL : workspace.pointer(), have, s, aDesc.handle(), a.pointer(),
                beta(), cDesc.handle(), c.pointer()), "cudnnReduceTensor");
    }

    public long reductionWorkspaceBytes(ReduceDescriptor reduce, TensorDescriptor aDesc, TensorDescriptor cDesc) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_LONG);
            check(cudnnGetReductionWorkspaceSize(handle(), reduce.handle(), aDesc.handle(), cDesc.handle(), out),
                    "cudnnGetReductionWorkspaceSize");
            return out.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    @Override
    protected void release() {
        try {
            check(cudnnDestroy(handle), "cudnnDestroy");
        } finally {
            scalars.close();
        }
    }

    @Override
    protected String describe() {
        return "cuDNN handle";
    }
}
