// libcudnn.so.9 stand-in, part 1: versions, status strings, the handle, and the descriptor calls.
// Descriptor setters validate what NVIDIA's cuDNN API reference says they validate; the operations
// (cudnn_tensor.cpp, cudnn_pool_norm.cpp, cudnn_conv.cpp) check everything else at call time.
#include <cuda_runtime_api.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>

#include "cudnn_internal.h"

namespace standin::dnn {

namespace {
std::mutex registryLock;
std::unordered_map<const void*, Kind>& registry() {
    static auto* live = new std::unordered_map<const void*, Kind>();  // never destroyed: used at exit
    return *live;
}
}  // namespace

const char* kindName(Kind kind) {
    switch (kind) {
        case Kind::Handle: return "cuDNN handle";
        case Kind::Tensor: return "tensor descriptor";
        case Kind::Filter: return "filter descriptor";
        case Kind::Convolution: return "convolution descriptor";
        case Kind::Pooling: return "pooling descriptor";
        case Kind::Activation: return "activation descriptor";
        case Kind::OpTensor: return "op-tensor descriptor";
        case Kind::Reduce: return "reduce-tensor descriptor";
        case Kind::Backend: return "backend descriptor";
    }
    return "object";
}

void track(const void* object, Kind kind) {
    std::lock_guard<std::mutex> guard(registryLock);
    registry()[object] = kind;
}

bool untrack(const void* object, Kind kind) {
    std::lock_guard<std::mutex> guard(registryLock);
    auto it = registry().find(object);
    if (it == registry().end() || it->second != kind) {
        return false;
    }
    registry().erase(it);
    return true;
}

bool isLive(const void* object, Kind kind) {
    std::lock_guard<std::mutex> guard(registryLock);
    auto it = registry().find(object);
    return it != registry().end() && it->second == kind;
}

Status floatTensor(const Tensor* t, const char* fn, const char* arg) {
    DNN_TRY(object(t, fn, arg));
    if (t->type != CUDNN_DATA_FLOAT) {
        return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE,
                        "%s: %s has data type %d; the stand-in computes CUDNN_DATA_FLOAT only", fn, arg, t->type);
    }
    return CUDNN_STATUS_SUCCESS;
}

Status scalar(const void* p, const char* fn, const char* arg, float& out) {
    if (p == nullptr) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "%s: %s is NULL (a host pointer to a float)", fn, arg);
    }
    std::memcpy(&out, p, sizeof out);
    return CUDNN_STATUS_SUCCESS;
}

Status deviceRange(const void* p, size_t size, const char* fn, const char* arg, float*& out) {
    if (p == nullptr && size > 0) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "%s: %s is NULL", fn, arg);
    }
    void* host = standin::span(p, size, fn, arg);
    if (host == nullptr && size > 0) {
        // span() has set the message (which argument, how far past its allocation).
        return CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND;
    }
    out = static_cast<float*>(host);
    return CUDNN_STATUS_SUCCESS;
}

Status tensorData(const void* p, const Tensor& t, const char* fn, const char* arg, float*& out) {
    return deviceRange(p, bytes(t), fn, arg, out);
}

long long elements(const Tensor& t) {
    long long n = 1;
    for (int d = 0; d < t.rank; d++) {
        n *= t.dims[d];
    }
    return n;
}

size_t bytes(const Tensor& t) {
    return standin::stridedBytes(t.rank, t.dims, t.strides, elementSize(t.type));
}

bool sameDims(const Tensor& a, const Tensor& b) {
    if (a.rank != b.rank) {
        return false;
    }
    for (int d = 0; d < a.rank; d++) {
        if (a.dims[d] != b.dims[d]) {
            return false;
        }
    }
    return true;
}

bool sameStrides(const Tensor& a, const Tensor& b) {
    if (a.rank != b.rank) {
        return false;
    }
    for (int d = 0; d < a.rank; d++) {
        if (a.dims[d] > 1 && a.strides[d] != b.strides[d]) {
            return false;
        }
    }
    return true;
}

