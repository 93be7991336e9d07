// The host stand-in's cuBLAS (libcublas.so.13): the functions jdl calls, as column-major reference code
// with the argument rules of the cuBLAS documentation (cuBLAS Library User Guide, sections "cublas<t>gemm",
// "cublas<t>gemmStridedBatched", "cublas<t>geam", "cublas<t>axpy", "cublas<t>scal", "cublasGemmEx",
// "cublasGemmStridedBatchedEx").
//
// Each call checks its arguments and every matrix/vector range against its device allocation on the
// calling thread, then queues the arithmetic on the handle's stream (host pointer mode: alpha and beta
// are read before the call returns, as the documentation allows them to live on the caller's stack).
// Arithmetic is plain FP32 with FP32 accumulation whatever the math mode (no TF32 rounding); the Ex variants read
// half-precision inputs exactly, accumulate in FP32 and round a half-precision output to nearest even.
#include <cublas_v2.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>
#include <vector>

#include "standin.h"
#include "half.h"

struct cublasContext {
    int device;
    cudaStream_t stream = nullptr;
    cublasMath_t mathMode = CUBLAS_DEFAULT_MATH;
    void* workspace = nullptr;  // cublasSetWorkspace's buffer (the stand-in computes without one), or NULL
    size_t workspaceBytes = 0;
};

namespace {

std::mutex handleMutex;
std::set<cublasContext*> liveHandles;

#define ENTER(name)                                         \
    do {                                                    \
        int injected = standin::injectedFault(name);        \
        if (injected != 0) return (cublasStatus_t)injected; \
    } while (0)

#define INVALID(...) (cublasStatus_t) standin::fail(CUBLAS_STATUS_INVALID_VALUE, __VA_ARGS__)

// A live handle used with the device it was created on ("the cuBLAS library context is tightly coupled with
// the CUDA context that is current at the time of the cublasCreate() call"), or a status with the last error set.
cublasStatus_t checkHandle(cublasHandle_t handle, const char* function) {
    {
        std::lock_guard<std::mutex> lock(handleMutex);
        if (liveHandles.count(handle) == 0)
            return (cublasStatus_t)standin::fail(CUBLAS_STATUS_NOT_INITIALIZED, "%s: handle %p is not a live cuBLAS "
                                                 "handle (destroyed, or never created)", function, (void*)handle);
    }
    if (handle->device != standin::currentDevice())
        return INVALID("%s: the handle belongs to device %d but the calling thread's current device is %d", function,
                       handle->device, standin::currentDevice());
    return CUBLAS_STATUS_SUCCESS;
}

bool validOp(cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; }

// Bytes a column-major rows x cols matrix with leading dimension ld spans (0 when empty).
size_t matrixBytes(long long rows, long long cols, long long ld, size_t elementSize = sizeof(float)) {
    return rows <= 0 || cols <= 0 ? 0 : (size_t)(ld * (cols - 1) + rows) * elementSize;
}

// Bytes `batch` matrices `stride` elements apart span.
size_t batchBytes(size_t one, long long stride, int batch, size_t elementSize = sizeof(float)) {
    return one == 0 || batch <= 0 ? 0 : one + (size_t)(std::abs(stride) * (long long)(batch - 1)) * elementSize;
}

bool overlap(const void* a, size_t aBytes, const void* b, size_t bBytes) {
    return aBytes > 0 && bBytes > 0 && (const char*)a < (const char*)b + bBytes && (const char*)b < (const char*)a + aBytes;
}

// op(X)(i, j) of a column-major matrix with leading dimension ld (real, so CUBLAS_OP_C is CUBLAS_OP_T).
inline float at(const float* x, cublasOperation_t op, long long ld, long long i, long long j) {
    return op == CUBLAS_OP_N ? x[i + j * ld] : x[j + i * ld];
}

// C = alpha * op(A) op(B) + beta * C for one matrix; C is not read when beta == 0 (BLAS rule), so NaN in
// uninitialised C does not propagate.
void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc) {
    std::vector<float> a((size_t)m * k);  // op(A), column-major m x k, contiguous
    for (long long p = 0; p < k; p++)
        for (long long i = 0; i < m; i++) a[i + p * m] = at(A, ta, lda, i, p);
    std::vector<float> acc(m);
    for (long long j = 0; j < n; j++) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (long long p = 0; p < k; p++) {
            const float b = at(B, tb, ldb, p, j);
            const float* ap = a.data() + p * m;
            for (long long i = 0; i < m; i++) acc[i] += ap[i] * b;
        }
        float* c = C + j * ldc;
        for (long long i = 0; i < m; i++) c[i] = alpha * acc[i] + (beta == 0.0f ? 0.0f : beta * c[i]);
    }
}

