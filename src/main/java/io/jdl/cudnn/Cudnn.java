package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

import io.jdl.cuda.Cuda;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.LibraryLoad;
import io.jdl.cuda.NativeLibraries;
import io.jdl.cuda.NativeLibraryException;
import io.jdl.cuda.NativeResource;
import io.jdl.cuda.Stream;
import io.jdl.cuda.VersionCheck;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Optional;

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
    /**
     * The constants 1 and 0 as host floats, for the alpha and beta arguments cuDNN reads during a call: never
     * written, so every handle and thread may pass them (no arena per call).
     */
    static final MemorySegment ONE = Arena.global().allocateFrom(ValueLayout.JAVA_FLOAT, 1f),
            ZERO = Arena.global().allocateFrom(ValueLayout.JAVA_FLOAT, 0f);
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

    /** cuDNN and its sub-libraries, loaded on first use after the CUDA runtime, as cuDNN encodes its version. */
    private static final LibraryLoad LIBRARY = new LibraryLoad("cuDNN", Cudnn::loadAndCheck);

    private static long loadAndCheck() {
        Cuda.ensureLoaded();
        NativeLibraries.load(NativeLibraries.Library.CUDNN);
        long v = cudnnGetVersion();
        // cuDNN 9 encodes major * 10000 + minor * 100 + patch.
        VersionCheck.verify("cuDNN", (int) (v / 10000), (int) (v % 10000 / 100), (int) (v % 100),
                CUDNN_MAJOR(), CUDNN_MINOR(), CUDNN_PATCHLEVEL());
        checkCudartMatch(cudnnGetCudartVersion(), Cuda.runtimeVersion());
        return v;
    }

    /**
     * A cuDNN built for another CUDA major version than the loaded runtime's (e.g. the nvidia-cudnn-cu12
     * wheel next to CUDA 13) loads but fails in obscure ways later: refuse it now. Both versions are
     * CUDA-encoded (1000 * major + 10 * minor).
     */
    static void checkCudartMatch(long cudnnCudart, int runtime) {
        if (cudnnCudart / 1000 != runtime / 1000) {
            throw new NativeLibraryException("cuDNN was built for CUDA " + Cuda.formatVersion((int) cudnnCudart)
                    + " but the loaded CUDA runtime is " + Cuda.formatVersion(runtime) + ": major versions differ. Install "
                    + "the cuDNN for CUDA " + runtime / 1000 + " (pip package nvidia-cudnn-cu" + runtime / 1000 + ").");
        }
    }

    /**
     * Loads cuDNN and its sub-libraries (after the CUDA runtime) and checks the version.
     *
     * @throws NativeLibraryException with the places searched, when cuDNN or the runtime is missing or unusable
     */
    public static void ensureLoaded() {
        LIBRARY.version();
    }

    /** The loaded cuDNN version as it encodes it (92400 is 9.24.0); loads it if needed. */
    public static long version() {
        return LIBRARY.version();
    }

    /** Why cuDNN cannot be used, or empty when it is loaded; never throws. */
    public static Optional<String> loadFailure() {
        return LIBRARY.failure();
    }

    /** The CUDA runtime version cuDNN was built against. */
    public static long cudartVersion() {
        ensureLoaded();
        return cudnnGetCudartVersion();
    }

    static void check(int status, String call) {
        io.jdl.cuda.NativeCounters.countCall();
        if (status != CUDNN_STATUS_SUCCESS()) {
            throw new CudnnException(call, status, statusName(status), lastError());
        }
    }

    /** The status as cuDNN names it, e.g. {@code CUDNN_STATUS_BAD_PARAM}. */
    static String statusName(int status) {
        return Cuda.cString(cudnnGetErrorString(status));
    }

    /** cuDNN's message about the last failure on this thread, or a pointer to the documentation. */
    static String lastError() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment message = arena.allocate(1024);
            cudnnGetLastErrorString(message, message.byteSize());
            String text = message.getString(0).trim();
            return text.isEmpty() ? "no further detail from cuDNN" : text;
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

    /** C = alpha·A + beta·C, where each dimension of A equals C's or is 1 (broadcast, e.g. a bias). */
    public void addTensor(float alpha, TensorDescriptor aDesc, DeviceMemory a, float beta, TensorDescriptor cDesc,
                          DeviceMemory c) {
        aDesc.checkFits(a, "A");
        cDesc.checkFits(c, "C");
        MemorySegment s = scalars(alpha, beta);
        check(cudnnAddTensor(handle(), s, aDesc.handle(), a.pointer(), beta(), cDesc.handle(), c.pointer()),
                "cudnnAddTensor");
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
     * y = alpha·x + beta·y between layouts (strided views: permutes, slices). Each operand starts
     * {@code xOffset}/{@code yOffset} bytes into its block.
     */
    public void transformTensor(float alpha, TensorDescriptor xDesc, DeviceMemory x, long xOffset, float beta,
                                TensorDescriptor yDesc, DeviceMemory y, long yOffset) {
        xDesc.checkFits(x, xOffset, "x");
        yDesc.checkFits(y, yOffset, "y");
        MemorySegment s = scalars(alpha, beta);
        check(cudnnTransformTensor(handle(), s, xDesc.handle(), x.pointer(xOffset), beta(), yDesc.handle(),
                y.pointer(yOffset)), "cudnnTransformTensor");
    }

    /** y = pool(x). */
    public void poolingForward(PoolingDescriptor pool, TensorDescriptor xDesc, DeviceMemory x, TensorDescriptor yDesc,
                               DeviceMemory y) {
        xDesc.checkFits(x, "x");
        yDesc.checkFits(y, "y");
        MemorySegment s = scalars(1f, 0f);
        check(cudnnPoolingForward(handle(), pool.handle(), s, xDesc.handle(), x.pointer(), beta(), yDesc.handle(),
                y.pointer()), "cudnnPoolingForward");
    }

    /** dx (overwritten) from x, the forward output y and dy. */
    public void poolingBackward(PoolingDescriptor pool, TensorDescriptor yDesc, DeviceMemory y, DeviceMemory dy,
                                TensorDescriptor xDesc, DeviceMemory x, DeviceMemory dx) {
        yDesc.checkFits(y, "y");
        yDesc.checkFits(dy, "dy");
        xDesc.checkFits(x, "x");
        xDesc.checkFits(dx, "dx");
        MemorySegment s = scalars(1f, 0f);
        check(cudnnPoolingBackward(handle(), pool.handle(), s, yDesc.handle(), y.pointer(), yDesc.handle(), dy.pointer(),
                xDesc.handle(), x.pointer(), beta(), xDesc.handle(), dx.pointer()), "cudnnPoolingBackward");
    }

    /**
     * Spatial batch norm with batch statistics: y, saveMean, saveInvVariance (1/√(var+ε)), and the
     * running mean/variance updated as running = (1 - factor)·running + factor·batch (unbiased variance).
     * {@code paramDesc} is [1, c, 1, 1] for every per-channel operand.
     */
    public void batchNormForwardTraining(TensorDescriptor xDesc, DeviceMemory x, DeviceMemory y,
                                         TensorDescriptor paramDesc, DeviceMemory scale, DeviceMemory bias,
                                         double factor, DeviceMemory runningMean, DeviceMemory runningVar, double eps,
                                         DeviceMemory saveMean, DeviceMemory saveInvVariance) {
        xDesc.checkFits(x, "x");
        xDesc.checkFits(y, "y");
        for (DeviceMemory m : new DeviceMemory[] {scale, bias, runningMean, runningVar, saveMean, saveInvVariance}) {
            paramDesc.checkFits(m, "batch norm parameter");
        }
        checkEpsilon(eps);
        MemorySegment s = scalars(1f, 0f);
        check(cudnnBatchNormalizationForwardTraining(handle(), CUDNN_BATCHNORM_SPATIAL(), s, beta(), xDesc.handle(),
                x.pointer(), xDesc.handle(), y.pointer(), paramDesc.handle(), scale.pointer(), bias.pointer(), factor,
                runningMean.pointer(), runningVar.pointer(), eps, saveMean.pointer(), saveInvVariance.pointer()),
                "cudnnBatchNormalizationForwardTraining");
    }

    /** Spatial batch norm with given (running) statistics. */
    public void batchNormForwardInference(TensorDescriptor xDesc, DeviceMemory x, DeviceMemory y,
                                          TensorDescriptor paramDesc, DeviceMemory scale, DeviceMemory bias,
                                          DeviceMemory mean, DeviceMemory variance, double eps) {
        xDesc.checkFits(x, "x");
        xDesc.checkFits(y, "y");
        for (DeviceMemory m : new DeviceMemory[] {scale, bias, mean, variance}) {
            paramDesc.checkFits(m, "batch norm parameter");
        }
        checkEpsilon(eps);
        MemorySegment s = scalars(1f, 0f);
        check(cudnnBatchNormalizationForwardInference(handle(), CUDNN_BATCHNORM_SPATIAL(), s, beta(), xDesc.handle(),
                x.pointer(), xDesc.handle(), y.pointer(), paramDesc.handle(), scale.pointer(), bias.pointer(),
                mean.pointer(), variance.pointer(), eps), "cudnnBatchNormalizationForwardInference");
    }

    /** dx, dScale, dBias (all overwritten) from the statistics saved by {@link #batchNormForwardTraining}. */
    public void batchNormBackward(TensorDescriptor xDesc, DeviceMemory x, DeviceMemory dy, DeviceMemory dx,
                                  TensorDescriptor paramDesc, DeviceMemory scale, DeviceMemory dScale, DeviceMemory dBias,
                                  double eps, DeviceMemory saveMean, DeviceMemory saveInvVariance) {
        xDesc.checkFits(x, "x");
        xDesc.checkFits(dy, "dy");
        xDesc.checkFits(dx, "dx");
        for (DeviceMemory m : new DeviceMemory[] {scale, dScale, dBias, saveMean, saveInvVariance}) {
            paramDesc.checkFits(m, "batch norm parameter");
        }
        checkEpsilon(eps);
        // alpha/beta for the data gradient and for the parameter gradients: 1 and 0 (overwrite).
        check(cudnnBatchNormalizationBackward(handle(), CUDNN_BATCHNORM_SPATIAL(), ONE, ZERO, ONE, ZERO,
                xDesc.handle(), x.pointer(), xDesc.handle(), dy.pointer(), xDesc.handle(), dx.pointer(),
                paramDesc.handle(), scale.pointer(), dScale.pointer(), dBias.pointer(), eps, saveMean.pointer(),
                saveInvVariance.pointer()), "cudnnBatchNormalizationBackward");
    }

    private static void checkEpsilon(double eps) {
        if (eps < CUDNN_BN_MIN_EPSILON()) {
            throw new IllegalArgumentException("cuDNN batch norm needs epsilon >= " + CUDNN_BN_MIN_EPSILON() + ", got "
                    + eps);
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