std::string describe(const Tensor& t) {
    std::string dims = "[", strides = " strides [";
    for (int d = 0; d < t.rank; d++) {
        if (d > 0) {
            dims.append(", ");
            strides.append(", ");
        }
        dims.append(std::to_string(t.dims[d]));
        strides.append(std::to_string(t.strides[d]));
    }
    return dims + "]" + strides + "]";
}

bool overlap(const void* a, size_t aBytes, const void* b, size_t bBytes) {
    auto x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
    return aBytes > 0 && bBytes > 0 && x < y + bBytes && y < x + aBytes;
}

Status launch(const cudnnContext* handle, std::function<void()> work, const char* fn) {
    if (!standin::enqueue(handle->stream, std::move(work), fn)) {
        // enqueue() has set the message (a destroyed or unknown stream, set with cudnnSetStream).
        return CUDNN_STATUS_EXECUTION_FAILED_CUDART;
    }
    return CUDNN_STATUS_SUCCESS;
}

namespace {

bool validDataType(cudnnDataType_t t) {
    switch (t) {
        case CUDNN_DATA_FLOAT: case CUDNN_DATA_DOUBLE: case CUDNN_DATA_HALF: case CUDNN_DATA_INT8:
        case CUDNN_DATA_INT32: case CUDNN_DATA_UINT8: case CUDNN_DATA_BFLOAT16: case CUDNN_DATA_INT64:
        case CUDNN_DATA_BOOLEAN: case CUDNN_DATA_FP8_E4M3: case CUDNN_DATA_FP8_E5M2:
            return true;
        default:
            return false;
    }
}

bool validNan(cudnnNanPropagation_t n) {
    return n == CUDNN_NOT_PROPAGATE_NAN || n == CUDNN_PROPAGATE_NAN;
}

template <class T>
Status create(T** out, const char* fn) {
    if (out == nullptr) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "%s: the output pointer is NULL", fn);
    }
    T* object = new (std::nothrow) T();
    if (object == nullptr) {
        return DNN_FAIL(CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED, "%s: out of host memory", fn);
    }
    track(object, KindOf<T>::value);
    *out = object;
    return CUDNN_STATUS_SUCCESS;
}

template <class T>
Status destroy(T* object, const char* fn) {
    if (object == nullptr) {
        return CUDNN_STATUS_SUCCESS;  // destroying NULL is a no-op, as in cuDNN
    }
    if (!untrack(object, KindOf<T>::value)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: %p is not a live %s (destroyed twice, or never created)", fn,
                        static_cast<const void*>(object), kindName(KindOf<T>::value));
    }
    delete object;
    return CUDNN_STATUS_SUCCESS;
}

}  // namespace
}  // namespace standin::dnn

using namespace standin::dnn;