// The documented argument rules of cublas<t>gemm: CUBLAS_STATUS_INVALID_VALUE "if m < 0 or n < 0 or k < 0, or if
// transa, transb != CUBLAS_OP_N, CUBLAS_OP_C, CUBLAS_OP_T, or if lda < max(1, m) if transa == CUBLAS_OP_N and
// lda < max(1, k) otherwise, or if ldb < max(1, k) if transb == CUBLAS_OP_N and ldb < max(1, n) otherwise, or
// if ldc < max(1, m), or if alpha, beta == NULL".
cublasStatus_t checkGemm(const char* fn, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                         const void* alpha, int lda, int ldb, const void* beta, int ldc) {
    if (m < 0 || n < 0 || k < 0) return INVALID("%s: m %d, n %d, k %d: negative", fn, m, n, k);
    if (!validOp(ta) || !validOp(tb)) return INVALID("%s: transa %d, transb %d", fn, (int)ta, (int)tb);
    int aRows = ta == CUBLAS_OP_N ? m : k, bRows = tb == CUBLAS_OP_N ? k : n;
    if (lda < std::max(1, aRows)) return INVALID("%s: lda %d < max(1, %d) (rows of A as stored)", fn, lda, aRows);
    if (ldb < std::max(1, bRows)) return INVALID("%s: ldb %d < max(1, %d) (rows of B as stored)", fn, ldb, bRows);
    if (ldc < std::max(1, m)) return INVALID("%s: ldc %d < max(1, m = %d)", fn, ldc, m);
    if (alpha == nullptr || beta == nullptr) return INVALID("%s: alpha or beta is NULL", fn);
    return CUBLAS_STATUS_SUCCESS;
}

// Checks the three ranges (A and B only when read: k > 0 and alpha != 0) and that the output overlaps no input.
cublasStatus_t checkRanges(const char* fn, const void* A, size_t aBytes, const void* B, size_t bBytes, void* C,
                           size_t cBytes) {
    if (!standin::span(A, aBytes, fn, "A") || !standin::span(B, bBytes, fn, "B") || !standin::span(C, cBytes, fn, "C"))
        return CUBLAS_STATUS_INVALID_VALUE;
    if (overlap(C, cBytes, A, aBytes) || overlap(C, cBytes, B, bBytes))
        return INVALID("%s: C overlaps %s: the output of a GEMM must not alias its inputs", fn,
                       overlap(C, cBytes, A, aBytes) ? "A" : "B");
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t queue(cublasHandle_t handle, std::function<void()> work, const char* fn) {
    return standin::enqueue(handle->stream, std::move(work), fn) ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

}  // namespace

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
    ENTER("cublasCreate_v2");
    if (handle == nullptr) return INVALID("cublasCreate_v2: handle is NULL");
    cublasContext* h = new cublasContext{standin::currentDevice()};
    std::lock_guard<std::mutex> lock(handleMutex);
    liveHandles.insert(h);
    *handle = h;
    return CUBLAS_STATUS_SUCCESS;
}

// "the release of those resources by calling cublasDestroy() will implicitly call cudaDeviceSynchronize()"
cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
    ENTER("cublasDestroy_v2");
    {
        std::lock_guard<std::mutex> lock(handleMutex);
        if (liveHandles.erase(handle) == 0)
            return (cublasStatus_t)standin::fail(CUBLAS_STATUS_NOT_INITIALIZED, "cublasDestroy_v2: handle %p is not live",
                                                 (void*)handle);
    }
    standin::synchronizeDevice(handle->device);
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

