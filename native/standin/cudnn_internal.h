// The cuDNN stand-in's shared parts: descriptor state, the registry of live objects, argument checks
// and strided iteration. Everything here runs on the calling host thread except the lambdas that the
// operations hand to standin::enqueue, which capture plain copies (descriptors may be destroyed as
// soon as a call returns, as with real cuDNN).
//
// Semantics follow NVIDIA's cuDNN API reference (9.x, the legacy "ops"/"cnn" sub-libraries); where a
// rule is not obvious the function that enforces it quotes it. The stand-in computes float32
// (CUDNN_DATA_FLOAT) everywhere, and the convolutions also in the half configurations jdl uses
// (CUDNN_DATA_HALF / CUDNN_DATA_BFLOAT16 data with float compute, cudnn_conv.cpp); other data types are
// accepted by the descriptor calls and rejected by the operations with CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE.
#pragma once

#include <cudnn.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "half.h"
#include "standin.h"

// The opaque structs cudnn.h only declares. `set` is false until the matching cudnnSet* succeeds.
struct cudnnContext {
    cudaStream_t stream = nullptr;
    int device = 0;  // current when cudnnCreate ran: the handle works on that device only
};

struct cudnnTensorStruct {
    bool set = false;
    cudnnDataType_t type = CUDNN_DATA_FLOAT;
    int rank = 0;
    int dims[CUDNN_DIM_MAX] = {};
    int strides[CUDNN_DIM_MAX] = {};
};

struct cudnnFilterStruct {
    bool set = false;
    cudnnDataType_t type = CUDNN_DATA_FLOAT;
    cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW;
    int k = 0, c = 0, h = 0, w = 0;  // [out channels, in channels per group, rows, columns]
};

struct cudnnConvolutionStruct {
    bool set = false;
    int padH = 0, padW = 0, strideH = 1, strideW = 1, dilationH = 1, dilationW = 1;
    cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    cudnnDataType_t computeType = CUDNN_DATA_FLOAT;
    int groups = 1;                              // cudnnCreateConvolutionDescriptor's default
    cudnnMathType_t math = CUDNN_DEFAULT_MATH;   // likewise
};

struct cudnnPoolingStruct {
    bool set = false;
    cudnnPoolingMode_t mode = CUDNN_POOLING_MAX;
    cudnnNanPropagation_t nan = CUDNN_NOT_PROPAGATE_NAN;
    int windowH = 0, windowW = 0, padH = 0, padW = 0, strideH = 0, strideW = 0;
};

struct cudnnActivationStruct {
    bool set = false;
    cudnnActivationMode_t mode = CUDNN_ACTIVATION_RELU;
    cudnnNanPropagation_t nan = CUDNN_NOT_PROPAGATE_NAN;
    double coef = 0;
};

struct cudnnOpTensorStruct {
    bool set = false;
    cudnnOpTensorOp_t op = CUDNN_OP_TENSOR_ADD;
    cudnnDataType_t computeType = CUDNN_DATA_FLOAT;
    cudnnNanPropagation_t nan = CUDNN_NOT_PROPAGATE_NAN;
};

struct cudnnReduceTensorStruct {
    bool set = false;
    cudnnReduceTensorOp_t op = CUDNN_REDUCE_TENSOR_ADD;
    cudnnDataType_t computeType = CUDNN_DATA_FLOAT;
    cudnnNanPropagation_t nan = CUDNN_NOT_PROPAGATE_NAN;
    cudnnReduceTensorIndices_t indices = CUDNN_REDUCE_TENSOR_NO_INDICES;
    cudnnIndicesType_t indicesType = CUDNN_32BIT_INDICES;
};

// Internal to libcudnn.so.9: only the cudnn* functions are exported.
#pragma GCC visibility push(hidden)
namespace standin::dnn {

using Tensor = cudnnTensorStruct;

// ---- live objects: a destroyed or foreign handle fails the call instead of being dereferenced ----

enum class Kind { Handle, Tensor, Filter, Convolution, Pooling, Activation, OpTensor, Reduce, Backend };

const char* kindName(Kind kind);
void track(const void* object, Kind kind);
bool untrack(const void* object, Kind kind);  // false when it was not live as that kind
bool isLive(const void* object, Kind kind);

template <class T> struct KindOf;
template <> struct KindOf<cudnnContext> { static constexpr Kind value = Kind::Handle; };
template <> struct KindOf<cudnnTensorStruct> { static constexpr Kind value = Kind::Tensor; };
template <> struct KindOf<cudnnFilterStruct> { static constexpr Kind value = Kind::Filter; };
template <> struct KindOf<cudnnConvolutionStruct> { static constexpr Kind value = Kind::Convolution; };
template <> struct KindOf<cudnnPoolingStruct> { static constexpr Kind value = Kind::Pooling; };
template <> struct KindOf<cudnnActivationStruct> { static constexpr Kind value = Kind::Activation; };
template <> struct KindOf<cudnnOpTensorStruct> { static constexpr Kind value = Kind::OpTensor; };
template <> struct KindOf<cudnnReduceTensorStruct> { static constexpr Kind value = Kind::Reduce; };

// Status of a check: CUDNN_STATUS_SUCCESS or the failure (message already set with standin::fail).
using Status = cudnnStatus_t;

#define DNN_FAIL(status, ...) static_cast<cudnnStatus_t>(standin::fail((status), __VA_ARGS__))
#define DNN_TRY(expr)                                  \
    do {                                               \
        cudnnStatus_t dnn_status_ = (expr);            \
        if (dnn_status_ != CUDNN_STATUS_SUCCESS) {     \
            return dnn_status_;                        \
        }                                              \
    } while (0)
// First statement of every exported function that returns a status: fault injection.
#define DNN_ENTRY(name)                                         \
    static constexpr const char* fn = name;                     \
    if (int injected_ = standin::injectedFault(fn)) {           \
        return static_cast<cudnnStatus_t>(injected_);           \
    }

// A live object of the expected kind (copied into `out` when it has been set).
template <class T>
Status object(const T* p, const char* fn, const char* arg, bool mustBeSet = true) {
    Kind kind = KindOf<T>::value;
    if (p == nullptr) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "%s: %s is NULL", fn, arg);
    }
    if (!isLive(p, kind)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: %s (%p) is not a live %s (destroyed, or never created)", fn, arg,
                        static_cast<const void*>(p), kindName(kind));
    }
    if constexpr (std::is_same_v<T, cudnnContext>) {
        if (p->device != standin::currentDevice()) {
            return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH,
                            "%s: the handle belongs to device %d but device %d is current on this thread", fn,
                            p->device, standin::currentDevice());
        }
    } else {
        if (mustBeSet && !p->set) {
            return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED, "%s: %s (%s) was created but never set", fn, arg,
                            kindName(kind));
        }
    }
    return CUDNN_STATUS_SUCCESS;
}