extern "C" {

// For jdl's tests (found through FFM, like the exports in standin.h): cuDNN handles and descriptors created
// and not yet destroyed, so a test can show that an error path leaks none.
long long standinCudnnLiveObjects(void) {
    std::lock_guard<std::mutex> guard(registryLock);
    return static_cast<long long>(registry().size());
}

// The version jdl's bindings were generated from (cudnn_version.h of the headers this file compiles
// against), so the stand-in reports itself plainly as that cuDNN.
size_t cudnnGetVersion(void) {
    return CUDNN_VERSION;
}

// The CUDA runtime this cuDNN was built for: the stand-in runtime's (cuda_runtime_api.h).
size_t cudnnGetCudartVersion(void) {
    return CUDART_VERSION;
}

const char* cudnnGetErrorString(cudnnStatus_t status) {
    switch (status) {
#define NAME(s) case s: return #s;
        NAME(CUDNN_STATUS_SUCCESS)
        NAME(CUDNN_STATUS_NOT_INITIALIZED)
        NAME(CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH)
        NAME(CUDNN_STATUS_SERIALIZATION_VERSION_MISMATCH)
        NAME(CUDNN_STATUS_DEPRECATED)
        NAME(CUDNN_STATUS_LICENSE_ERROR)
        NAME(CUDNN_STATUS_RUNTIME_IN_PROGRESS)
        NAME(CUDNN_STATUS_RUNTIME_FP_OVERFLOW)
        NAME(CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED)
        NAME(CUDNN_STATUS_BAD_PARAM)
        NAME(CUDNN_STATUS_BAD_PARAM_NULL_POINTER)
        NAME(CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER)
        NAME(CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED)
        NAME(CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND)
        NAME(CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT)
        NAME(CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH)
        NAME(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH)
        NAME(CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES)
        NAME(CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE)
        NAME(CUDNN_STATUS_BAD_PARAM_CUDA_GRAPH_MISMATCH)
        NAME(CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE)
        NAME(CUDNN_STATUS_NOT_SUPPORTED)
        NAME(CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN)
        NAME(CUDNN_STATUS_NOT_SUPPORTED_SHAPE)
        NAME(CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE)
        NAME(CUDNN_STATUS_NOT_SUPPORTED_LAYOUT)
        NAME(CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER)
        NAME(CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART)
        NAME(CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH)
        NAME(CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING)
        NAME(CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE)
        NAME(CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT)
        NAME(CUDNN_STATUS_NOT_SUPPORTED_PADDING)
        NAME(CUDNN_STATUS_NOT_SUPPORTED_BAD_LAUNCH_PARAM)
        NAME(CUDNN_STATUS_NOT_SUPPORTED_CUDA_GRAPH_NATIVE_API)
        NAME(CUDNN_STATUS_INTERNAL_ERROR)
        NAME(CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED)
        NAME(CUDNN_STATUS_INTERNAL_ERROR_UNEXPECTED_VALUE)
        NAME(CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED)
        NAME(CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED)
        NAME(CUDNN_STATUS_INTERNAL_ERROR_BAD_LAUNCH_PARAM)
        NAME(CUDNN_STATUS_INTERNAL_ERROR_TEXTURE_CREATION_FAILED)
        NAME(CUDNN_STATUS_EXECUTION_FAILED)
        NAME(CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER)
        NAME(CUDNN_STATUS_EXECUTION_FAILED_CUBLAS)
        NAME(CUDNN_STATUS_EXECUTION_FAILED_CUDART)
        NAME(CUDNN_STATUS_EXECUTION_FAILED_CURAND)
#undef NAME
        default: return "CUDNN_UNKNOWN_STATUS_FOUND";
    }
}

// cuDNN's account of the last failure: the stand-in's last message (shared with the runtime and
// cuBLAS stand-ins, per host thread), truncated to max_size including the terminating NUL. Reading it
// consumes it, so an old message is never reported again with a later, unrelated failure.
void cudnnGetLastErrorString(char* message, size_t max_size) {
    if (message == nullptr || max_size == 0) {
        return;
    }
    const char* last = standinLastError();
    std::snprintf(message, max_size, "%s", last == nullptr ? "" : last);
    standinClearLastError();
}

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) {
    DNN_ENTRY("cudnnCreate");
    DNN_TRY(create(handle, fn));
    (*handle)->device = standin::currentDevice();
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) {
    DNN_ENTRY("cudnnDestroy");
    if (handle == nullptr) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "%s: handle is NULL", fn);
    }
    if (isLive(handle, Kind::Handle)) {
        // "the release of those resources by calling cudnnDestroy() will implicitly call
        // cudaDeviceSynchronize()"
        standin::synchronizeDevice(handle->device);
    }
    return destroy(handle, fn);
}

// "Sets the user's CUDA stream in the cuDNN handle"; every later call on the handle runs on it. The
// stream itself is checked when work is enqueued (a destroyed stream fails that call).
cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream) {
    DNN_ENTRY("cudnnSetStream");
    DNN_TRY(object(handle, fn, "handle"));
    handle->stream = stream;
    return CUDNN_STATUS_SUCCESS;
}