// The version of the headers the stand-in (and jdl's bindings) were compiled from.
cublasStatus_t cublasGetProperty(libraryPropertyType type, int* value) {
    ENTER("cublasGetProperty");
    if (value == nullptr) return INVALID("cublasGetProperty: value is NULL");
    switch (type) {
        case MAJOR_VERSION: *value = CUBLAS_VER_MAJOR; return CUBLAS_STATUS_SUCCESS;
        case MINOR_VERSION: *value = CUBLAS_VER_MINOR; return CUBLAS_STATUS_SUCCESS;
        case PATCH_LEVEL: *value = CUBLAS_VER_PATCH; return CUBLAS_STATUS_SUCCESS;
        default: return INVALID("cublasGetProperty: type %d", (int)type);
    }
}

const char* cublasGetStatusName(cublasStatus_t status) {
    standin::injectedFault("cublasGetStatusName");
    switch (status) {
        case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
        case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
        case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
        default: return "<unrecognized>";
    }
}

const char* cublasGetStatusString(cublasStatus_t status) {
    standin::injectedFault("cublasGetStatusString");
    switch (status) {
        case CUBLAS_STATUS_SUCCESS: return "success";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
        case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
        case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
        case CUBLAS_STATUS_INTERNAL_ERROR: return "an internal operation failed";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
        default: return cublasGetStatusName(status);
    }
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId) {
    ENTER("cublasSetStream_v2");
    cublasStatus_t st = checkHandle(handle, "cublasSetStream_v2");
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    handle->stream = streamId;
    // "this function unconditionally resets the cuBLAS library workspace back to the default workspace pool"
    handle->workspace = nullptr;
    handle->workspaceBytes = 0;
    return CUBLAS_STATUS_SUCCESS;
}

// A user-owned device buffer for the calls that follow (what keeps a graph capture from allocating inside
// cuBLAS): it must be device memory of the handle's device, 256-byte aligned; NULL with size 0 goes back to
// the default pool. The stand-in's reference GEMM needs no workspace, so it only checks and records it.
cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void* workspace, size_t workspaceSizeInBytes) {
    ENTER("cublasSetWorkspace_v2");
    cublasStatus_t st = checkHandle(handle, "cublasSetWorkspace_v2");
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    if (workspace == nullptr && workspaceSizeInBytes != 0)
        return INVALID("cublasSetWorkspace_v2: workspace is NULL but workspaceSizeInBytes is %zu", workspaceSizeInBytes);
    if ((uintptr_t)workspace % 256 != 0)
        return INVALID("cublasSetWorkspace_v2: workspace %p is not aligned to 256 bytes", workspace);
    if (workspaceSizeInBytes != 0 &&
        standin::span(workspace, workspaceSizeInBytes, "cublasSetWorkspace_v2", "workspace") == nullptr)
        return CUBLAS_STATUS_INVALID_VALUE;
    handle->workspace = workspace;
    handle->workspaceBytes = workspaceSizeInBytes;
    return CUBLAS_STATUS_SUCCESS;
}

// Any documented mode, optionally with CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION; the stand-in records it
// and computes in plain FP32 whatever it is.
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
    ENTER("cublasSetMathMode");
    cublasStatus_t st = checkHandle(handle, "cublasSetMathMode");
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    int base = (int)mode & ~(int)CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
    if (base != CUBLAS_DEFAULT_MATH && base != CUBLAS_TENSOR_OP_MATH && base != CUBLAS_PEDANTIC_MATH &&
        base != CUBLAS_TF32_TENSOR_OP_MATH && base != CUBLAS_FP32_EMULATED_BF16X9_MATH &&
        base != CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH)
        return INVALID("cublasSetMathMode: mode %d", (int)mode);
    handle->mathMode = mode;
    return CUBLAS_STATUS_SUCCESS;
}

// The mode last set (CUBLAS_DEFAULT_MATH for a new handle), as cuBLAS reports it: jdl's tests read it to check
// that products follow io.jdl.device.Precision.
cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode) {
    ENTER("cublasGetMathMode");
    cublasStatus_t st = checkHandle(handle, "cublasGetMathMode");
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    if (mode == nullptr) return INVALID("cublasGetMathMode: mode is NULL");
    *mode = handle->mathMode;
    return CUBLAS_STATUS_SUCCESS;
}