// A tensor the operations can compute on: set, float32.
Status floatTensor(const Tensor* t, const char* fn, const char* arg);

// Host copy of a float scalar passed by host pointer (alpha, beta, value).
Status scalar(const void* p, const char* fn, const char* arg, float& out);

// The device range a tensor (or `bytes`) covers, checked against its allocation.
Status deviceRange(const void* p, size_t bytes, const char* fn, const char* arg, float*& out);
Status tensorData(const void* p, const Tensor& t, const char* fn, const char* arg, float*& out);

// ---- shapes ----

long long elements(const Tensor& t);
size_t bytes(const Tensor& t);  // bytes spanned by the strided layout, in t's data type

// Bytes of one element of a data type the stand-in computes with (float, half, bfloat16); 4 for the others,
// which every operation rejects before it touches memory.
inline size_t elementSize(cudnnDataType_t t) {
    return t == CUDNN_DATA_HALF || t == CUDNN_DATA_BFLOAT16 ? 2 : 4;
}

// Element i of a float, half or bfloat16 array, widened to float (exact).
inline float load(const void* p, cudnnDataType_t t, long long i) {
    if (t == CUDNN_DATA_FLOAT) {
        return static_cast<const float*>(p)[i];
    }
    uint16_t h = static_cast<const uint16_t*>(p)[i];
    return t == CUDNN_DATA_HALF ? standin::half::fromF16(h) : standin::half::fromBf16(h);
}

// Stores v as element i, rounded to nearest even for the half types.
inline void storeAs(void* p, cudnnDataType_t t, long long i, float v) {
    if (t == CUDNN_DATA_FLOAT) {
        static_cast<float*>(p)[i] = v;
        return;
    }
    static_cast<uint16_t*>(p)[i] = t == CUDNN_DATA_HALF ? standin::half::toF16(v) : standin::half::toBf16(v);
}
bool sameDims(const Tensor& a, const Tensor& b);
bool sameStrides(const Tensor& a, const Tensor& b);
std::string describe(const Tensor& t);  // "[2, 3, 4, 5] strides [60, 20, 5, 1]"
// True when [a, a + aBytes) and [b, b + bBytes) share a byte.
bool overlap(const void* a, size_t aBytes, const void* b, size_t bBytes);

// Offset (elements) of coordinate `c` in t; dimensions of size 1 broadcast (coordinate ignored).
inline long long offsetOf(const Tensor& t, const int* c) {
    long long off = 0;
    for (int d = 0; d < t.rank; d++) {
        if (t.dims[d] != 1) {
            off += static_cast<long long>(c[d]) * t.strides[d];
        }
    }
    return off;
}

// Calls f(coordinates) for every coordinate of `shape`, the last dimension fastest.
template <class F>
void forEachIndex(const Tensor& shape, F&& f) {
    int c[CUDNN_DIM_MAX] = {};
    long long total = elements(shape);
    for (long long i = 0; i < total; i++) {
        f(static_cast<const int*>(c));
        for (int d = shape.rank - 1; d >= 0; d--) {
            if (++c[d] < shape.dims[d]) {
                break;
            }
            c[d] = 0;
        }
    }
}

// f(coordinates) for every element of `shape`, in forEachIndex order. Computing every value before storing
// any keeps an in-place output (y == x) from feeding back into its own input.
template <class F>
std::vector<double> compute(const Tensor& shape, F&& f) {
    std::vector<double> values;
    values.reserve(static_cast<size_t>(elements(shape)));
    forEachIndex(shape, [&](const int* c) { values.push_back(f(c)); });
    return values;
}

// y = alpha * value + beta * y, without reading y when beta is 0 (cuDNN's documented blending rule:
// "if beta is zero, the output is not read", so garbage or NaN already in y does not leak through).
inline float blend(float alpha, double value, float beta, float y) {
    return beta == 0.0f ? static_cast<float>(alpha * value) : static_cast<float>(alpha * value + beta * static_cast<double>(y));
}

// Blends `values` (one per element, forEachIndex order) into tensor t at p, as blend() does.
inline void store(const Tensor& t, float* p, float alpha, const std::vector<double>& values, float beta) {
    size_t k = 0;
    forEachIndex(t, [&](const int* c) {
        float& out = p[offsetOf(t, c)];
        out = blend(alpha, values[k++], beta, out);
    });
}

// Runs `work` on the handle's stream (or drops it in no-compute mode).
Status launch(const cudnnContext* handle, std::function<void()> work, const char* fn);

}  // namespace standin::dnn
#pragma GCC visibility pop