#define CREATE_DESTROY(Name, Struct)                                                   \
    cudnnStatus_t cudnnCreate##Name##Descriptor(Struct** desc) {                       \
        DNN_ENTRY("cudnnCreate" #Name "Descriptor");                                   \
        return create(desc, fn);                                                       \
    }                                                                                  \
    cudnnStatus_t cudnnDestroy##Name##Descriptor(Struct* desc) {                       \
        DNN_ENTRY("cudnnDestroy" #Name "Descriptor");                                  \
        return destroy(desc, fn);                                                      \
    }
CREATE_DESTROY(Tensor, cudnnTensorStruct)
CREATE_DESTROY(Filter, cudnnFilterStruct)
CREATE_DESTROY(Convolution, cudnnConvolutionStruct)
CREATE_DESTROY(Pooling, cudnnPoolingStruct)
CREATE_DESTROY(Activation, cudnnActivationStruct)
CREATE_DESTROY(OpTensor, cudnnOpTensorStruct)
CREATE_DESTROY(ReduceTensor, cudnnReduceTensorStruct)
#undef CREATE_DESTROY

// API reference: dimA entries must be positive (BAD_PARAM); nbDims "outside the range
// [4, CUDNN_DIM_MAX]" or more than 2 Giga-elements is NOT_SUPPORTED, with the note that 3 dimensions
// are accepted for historical reasons ("Do not use 2 dimensions"). Strides must be positive: the
// legacy API has no broadcasting (stride 0) or reversed (negative) layouts.
cudnnStatus_t cudnnSetTensorNdDescriptor(cudnnTensorDescriptor_t desc, cudnnDataType_t dataType, int nbDims,
                                         const int dimA[], const int strideA[]) {
    DNN_ENTRY("cudnnSetTensorNdDescriptor");
    DNN_TRY(object(desc, fn, "tensorDesc", false));
    if (!validDataType(dataType)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: dataType %d is not a cudnnDataType_t", fn, dataType);
    }
    if (nbDims < 3 || nbDims > CUDNN_DIM_MAX) {
        return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED, "%s: nbDims %d is outside [3, %d]", fn, nbDims, CUDNN_DIM_MAX);
    }
    if (dimA == nullptr || strideA == nullptr) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "%s: %s is NULL", fn, dimA == nullptr ? "dimA" : "strideA");
    }
    long long total = 1;
    for (int d = 0; d < nbDims; d++) {
        if (dimA[d] <= 0) {
            return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: dimA[%d] = %d; dimensions must be positive", fn, d, dimA[d]);
        }
        if (strideA[d] <= 0) {
            return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: strideA[%d] = %d; strides must be positive", fn, d, strideA[d]);
        }
        total *= dimA[d];
    }
    if (total > (1LL << 31)) {
        return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED, "%s: %lld elements exceed the 2 Giga-element limit", fn, total);
    }
    desc->type = dataType;
    desc->rank = nbDims;
    for (int d = 0; d < nbDims; d++) {
        desc->dims[d] = dimA[d];
        desc->strides[d] = strideA[d];
    }
    desc->set = true;
    return CUDNN_STATUS_SUCCESS;
}

// API reference: BAD_PARAM when "at least one of the parameters k, c, h, w is negative or dataType or
// format has an invalid enumerant value"; a zero extent describes no filter and is refused too.
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t desc, cudnnDataType_t dataType,
                                         cudnnTensorFormat_t format, int k, int c, int h, int w) {
    DNN_ENTRY("cudnnSetFilter4dDescriptor");
    DNN_TRY(object(desc, fn, "filterDesc", false));
    if (!validDataType(dataType)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: dataType %d is not a cudnnDataType_t", fn, dataType);
    }
    if (format != CUDNN_TENSOR_NCHW && format != CUDNN_TENSOR_NHWC && format != CUDNN_TENSOR_NCHW_VECT_C) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: format %d is not a cudnnTensorFormat_t", fn, format);
    }
    if (k <= 0 || c <= 0 || h <= 0 || w <= 0) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: k, c, h, w = %d, %d, %d, %d must be positive", fn, k, c, h, w);
    }
    *desc = cudnnFilterStruct{true, dataType, format, k, c, h, w};
    return CUDNN_STATUS_SUCCESS;
}