// Strided batched GEMM: batch i uses A + i * strideA, B + i * strideB, C + i * strideC. Batches of C must
// not overlap one another (on a GPU they run concurrently). cublasSgemm_v2 is the one-batch case.
static cublasStatus_t gemmStridedBatched(const char* fn, cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k, const float* alpha,
                                         const float* A, int lda, long long strideA, const float* B, int ldb,
                                         long long strideB, const float* beta, float* C, int ldc, long long strideC,
                                         int batchCount) {
    cublasStatus_t st = checkHandle(handle, fn);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    st = checkGemm(fn, transa, transb, m, n, k, alpha, lda, ldb, beta, ldc);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    if (batchCount < 0) return INVALID("%s: batchCount %d < 0", fn, batchCount);
    if (m == 0 || n == 0 || batchCount == 0) return CUBLAS_STATUS_SUCCESS;
    const float a = *alpha, b = *beta;
    bool readsInputs = k > 0 && a != 0.0f;
    size_t oneC = matrixBytes(m, n, ldc);
    if (batchCount > 1 && (size_t)std::abs(strideC) * sizeof(float) < oneC)
        return INVALID("%s: strideC %lld makes the %d output matrices (%zu bytes each) overlap", fn, strideC,
                       batchCount, oneC);
    size_t aBytes = readsInputs ? batchBytes(matrixBytes(transa == CUBLAS_OP_N ? m : k, transa == CUBLAS_OP_N ? k : m, lda),
                                             strideA, batchCount) : 0;
    size_t bBytes = readsInputs ? batchBytes(matrixBytes(transb == CUBLAS_OP_N ? k : n, transb == CUBLAS_OP_N ? n : k, ldb),
                                             strideB, batchCount) : 0;
    st = checkRanges(fn, A, aBytes, B, bBytes, C, batchBytes(oneC, strideC, batchCount));
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    return queue(handle, [=] {
        for (int i = 0; i < batchCount; i++)
            gemm(transa, transb, m, n, readsInputs ? k : 0, a, A + i * strideA, lda, B + i * strideB, ldb, b,
                 C + i * strideC, ldc);
    }, fn);
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                              int k, const float* alpha, const float* A, int lda, const float* B, int ldb,
                              const float* beta, float* C, int ldc) {
    ENTER("cublasSgemm_v2");
    return gemmStridedBatched("cublasSgemm_v2", handle, transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C,
                              ldc, 0, 1);
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                         int m, int n, int k, const float* alpha, const float* A, int lda,
                                         long long strideA, const float* B, int ldb, long long strideB,
                                         const float* beta, float* C, int ldc, long long strideC, int batchCount) {
    ENTER("cublasSgemmStridedBatched");
    return gemmStridedBatched("cublasSgemmStridedBatched", handle, transa, transb, m, n, k, alpha, A, lda, strideA, B,
                              ldb, strideB, beta, C, ldc, strideC, batchCount);
}

// C = alpha * op(A) + beta * op(B), m x n. Documented rules: lda >= max(1, m) for CUBLAS_OP_N and >= max(1, n)
// otherwise (likewise ldb), ldc >= max(1, m). In-place is allowed only as C == A with ldc == lda and
// transa == CUBLAS_OP_N, or C == B with ldc == ldb and transb == CUBLAS_OP_N; any other overlap is undefined.
cublasStatus_t cublasSgeam(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                           const float* alpha, const float* A, int lda, const float* beta, const float* B, int ldb,
                           float* C, int ldc) {
    const char* fn = "cublasSgeam";
    ENTER(fn);
    cublasStatus_t st = checkHandle(handle, fn);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    if (m < 0 || n < 0) return INVALID("%s: m %d, n %d: negative", fn, m, n);
    if (!validOp(transa) || !validOp(transb)) return INVALID("%s: transa %d, transb %d", fn, (int)transa, (int)transb);
    int aRows = transa == CUBLAS_OP_N ? m : n, bRows = transb == CUBLAS_OP_N ? m : n;
    if (lda < std::max(1, aRows)) return INVALID("%s: lda %d < max(1, %d)", fn, lda, aRows);
    if (ldb < std::max(1, bRows)) return INVALID("%s: ldb %d < max(1, %d)", fn, ldb, bRows);
    if (ldc < std::max(1, m)) return INVALID("%s: ldc %d < max(1, m = %d)", fn, ldc, m);
    if (alpha == nullptr || beta == nullptr) return INVALID("%s: alpha or beta is NULL", fn);
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    const float a = *alpha, b = *beta;
    size_t aBytes = matrixBytes(aRows, transa == CUBLAS_OP_N ? n : m, lda);
    size_t bBytes = matrixBytes(bRows, transb == CUBLAS_OP_N ? n : m, ldb);
    size_t cBytes = matrixBytes(m, n, ldc);
    if (!standin::span(A, aBytes, fn, "A") || !standin::span(B, bBytes, fn, "B") || !standin::span(C, cBytes, fn, "C"))
        return CUBLAS_STATUS_INVALID_VALUE;
    bool inPlaceA = C == A && ldc == lda && transa == CUBLAS_OP_N;
    bool inPlaceB = C == B && ldc == ldb && transb == CUBLAS_OP_N;
    if ((overlap(C, cBytes, A, aBytes) && !inPlaceA) || (overlap(C, cBytes, B, bBytes) && !inPlaceB))
        return INVALID("%s: C overlaps %s other than in the documented in-place forms (C == A, ldc == lda, transa N; "
                       "or C == B, ldc == ldb, transb N)", fn, overlap(C, cBytes, A, aBytes) && !inPlaceA ? "A" : "B");
    return queue(handle, [=] {
        for (long long j = 0; j < n; j++)
            for (long long i = 0; i < m; i++)
                C[i + j * ldc] = a * at(A, transa, lda, i, j) + b * at(B, transb, ldb, i, j);
    }, fn);
}

// y = alpha * x + y over n elements with strides incx, incy (64-bit API). n <= 0 does nothing.
cublasStatus_t cublasSaxpy_v2_64(cublasHandle_t handle, int64_t n, const float* alpha, const float* x, int64_t incx,
                                 float* y, int64_t incy) {
    const char* fn = "cublasSaxpy_v2_64";
    ENTER(fn);
    cublasStatus_t st = checkHandle(handle, fn);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    if (alpha == nullptr) return INVALID("%s: alpha is NULL", fn);
    if (n <= 0) return CUBLAS_STATUS_SUCCESS;
    if (incy == 0) return INVALID("%s: incy 0 would write every element to one place", fn);
    const float a = *alpha;
    size_t xBytes = (size_t)(1 + (n - 1) * std::abs(incx)) * sizeof(float);
    size_t yBytes = (size_t)(1 + (n - 1) * std::abs(incy)) * sizeof(float);
    if (!standin::span(x, xBytes, fn, "x") || !standin::span(y, yBytes, fn, "y")) return CUBLAS_STATUS_INVALID_VALUE;
    return queue(handle, [=] {
        // a negative increment walks the vector from its far end (BLAS convention)
        int64_t ix = incx < 0 ? (1 - n) * incx : 0, iy = incy < 0 ? (1 - n) * incy : 0;
        for (int64_t i = 0; i < n; i++, ix += incx, iy += incy) y[iy] += a * x[ix];
    }, fn);
}

// x = alpha * x over n elements with stride incx (64-bit API). n <= 0 or incx <= 0 does nothing (BLAS).
cublasStatus_t cublasSscal_v2_64(cublasHandle_t handle, int64_t n, const float* alpha, float* x, int64_t incx) {
    const char* fn = "cublasSscal_v2_64";
    ENTER(fn);
    cublasStatus_t st = checkHandle(handle, fn);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    if (alpha == nullptr) return INVALID("%s: alpha is NULL", fn);
    if (n <= 0 || incx <= 0) return CUBLAS_STATUS_SUCCESS;
    const float a = *alpha;
    if (!standin::span(x, (size_t)(1 + (n - 1) * incx) * sizeof(float), fn, "x")) return CUBLAS_STATUS_INVALID_VALUE;
    return queue(handle, [=] {
        for (int64_t i = 0; i < n; i++) x[i * incx] *= a;
    }, fn);
}

}  // extern "C"