// API reference: BAD_PARAM when pad_h or pad_w is negative, u or v (strides) is negative or zero,
// dilation_h or dilation_w is negative or zero, or mode is not a cudnnConvolutionMode_t.
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t desc, int pad_h, int pad_w, int u, int v,
                                              int dilation_h, int dilation_w, cudnnConvolutionMode_t mode,
                                              cudnnDataType_t computeType) {
    DNN_ENTRY("cudnnSetConvolution2dDescriptor");
    DNN_TRY(object(desc, fn, "convDesc", false));
    if (pad_h < 0 || pad_w < 0) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: padding %d, %d must not be negative", fn, pad_h, pad_w);
    }
    if (u <= 0 || v <= 0) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: strides u, v = %d, %d must be positive", fn, u, v);
    }
    if (dilation_h <= 0 || dilation_w <= 0) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: dilations %d, %d must be positive", fn, dilation_h, dilation_w);
    }
    if (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: mode %d is not a cudnnConvolutionMode_t", fn, mode);
    }
    if (!validDataType(computeType)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: computeType %d is not a cudnnDataType_t", fn, computeType);
    }
    desc->padH = pad_h;
    desc->padW = pad_w;
    desc->strideH = u;
    desc->strideW = v;
    desc->dilationH = dilation_h;
    desc->dilationW = dilation_w;
    desc->mode = mode;
    desc->computeType = computeType;
    desc->set = true;  // group count and math type keep their values (defaults 1 and DEFAULT_MATH)
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t desc, int groupCount) {
    DNN_ENTRY("cudnnSetConvolutionGroupCount");
    DNN_TRY(object(desc, fn, "convDesc", false));
    if (groupCount <= 0) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: groupCount %d must be positive", fn, groupCount);
    }
    desc->groups = groupCount;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t desc, cudnnMathType_t mathType) {
    DNN_ENTRY("cudnnSetConvolutionMathType");
    DNN_TRY(object(desc, fn, "convDesc", false));
    if (mathType != CUDNN_DEFAULT_MATH && mathType != CUDNN_TENSOR_OP_MATH &&
        mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION && mathType != CUDNN_FMA_MATH) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: mathType %d is not a cudnnMathType_t", fn, mathType);
    }
    desc->math = mathType;
    return CUDNN_STATUS_SUCCESS;
}