// ---- cublasGemmEx / cublasGemmStridedBatchedEx: half-precision operands, FP32 accumulation -----------------

namespace {

size_t elementSize(cudaDataType t) { return t == CUDA_R_32F ? 4 : 2; }

const char* typeName(cudaDataType t) {
    switch (t) {
        case CUDA_R_32F: return "CUDA_R_32F";
        case CUDA_R_16F: return "CUDA_R_16F";
        case CUDA_R_16BF: return "CUDA_R_16BF";
        default: return "a type the stand-in does not implement";
    }
}

// Half bit patterns <-> float: half.h's conversions (round to nearest even, as the GPU).
float toFloat(const void* p, cudaDataType t, size_t i) {
    if (t == CUDA_R_32F) return static_cast<const float*>(p)[i];
    uint16_t h = static_cast<const uint16_t*>(p)[i];
    return t == CUDA_R_16F ? standin::half::fromF16(h) : standin::half::fromBf16(h);
}

void store(void* p, cudaDataType t, size_t i, float v) {
    if (t == CUDA_R_32F) {
        static_cast<float*>(p)[i] = v;
        return;
    }
    static_cast<uint16_t*>(p)[i] = t == CUDA_R_16F ? standin::half::toF16(v) : standin::half::toBf16(v);
}

// The column-major matrix of `elements` (as laid out with its leading dimension) at p, as floats.
std::vector<float> widened(const void* p, cudaDataType t, size_t elements) {
    std::vector<float> out(elements);
    for (size_t i = 0; i < elements; i++) out[i] = toFloat(p, t, i);
    return out;
}

// The combinations of the cuBLAS guide's cublasGemmEx table for CUBLAS_COMPUTE_32F (scale type CUDA_R_32F, so alpha
// and beta are floats) among the real types jdl uses: A and B of one type, C of that type or CUDA_R_32F.
cublasStatus_t checkTypes(const char* fn, cudaDataType at, cudaDataType bt, cudaDataType ct,
                          cublasComputeType_t compute, cublasGemmAlgo_t algo) {
    bool known = (at == CUDA_R_32F || at == CUDA_R_16F || at == CUDA_R_16BF);
    if (compute != CUBLAS_COMPUTE_32F && compute != CUBLAS_COMPUTE_32F_PEDANTIC)
        return (cublasStatus_t)standin::fail(CUBLAS_STATUS_NOT_SUPPORTED, "%s: computeType %d: the stand-in implements "
                                             "CUBLAS_COMPUTE_32F (and _PEDANTIC) only", fn, (int)compute);
    if (!known || bt != at || (ct != at && ct != CUDA_R_32F))
        return (cublasStatus_t)standin::fail(CUBLAS_STATUS_NOT_SUPPORTED, "%s: Atype %s (%d), Btype %s (%d), Ctype %s "
                                             "(%d) is not a combination cuBLAS supports with CUBLAS_COMPUTE_32F (A and "
                                             "B of one type among CUDA_R_32F, CUDA_R_16F, CUDA_R_16BF; C of that type or "
                                             "CUDA_R_32F)", fn, typeName(at), (int)at, typeName(bt), (int)bt,
                                             typeName(ct), (int)ct);
    bool validAlgo = (algo >= CUBLAS_GEMM_DEFAULT && algo <= CUBLAS_GEMM_ALGO23) ||
                     (algo >= CUBLAS_GEMM_DEFAULT_TENSOR_OP && algo <= CUBLAS_GEMM_ALGO15_TENSOR_OP);
    if (!validAlgo)
        return (cublasStatus_t)standin::fail(CUBLAS_STATUS_NOT_SUPPORTED, "%s: algo %d is not a cublasGemmAlgo_t", fn,
                                             (int)algo);
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t gemmStridedBatchedEx(const char* fn, cublasHandle_t handle, cublasOperation_t transa,
                                    cublasOperation_t transb, int m, int n, int k, const void* alpha, const void* A,
                                    cudaDataType at, int lda, long long strideA, const void* B, cudaDataType bt,
                                    int ldb, long long strideB, const void* beta, void* C, cudaDataType ct, int ldc,
                                    long long strideC, int batchCount, cublasComputeType_t compute,
                                    cublasGemmAlgo_t algo) {
    cublasStatus_t st = checkHandle(handle, fn);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    st = checkGemm(fn, transa, transb, m, n, k, alpha, lda, ldb, beta, ldc);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    st = checkTypes(fn, at, bt, ct, compute, algo);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    if (batchCount < 0) return INVALID("%s: batchCount %d < 0", fn, batchCount);
    if (m == 0 || n == 0 || batchCount == 0) return CUBLAS_STATUS_SUCCESS;
    const float a = *static_cast<const float*>(alpha), b = *static_cast<const float*>(beta);
    bool readsInputs = k > 0 && a != 0.0f;
    size_t es = elementSize(at), cs = elementSize(ct);
    long long aRows = transa == CUBLAS_OP_N ? m : k, aCols = transa == CUBLAS_OP_N ? k : m;
    long long bRows = transb == CUBLAS_OP_N ? k : n, bCols = transb == CUBLAS_OP_N ? n : k;
    size_t oneA = matrixBytes(aRows, aCols, lda, es), oneB = matrixBytes(bRows, bCols, ldb, es);
    size_t oneC = matrixBytes(m, n, ldc, cs);
    if (batchCount > 1 && (size_t)std::abs(strideC) * cs < oneC)
        return INVALID("%s: strideC %lld makes the %d output matrices (%zu bytes each) overlap", fn, strideC,
                       batchCount, oneC);
    st = checkRanges(fn, A, readsInputs ? batchBytes(oneA, strideA, batchCount, es) : 0, B,
                     readsInputs ? batchBytes(oneB, strideB, batchCount, es) : 0, C,
                     batchBytes(oneC, strideC, batchCount, cs));
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    return queue(handle, [=] {
        // Each batch: inputs widened to float (exact), the FP32 product of cublasSgemm, the output rounded once.
        for (int i = 0; i < batchCount; i++) {
            const char* ai = static_cast<const char*>(A) + i * strideA * (long long)es;
            const char* bi = static_cast<const char*>(B) + i * strideB * (long long)es;
            char* ci = static_cast<char*>(C) + i * strideC * (long long)cs;
            std::vector<float> fa = readsInputs ? widened(ai, at, oneA / es) : std::vector<float>(1);
            std::vector<float> fb = readsInputs ? widened(bi, bt, oneB / es) : std::vector<float>(1);
            std::vector<float> fc = b != 0.0f ? widened(ci, ct, oneC / cs) : std::vector<float>(oneC / cs);
            gemm(transa, transb, m, n, readsInputs ? k : 0, a, fa.data(), lda, fb.data(), ldb, b, fc.data(), ldc);
            for (long long j = 0; j < n; j++)
                for (long long r = 0; r < m; r++) store(ci, ct, (size_t)(r + j * ldc), fc[r + j * ldc]);
        }
    }, fn);
}

}  // namespace

extern "C" {

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                            int k, const void* alpha, const void* A, cudaDataType Atype, int lda, const void* B,
                            cudaDataType Btype, int ldb, const void* beta, void* C, cudaDataType Ctype, int ldc,
                            cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
    ENTER("cublasGemmEx");
    return gemmStridedBatchedEx("cublasGemmEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda, 0, B, Btype,
                                ldb, 0, beta, C, Ctype, ldc, 0, 1, computeType, algo);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                          int m, int n, int k, const void* alpha, const void* A, cudaDataType Atype,
                                          int lda, long long strideA, const void* B, cudaDataType Btype, int ldb,
                                          long long strideB, const void* beta, void* C, cudaDataType Ctype, int ldc,
                                          long long strideC, int batchCount, cublasComputeType_t computeType,
                                          cublasGemmAlgo_t algo) {
    ENTER("cublasGemmStridedBatchedEx");
    return gemmStridedBatchedEx("cublasGemmStridedBatchedEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda,
                                strideA, B, Btype, ldb, strideB, beta, C, Ctype, ldc, strideC, batchCount, computeType,
                                algo);
}

}  // extern "C"