// API reference: BAD_PARAM when a window extent or stride is zero or negative, a padding is negative,
// or mode / maxpoolingNanOpt is not a valid enumerant. A padding as large as the window would let a
// window cover only padding (no input element), which cuDNN's kernels do not support: refused too.
cudnnStatus_t cudnnSetPooling2dDescriptor(cudnnPoolingDescriptor_t desc, cudnnPoolingMode_t mode,
                                          cudnnNanPropagation_t maxpoolingNanOpt, int windowHeight, int windowWidth,
                                          int verticalPadding, int horizontalPadding, int verticalStride,
                                          int horizontalStride) {
    DNN_ENTRY("cudnnSetPooling2dDescriptor");
    DNN_TRY(object(desc, fn, "poolingDesc", false));
    if (mode != CUDNN_POOLING_MAX && mode != CUDNN_POOLING_MAX_DETERMINISTIC &&
        mode != CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING && mode != CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: mode %d is not a cudnnPoolingMode_t", fn, mode);
    }
    if (!validNan(maxpoolingNanOpt)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: maxpoolingNanOpt %d is not a cudnnNanPropagation_t", fn,
                        maxpoolingNanOpt);
    }
    if (windowHeight <= 0 || windowWidth <= 0 || verticalStride <= 0 || horizontalStride <= 0) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: window %dx%d and stride %dx%d must be positive", fn, windowHeight,
                        windowWidth, verticalStride, horizontalStride);
    }
    if (verticalPadding < 0 || horizontalPadding < 0) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: padding %d, %d must not be negative", fn, verticalPadding,
                        horizontalPadding);
    }
    if (verticalPadding >= windowHeight || horizontalPadding >= windowWidth) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: padding %d, %d must be smaller than the %dx%d window", fn,
                        verticalPadding, horizontalPadding, windowHeight, windowWidth);
    }
    *desc = cudnnPoolingStruct{true, mode, maxpoolingNanOpt, windowHeight, windowWidth, verticalPadding,
                               horizontalPadding, verticalStride, horizontalStride};
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetActivationDescriptor(cudnnActivationDescriptor_t desc, cudnnActivationMode_t mode,
                                           cudnnNanPropagation_t reluNanOpt, double coef) {
    DNN_ENTRY("cudnnSetActivationDescriptor");
    DNN_TRY(object(desc, fn, "activationDesc", false));
    if (mode < CUDNN_ACTIVATION_SIGMOID || mode > CUDNN_ACTIVATION_SWISH) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: mode %d is not a cudnnActivationMode_t", fn, mode);
    }
    if (!validNan(reluNanOpt)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: reluNanOpt %d is not a cudnnNanPropagation_t", fn, reluNanOpt);
    }
    *desc = cudnnActivationStruct{true, mode, reluNanOpt, coef};
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetOpTensorDescriptor(cudnnOpTensorDescriptor_t desc, cudnnOpTensorOp_t op,
                                         cudnnDataType_t compType, cudnnNanPropagation_t nanOpt) {
    DNN_ENTRY("cudnnSetOpTensorDescriptor");
    DNN_TRY(object(desc, fn, "opTensorDesc", false));
    if (op < CUDNN_OP_TENSOR_ADD || op > CUDNN_OP_TENSOR_NOT) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: opTensorOp %d is not a cudnnOpTensorOp_t", fn, op);
    }
    if (!validDataType(compType) || !validNan(nanOpt)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: compType %d / nanOpt %d invalid", fn, compType, nanOpt);
    }
    *desc = cudnnOpTensorStruct{true, op, compType, nanOpt};
    return CUDNN_STATUS_SUCCESS;
}

// API reference (cudnnReduceTensor): indices are produced for MIN, MAX and AMAX only and "requesting
// indices for the other reduction ops results in an error"; only 32-bit indices are supported.
cudnnStatus_t cudnnSetReduceTensorDescriptor(cudnnReduceTensorDescriptor_t desc, cudnnReduceTensorOp_t op,
                                             cudnnDataType_t compType, cudnnNanPropagation_t nanOpt,
                                             cudnnReduceTensorIndices_t indices, cudnnIndicesType_t indicesType) {
    DNN_ENTRY("cudnnSetReduceTensorDescriptor");
    DNN_TRY(object(desc, fn, "reduceTensorDesc", false));
    if (op < CUDNN_REDUCE_TENSOR_ADD || op > CUDNN_REDUCE_TENSOR_MUL_NO_ZEROS) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: reduceTensorOp %d is not a cudnnReduceTensorOp_t", fn, op);
    }
    if (!validDataType(compType) || !validNan(nanOpt)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: compType %d / nanOpt %d invalid", fn, compType, nanOpt);
    }
    if (indices != CUDNN_REDUCE_TENSOR_NO_INDICES && indices != CUDNN_REDUCE_TENSOR_FLATTENED_INDICES) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: reduceTensorIndices %d invalid", fn, indices);
    }
    if (indicesType < CUDNN_32BIT_INDICES || indicesType > CUDNN_8BIT_INDICES) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: reduceTensorIndicesType %d invalid", fn, indicesType);
    }
    *desc = cudnnReduceTensorStruct{true, op, compType, nanOpt, indices, indicesType};
    return CUDNN_STATUS_SUCCESS;
}

}  // extern "C"
