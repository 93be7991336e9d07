// libcudnn.so.9 stand-in, part 2: the pointwise and reduction operations (set, add, op-tensor,
// transform, reduce, activation, softmax). Each checks its descriptors and device ranges on the calling
// thread, then enqueues the computation (double accumulation, float storage) on the handle's stream.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cudnn_internal.h"

using namespace standin::dnn;

namespace {

constexpr float NaN = std::numeric_limits<float>::quiet_NaN();

// Each dimension of `a` equals the one of `c` or is 1 (cuDNN's broadcasting rule for A in
// cudnnAddTensor and for B in cudnnOpTensor); ranks must be equal.
Status broadcastsTo(const Tensor& a, const Tensor& c, const char* fn, const char* aName, const char* cName) {
    bool ok = a.rank == c.rank;
    for (int d = 0; ok && d < a.rank; d++) {
        ok = a.dims[d] == c.dims[d] || a.dims[d] == 1;
    }
    if (!ok) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH,
                        "%s: each dimension of %s %s must equal %s's %s or be 1", fn, aName, describe(a).c_str(),
                        cName, describe(c).c_str());
    }
    return CUDNN_STATUS_SUCCESS;
}

Status sameShape(const Tensor& a, const Tensor& b, const char* fn, const char* aName, const char* bName) {
    if (!sameDims(a, b)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH, "%s: %s %s and %s %s must have the same dimensions", fn,
                        aName, describe(a).c_str(), bName, describe(b).c_str());
    }
    return CUDNN_STATUS_SUCCESS;
}

Status maxRank(const Tensor& t, int limit, const char* fn, const char* arg) {
    if (t.rank > limit) {
        return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED, "%s: %s has %d dimensions; this routine supports up to %d", fn,
                        arg, t.rank, limit);
    }
    return CUDNN_STATUS_SUCCESS;
}

// In-place (same pointer) is allowed where the API reference allows it only with identical layouts.
Status inPlaceLayout(const void* in, const Tensor& inDesc, const void* out, const Tensor& outDesc, const char* fn,
                     const char* inName, const char* outName) {
    if (in == out && !sameStrides(inDesc, outDesc)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: in-place %s == %s needs identical strides, got %s and %s", fn,
                        inName, outName, describe(inDesc).c_str(), describe(outDesc).c_str());
    }
    return CUDNN_STATUS_SUCCESS;
}

// Max/min under cuDNN's NaN option: CUDNN_PROPAGATE_NAN returns NaN when either operand is NaN,
// CUDNN_NOT_PROPAGATE_NAN returns the other operand (fmax/fmin).
double pick(bool max, double a, double b, bool propagate) {
    if (std::isnan(a) || std::isnan(b)) {
        return propagate ? NaN : (std::isnan(a) ? b : a);
    }
    return max ? std::max(a, b) : std::min(a, b);
}

// Packed (row-major) index of coordinate c in t, size-1 dimensions contributing 0.
long long packedIndex(const Tensor& t, const int* c) {
    long long index = 0;
    for (int d = 0; d < t.rank; d++) {
        index = index * t.dims[d] + (t.dims[d] == 1 ? 0 : c[d]);
    }
    return index;
}

// The operands of y = alpha * f(x) + beta * y over equal dimensions, checked; x may be y only with the
// same layout.
struct Pointwise {
    Tensor x, y;
    float alpha, beta;
    float *px, *py;
};

Status pointwise(const char* fn, const void* alpha, cudnnTensorDescriptor_t xDesc, const void* x, const void* beta,
                 cudnnTensorDescriptor_t yDesc, void* y, Pointwise& out) {
    DNN_TRY(floatTensor(xDesc, fn, "xDesc"));
    DNN_TRY(floatTensor(yDesc, fn, "yDesc"));
    out.x = *xDesc;
    out.y = *yDesc;
    DNN_TRY(sameShape(out.x, out.y, fn, "x", "y"));
    DNN_TRY(inPlaceLayout(x, out.x, y, out.y, fn, "x", "y"));
    DNN_TRY(scalar(alpha, fn, "alpha", out.alpha));
    DNN_TRY(scalar(beta, fn, "beta", out.beta));
    DNN_TRY(tensorData(x, out.x, fn, "x", out.px));
    return tensorData(y, out.y, fn, "y", out.py);
}

}  // namespace

extern "C" {

cudnnStatus_t cudnnSetTensor(cudnnHandle_t handle, const cudnnTensorDescriptor_t yDesc, void* y, const void* valuePtr) {
    DNN_ENTRY("cudnnSetTensor");
    DNN_TRY(object(handle, fn, "handle"));
    DNN_TRY(floatTensor(yDesc, fn, "yDesc"));
    float value, *out;
    DNN_TRY(scalar(valuePtr, fn, "valuePtr", value));
    DNN_TRY(tensorData(y, *yDesc, fn, "y", out));
    Tensor t = *yDesc;
    return launch(handle, [=] { forEachIndex(t, [&](const int* c) { out[offsetOf(t, c)] = value; }); }, fn);
}

// C = alpha * A + beta * C, A broadcast over C ("each dimension of the bias tensor A must match the
// corresponding dimension of the destination tensor C or must be equal to 1"; up to 5 dimensions).
// A must not overlap C unless it is C itself with the same layout: a broadcast A read while C is
// written would race on a GPU.
cudnnStatus_t cudnnAddTensor(cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t aDesc, const void* A,
                             const void* beta, const cudnnTensorDescriptor_t cDesc, void* C) {
    DNN_ENTRY("cudnnAddTensor");
    DNN_TRY(object(handle, fn, "handle"));
    DNN_TRY(floatTensor(aDesc, fn, "aDesc"));
    DNN_TRY(floatTensor(cDesc, fn, "cDesc"));
    Tensor a = *aDesc, c = *cDesc;
    DNN_TRY(maxRank(c, 5, fn, "cDesc"));
    DNN_TRY(broadcastsTo(a, c, fn, "A", "C"));
    float al, be, *pa, *pc;
    DNN_TRY(scalar(alpha, fn, "alpha", al));
    DNN_TRY(scalar(beta, fn, "beta", be));
    DNN_TRY(tensorData(A, a, fn, "A", pa));
    DNN_TRY(tensorData(C, c, fn, "C", pc));
    if (overlap(A, bytes(a), C, bytes(c)) && !(A == C && sameDims(a, c) && sameStrides(a, c))) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: A %s overlaps C %s", fn, describe(a).c_str(), describe(c).c_str());
    }
    return launch(handle, [=] {
        forEachIndex(c, [&](const int* i) {
            float& out = pc[offsetOf(c, i)];
            out = blend(al, pa[offsetOf(a, i)], be, out);
        });
    }, fn);
}

// C = op(alpha1 * A, alpha2 * B) + beta * C. A's dimensions equal C's; B's equal C's or are 1; up to
// 5 dimensions. In place, C may be A; C may be B only when it is also A (cudnnOpTensor reads B with
// broadcasting while writing C, so C == B != A is refused).
cudnnStatus_t cudnnOpTensor(cudnnHandle_t handle, const cudnnOpTensorDescriptor_t opDesc, const void* alpha1,
                            const cudnnTensorDescriptor_t aDesc, const void* A, const void* alpha2,
                            const cudnnTensorDescriptor_t bDesc, const void* B, const void* beta,
                            const cudnnTensorDescriptor_t cDesc, void* C) {
    DNN_ENTRY("cudnnOpTensor");
    DNN_TRY(object(handle, fn, "handle"));
    DNN_TRY(object(opDesc, fn, "opTensorDesc"));
    cudnnOpTensorStruct op = *opDesc;
    bool unary = op.op == CUDNN_OP_TENSOR_SQRT || op.op == CUDNN_OP_TENSOR_NOT;
    DNN_TRY(floatTensor(aDesc, fn, "aDesc"));
    DNN_TRY(floatTensor(cDesc, fn, "cDesc"));
    Tensor a = *aDesc, c = *cDesc, b = c;
    if (!unary) {
        DNN_TRY(floatTensor(bDesc, fn, "bDesc"));
        b = *bDesc;
    }
    if (op.computeType != CUDNN_DATA_FLOAT) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: opTensorCompType must be CUDNN_DATA_FLOAT for float tensors", fn);
    }
    DNN_TRY(maxRank(c, 5, fn, "cDesc"));
    DNN_TRY(sameShape(a, c, fn, "A", "C"));
    DNN_TRY(broadcastsTo(b, c, fn, "B", "C"));
    float a1, a2, be, *pa, *pb = nullptr, *pc;
    DNN_TRY(scalar(alpha1, fn, "alpha1", a1));
    DNN_TRY(scalar(alpha2, fn, "alpha2", a2));
    DNN_TRY(scalar(beta, fn, "beta", be));
    DNN_TRY(tensorData(A, a, fn, "A", pa));
    if (!unary) {
        DNN_TRY(tensorData(B, b, fn, "B", pb));
    }
    DNN_TRY(tensorData(C, c, fn, "C", pc));
    DNN_TRY(inPlaceLayout(A, a, C, c, fn, "A", "C"));
    if (!unary && C == B && C != A) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: C may equal B only when it also equals A (in-place on A)", fn);
    }
    bool propagate = op.nan == CUDNN_PROPAGATE_NAN;
    return launch(handle, [=] {
        forEachIndex(c, [&](const int* i) {
            double x = static_cast<double>(a1) * pa[offsetOf(a, i)];
            double y = unary ? 0.0 : static_cast<double>(a2) * pb[offsetOf(b, i)];
            double r = 0;
            switch (op.op) {
                case CUDNN_OP_TENSOR_ADD: r = x + y; break;
                case CUDNN_OP_TENSOR_MUL: r = x * y; break;
                case CUDNN_OP_TENSOR_MIN: r = pick(false, x, y, propagate); break;
                case CUDNN_OP_TENSOR_MAX: r = pick(true, x, y, propagate); break;
                case CUDNN_OP_TENSOR_SQRT: r = std::sqrt(x); break;
                case CUDNN_OP_TENSOR_NOT: r = 1.0 - x; break;
            }
            float& out = pc[offsetOf(c, i)];
            out = blend(1.0f, r, be, out);
        });
    }, fn);
}

// y = alpha * x + beta * y between layouts of the same dimensions. API reference: "The input and
// output tensors must not overlap in any way (meaning, tensors cannot be transformed in place)":
// checked element by element, so interleaved views of one allocation are fine.
cudnnStatus_t cudnnTransformTensor(cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t xDesc,
                                   const void* x, const void* beta, const cudnnTensorDescriptor_t yDesc, void* y) {
    DNN_ENTRY("cudnnTransformTensor");
    DNN_TRY(object(handle, fn, "handle"));
    Pointwise op;
    DNN_TRY(pointwise(fn, alpha, xDesc, x, beta, yDesc, y, op));
    const Tensor &tx = op.x, &ty = op.y;
    float al = op.alpha, be = op.beta, *px = op.px, *py = op.py;
    if (overlap(px, bytes(tx), py, bytes(ty))) {
        std::vector<const float*> read;
        read.reserve(static_cast<size_t>(elements(tx)));
        forEachIndex(tx, [&](const int* c) { read.push_back(px + offsetOf(tx, c)); });
        std::sort(read.begin(), read.end());
        bool shared = false;
        forEachIndex(ty, [&](const int* c) {
            shared = shared || std::binary_search(read.begin(), read.end(), py + offsetOf(ty, c));
        });
        if (shared) {
            return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: x %s and y %s share elements (no in-place transform)", fn,
                            describe(tx).c_str(), describe(ty).c_str());
        }
    }
    return launch(handle, [=] {
        forEachIndex(ty, [&](const int* c) {
            float& out = py[offsetOf(ty, c)];
            out = blend(al, px[offsetOf(tx, c)], be, out);
        });
    }, fn);
}

}  // extern "C"

namespace {

// The reduction both reduce calls validate: dimensions of C equal A's or are 1, at least one of A's
// dimensions (of size > 1) reduced, up to 8 dimensions, float. A C of A's own shape is refused: the
// dimensions equal to 1 "indicate the dimensions of A to be reduced", and cuDNN rejects or mishandles a
// reduction that reduces nothing (copy instead).
Status reduction(const cudnnReduceTensorStruct& r, const Tensor& a, const Tensor& c, const char* fn) {
    if (r.computeType != CUDNN_DATA_FLOAT) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: reduceTensorCompType must be CUDNN_DATA_FLOAT", fn);
    }
    DNN_TRY(broadcastsTo(c, a, fn, "C", "A"));
    bool reduces = false;
    for (int d = 0; d < a.rank; d++) {
        reduces = reduces || (c.dims[d] == 1 && a.dims[d] > 1);
    }
    if (!reduces) {
        return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED_SHAPE,
                        "%s: C %s has A's shape: no dimension is reduced (copy the tensor instead)", fn,
                        describe(c).c_str());
    }
    bool minMax = r.op == CUDNN_REDUCE_TENSOR_MIN || r.op == CUDNN_REDUCE_TENSOR_MAX || r.op == CUDNN_REDUCE_TENSOR_AMAX;
    if (r.indices == CUDNN_REDUCE_TENSOR_FLATTENED_INDICES && !minMax) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: indices are produced for MIN, MAX and AMAX only, not op %d", fn,
                        r.op);
    }
    if (r.indices == CUDNN_REDUCE_TENSOR_FLATTENED_INDICES && r.indicesType != CUDNN_32BIT_INDICES) {
        return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED, "%s: only CUDNN_32BIT_INDICES are supported", fn);
    }
    return CUDNN_STATUS_SUCCESS;
}

// The stand-in's reduction keeps one double accumulator per output element in the workspace.
size_t reductionWorkspace(const Tensor& c) {
    return static_cast<size_t>(elements(c)) * sizeof(double);
}

}  // namespace

extern "C" {

cudnnStatus_t cudnnGetReductionWorkspaceSize(cudnnHandle_t handle, const cudnnReduceTensorDescriptor_t reduceDesc,
                                             const cudnnTensorDescriptor_t aDesc, const cudnnTensorDescriptor_t cDesc,
                                             size_t* sizeInBytes) {
    DNN_ENTRY("cudnnGetReductionWorkspaceSize");
    DNN_TRY(object(handle, fn, "handle"));
    DNN_TRY(object(reduceDesc, fn, "reduceTensorDesc"));
    DNN_TRY(floatTensor(aDesc, fn, "aDesc"));
    DNN_TRY(floatTensor(cDesc, fn, "cDesc"));
    if (sizeInBytes == nullptr) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "%s: sizeInBytes is NULL", fn);
    }
    DNN_TRY(reduction(*reduceDesc, *aDesc, *cDesc, fn));
    *sizeInBytes = reductionWorkspace(*cDesc);
    return CUDNN_STATUS_SUCCESS;
}

// C = alpha * reduce(A) + beta * C. "NaN propagation applies only to min and max operations"; indices
// (MIN/MAX/AMAX with FLATTENED_INDICES) are uint32, flattened over the reduced dimensions only.
cudnnStatus_t cudnnReduceTensor(cudnnHandle_t handle, const cudnnReduceTensorDescriptor_t reduceDesc, void* indices,
                                size_t indicesSizeInBytes, void* workspace, size_t workspaceSizeInBytes,
                                const void* alpha, const cudnnTensorDescriptor_t aDesc, const void* A, const void* beta,
                                const cudnnTensorDescriptor_t cDesc, void* C) {
    DNN_ENTRY("cudnnReduceTensor");
    DNN_TRY(object(handle, fn, "handle"));
    DNN_TRY(object(reduceDesc, fn, "reduceTensorDesc"));
    DNN_TRY(floatTensor(aDesc, fn, "aDesc"));
    DNN_TRY(floatTensor(cDesc, fn, "cDesc"));
    cudnnReduceTensorStruct r = *reduceDesc;
    Tensor a = *aDesc, c = *cDesc;
    DNN_TRY(reduction(r, a, c, fn));
    size_t needWorkspace = reductionWorkspace(c);
    if (workspaceSizeInBytes < needWorkspace) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT,
                        "%s: workspaceSizeInBytes %zu is below the %zu bytes cudnnGetReductionWorkspaceSize asks for", fn,
                        workspaceSizeInBytes, needWorkspace);
    }
    float* ws;
    DNN_TRY(deviceRange(workspace, workspaceSizeInBytes, fn, "workspace", ws));
    bool wantIndices = r.indices == CUDNN_REDUCE_TENSOR_FLATTENED_INDICES;
    uint32_t* idx = nullptr;
    if (wantIndices) {
        size_t needIndices = static_cast<size_t>(elements(c)) * sizeof(uint32_t);
        if (indicesSizeInBytes < needIndices) {
            return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT, "%s: indicesSizeInBytes %zu is below %zu", fn,
                            indicesSizeInBytes, needIndices);
        }
        float* p;
        DNN_TRY(deviceRange(indices, indicesSizeInBytes, fn, "indices", p));
        idx = reinterpret_cast<uint32_t*>(p);
    }
    float al, be, *pa, *pc;
    DNN_TRY(scalar(alpha, fn, "alpha", al));
    DNN_TRY(scalar(beta, fn, "beta", be));
    DNN_TRY(tensorData(A, a, fn, "A", pa));
    DNN_TRY(tensorData(C, c, fn, "C", pc));
    return launch(handle, [=] {
        auto* acc = reinterpret_cast<double*>(ws);  // [elements(C)]
        long long outputs = elements(c), reduced = elements(a) / outputs;
        std::vector<long long> count(static_cast<size_t>(outputs), 0);
        std::vector<uint32_t> best(static_cast<size_t>(outputs), 0);
        bool propagate = r.nan == CUDNN_PROPAGATE_NAN;
        forEachIndex(a, [&](const int* i) {
            long long o = packedIndex(c, i);
            // Position within the reduced dimensions, flattened (what indices report).
            uint32_t within = 0;
            for (int d = 0; d < a.rank; d++) {
                if (c.dims[d] == 1 && a.dims[d] > 1) {
                    within = within * a.dims[d] + i[d];
                }
            }
            double v = pa[offsetOf(a, i)];
            double& s = acc[o];
            bool first = count[o]++ == 0;
            switch (r.op) {
                case CUDNN_REDUCE_TENSOR_ADD: case CUDNN_REDUCE_TENSOR_AVG: s = first ? v : s + v; break;
                case CUDNN_REDUCE_TENSOR_MUL: s = first ? v : s * v; break;
                case CUDNN_REDUCE_TENSOR_MUL_NO_ZEROS: s = first ? (v == 0 ? 1 : v) : s * (v == 0 ? 1 : v); break;
                case CUDNN_REDUCE_TENSOR_NORM1: s = first ? std::fabs(v) : s + std::fabs(v); break;
                case CUDNN_REDUCE_TENSOR_NORM2: s = first ? v * v : s + v * v; break;
                case CUDNN_REDUCE_TENSOR_MIN: case CUDNN_REDUCE_TENSOR_MAX: case CUDNN_REDUCE_TENSOR_AMAX: {
                    double w = r.op == CUDNN_REDUCE_TENSOR_AMAX ? std::fabs(v) : v;
                    double next = first ? w : pick(r.op != CUDNN_REDUCE_TENSOR_MIN, s, w, propagate);
                    bool changed = first || (next != s && !(std::isnan(next) && std::isnan(s)));
                    if (changed) {
                        best[o] = within;
                    }
                    s = next;
                    break;
                }
            }
        });
        forEachIndex(c, [&](const int* i) {
            long long o = packedIndex(c, i);
            double v = acc[o];
            if (r.op == CUDNN_REDUCE_TENSOR_AVG) {
                v /= static_cast<double>(reduced);
            } else if (r.op == CUDNN_REDUCE_TENSOR_NORM2) {
                v = std::sqrt(v);
            }
            float& out = pc[offsetOf(c, i)];
            out = blend(al, v, be, out);
            if (idx != nullptr) {
                idx[o] = best[o];
            }
        });
    }, fn);
}

}  // extern "C"

namespace {

// The shared checks of the activation calls. IDENTITY "does not work with cudnnActivationForward() or
// cudnnActivationBackward()" (it exists for cudnnConvolutionBiasActivationForward only).
Status activationMode(const cudnnActivationStruct& act, const char* fn) {
    if (act.mode == CUDNN_ACTIVATION_IDENTITY) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: CUDNN_ACTIVATION_IDENTITY works only with "
                        "cudnnConvolutionBiasActivationForward", fn);
    }
    return CUDNN_STATUS_SUCCESS;
}

double activate(const cudnnActivationStruct& act, double x) {
    bool propagate = act.nan == CUDNN_PROPAGATE_NAN;
    switch (act.mode) {
        case CUDNN_ACTIVATION_SIGMOID: return 1.0 / (1.0 + std::exp(-x));
        case CUDNN_ACTIVATION_RELU: return pick(true, x, 0.0, propagate);
        case CUDNN_ACTIVATION_TANH: return std::tanh(x);
        case CUDNN_ACTIVATION_CLIPPED_RELU: return pick(false, pick(true, x, 0.0, propagate), act.coef, propagate);
        case CUDNN_ACTIVATION_ELU: return x > 0 ? x : act.coef * (std::exp(x) - 1.0);
        case CUDNN_ACTIVATION_SWISH: return x / (1.0 + std::exp(-x));  // swish beta 1 (no setter exported)
        default: return NaN;
    }
}

// d act / dx times dy, from x and the forward output y.
double derivative(const cudnnActivationStruct& act, double x, double y, double dy) {
    switch (act.mode) {
        case CUDNN_ACTIVATION_SIGMOID: return dy * y * (1.0 - y);
        case CUDNN_ACTIVATION_RELU: return std::isnan(x) && act.nan == CUDNN_PROPAGATE_NAN ? NaN : (x > 0 ? dy : 0.0);
        case CUDNN_ACTIVATION_TANH: return dy * (1.0 - y * y);
        case CUDNN_ACTIVATION_CLIPPED_RELU: return x > 0 && x < act.coef ? dy : 0.0;
        case CUDNN_ACTIVATION_ELU: return x > 0 ? dy : dy * (y + act.coef);
        case CUDNN_ACTIVATION_SWISH: {
            double s = 1.0 / (1.0 + std::exp(-x));
            return dy * (s + x * s * (1.0 - s));
        }
        default: return NaN;
    }
}

}  // namespace

extern "C" {

// y = alpha * act(x) + beta * y. BAD_PARAM when the dimensions of x and y differ, or "the strides ...
// of the input tensor and output tensor differ and in-place operation is used".
cudnnStatus_t cudnnActivationForward(cudnnHandle_t handle, cudnnActivationDescriptor_t activationDesc,
                                     const void* alpha, const cudnnTensorDescriptor_t xDesc, const void* x,
                                     const void* beta, const cudnnTensorDescriptor_t yDesc, void* y) {
    DNN_ENTRY("cudnnActivationForward");
    DNN_TRY(object(handle, fn, "handle"));
    DNN_TRY(object(activationDesc, fn, "activationDesc"));
    cudnnActivationStruct act = *activationDesc;
    DNN_TRY(activationMode(act, fn));
    Pointwise op;
    DNN_TRY(pointwise(fn, alpha, xDesc, x, beta, yDesc, y, op));
    Tensor tx = op.x, ty = op.y;
    float al = op.alpha, be = op.beta, *px = op.px, *py = op.py;
    return launch(handle, [=] {
        forEachIndex(ty, [&](const int* c) {
            float& out = py[offsetOf(ty, c)];
            out = blend(al, activate(act, px[offsetOf(tx, c)]), be, out);
        });
    }, fn);
}

// dx = alpha * act'(x) * dy + beta * dx. y and dy share yDesc's dimensions, x and dx xDesc's, all four
// equal; in place (dy == dx) needs identical strides.
cudnnStatus_t cudnnActivationBackward(cudnnHandle_t handle, cudnnActivationDescriptor_t activationDesc,
                                      const void* alpha, const cudnnTensorDescriptor_t yDesc, const void* y,
                                      const cudnnTensorDescriptor_t dyDesc, const void* dy,
                                      const cudnnTensorDescriptor_t xDesc, const void* x, const void* beta,
                                      const cudnnTensorDescriptor_t dxDesc, void* dx) {
    DNN_ENTRY("cudnnActivationBackward");
    DNN_TRY(object(handle, fn, "handle"));
    DNN_TRY(object(activationDesc, fn, "activationDesc"));
    cudnnActivationStruct act = *activationDesc;
    DNN_TRY(activationMode(act, fn));
    DNN_TRY(floatTensor(yDesc, fn, "yDesc"));
    DNN_TRY(floatTensor(dyDesc, fn, "dyDesc"));
    DNN_TRY(floatTensor(xDesc, fn, "xDesc"));
    DNN_TRY(floatTensor(dxDesc, fn, "dxDesc"));
    Tensor ty = *yDesc, tdy = *dyDesc, tx = *xDesc, tdx = *dxDesc;
    DNN_TRY(sameShape(ty, tdy, fn, "y", "dy"));
    DNN_TRY(sameShape(tx, tdx, fn, "x", "dx"));
    DNN_TRY(sameShape(ty, tx, fn, "y", "x"));
    DNN_TRY(inPlaceLayout(dy, tdy, dx, tdx, fn, "dy", "dx"));
    float al, be, *py, *pdy, *px, *pdx;
    DNN_TRY(scalar(alpha, fn, "alpha", al));
    DNN_TRY(scalar(beta, fn, "beta", be));
    DNN_TRY(tensorData(y, ty, fn, "y", py));
    DNN_TRY(tensorData(dy, tdy, fn, "dy", pdy));
    DNN_TRY(tensorData(x, tx, fn, "x", px));
    DNN_TRY(tensorData(dx, tdx, fn, "dx", pdx));
    return launch(handle, [=] {
        forEachIndex(tdx, [&](const int* c) {
            double g = derivative(act, px[offsetOf(tx, c)], py[offsetOf(ty, c)], pdy[offsetOf(tdy, c)]);
            float& out = pdx[offsetOf(tdx, c)];
            out = blend(al, g, be, out);
        });
    }, fn);
}

}  // extern "C"

namespace {

Status softmaxArgs(cudnnSoftmaxAlgorithm_t algo, cudnnSoftmaxMode_t mode, const char* fn) {
    if (algo != CUDNN_SOFTMAX_FAST && algo != CUDNN_SOFTMAX_ACCURATE && algo != CUDNN_SOFTMAX_LOG) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: algorithm %d is not a cudnnSoftmaxAlgorithm_t", fn, algo);
    }
    if (mode != CUDNN_SOFTMAX_MODE_INSTANCE && mode != CUDNN_SOFTMAX_MODE_CHANNEL) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: mode %d is not a cudnnSoftmaxMode_t", fn, mode);
    }
    return CUDNN_STATUS_SUCCESS;
}

// Softmax groups: CHANNEL mode normalizes over dimension 1 for each (n, spatial position), INSTANCE
// mode over every dimension but the first, for each n. The group of coordinate c:
long long softmaxGroup(const Tensor& t, const int* c, cudnnSoftmaxMode_t mode) {
    if (mode == CUDNN_SOFTMAX_MODE_INSTANCE) {
        return c[0];
    }
    long long g = c[0];
    for (int d = 2; d < t.rank; d++) {
        g = g * t.dims[d] + c[d];
    }
    return g;
}

long long softmaxGroupCount(const Tensor& t, cudnnSoftmaxMode_t mode) {
    return mode == CUDNN_SOFTMAX_MODE_INSTANCE ? t.dims[0] : elements(t) / t.dims[1];
}

}  // namespace

extern "C" {

// y = alpha * softmax(x) + beta * y. ACCURATE subtracts the group maximum first, FAST does not, LOG
// gives log-softmax. In place (x == y) needs identical layouts.
cudnnStatus_t cudnnSoftmaxForward(cudnnHandle_t handle, cudnnSoftmaxAlgorithm_t algo, cudnnSoftmaxMode_t mode,
                                  const void* alpha, const cudnnTensorDescriptor_t xDesc, const void* x,
                                  const void* beta, const cudnnTensorDescriptor_t yDesc, void* y) {
    DNN_ENTRY("cudnnSoftmaxForward");
    DNN_TRY(object(handle, fn, "handle"));
    DNN_TRY(softmaxArgs(algo, mode, fn));
    Pointwise op;
    DNN_TRY(pointwise(fn, alpha, xDesc, x, beta, yDesc, y, op));
    Tensor tx = op.x, ty = op.y;
    float al = op.alpha, be = op.beta, *px = op.px, *py = op.py;
    return launch(handle, [=] {
        size_t groups = static_cast<size_t>(softmaxGroupCount(tx, mode));
        std::vector<double> max(groups, -std::numeric_limits<double>::infinity()), sum(groups, 0.0);
        if (algo != CUDNN_SOFTMAX_FAST) {
            forEachIndex(tx, [&](const int* c) {
                double v = px[offsetOf(tx, c)];
                double& m = max[softmaxGroup(tx, c, mode)];
                m = std::isnan(v) || std::isnan(m) ? NaN : std::max(m, v);
            });
        } else {
            std::fill(max.begin(), max.end(), 0.0);
        }
        forEachIndex(tx, [&](const int* c) {
            long long g = softmaxGroup(tx, c, mode);
            sum[g] += std::exp(px[offsetOf(tx, c)] - max[g]);
        });
        // Read every x before writing any y (x may be y).
        std::vector<double> out = compute(tx, [&](const int* c) {
            long long g = softmaxGroup(tx, c, mode);
            double shifted = px[offsetOf(tx, c)] - max[g];
            return algo == CUDNN_SOFTMAX_LOG ? shifted - std::log(sum[g]) : std::exp(shifted) / sum[g];
        });
        store(ty, py, al, out, be);
    }, fn);
}

// dx = alpha * softmax'(y) dy + beta * dx: y * (dy - sum(dy * y)) for FAST/ACCURATE, and
// dy - exp(y) * sum(dy) for LOG (y being log-probabilities). In place (dy == dx) needs identical layouts.
cudnnStatus_t cudnnSoftmaxBackward(cudnnHandle_t handle, cudnnSoftmaxAlgorithm_t algo, cudnnSoftmaxMode_t mode,
                                   const void* alpha, const cudnnTensorDescriptor_t yDesc, const void* y,
                                   const cudnnTensorDescriptor_t dyDesc, const void* dy, const void* beta,
                                   const cudnnTensorDescriptor_t dxDesc, void* dx) {
    DNN_ENTRY("cudnnSoftmaxBackward");
    DNN_TRY(object(handle, fn, "handle"));
    DNN_TRY(softmaxArgs(algo, mode, fn));
    DNN_TRY(floatTensor(yDesc, fn, "yDesc"));
    DNN_TRY(floatTensor(dyDesc, fn, "dyDesc"));
    DNN_TRY(floatTensor(dxDesc, fn, "dxDesc"));
    Tensor ty = *yDesc, tdy = *dyDesc, tdx = *dxDesc;
    DNN_TRY(sameShape(ty, tdy, fn, "y", "dy"));
    DNN_TRY(sameShape(ty, tdx, fn, "y", "dx"));
    DNN_TRY(inPlaceLayout(dy, tdy, dx, tdx, fn, "dy", "dx"));
    float al, be, *py, *pdy, *pdx;
    DNN_TRY(scalar(alpha, fn, "alpha", al));
    DNN_TRY(scalar(beta, fn, "beta", be));
    DNN_TRY(tensorData(y, ty, fn, "y", py));
    DNN_TRY(tensorData(dy, tdy, fn, "dy", pdy));
    DNN_TRY(tensorData(dx, tdx, fn, "dx", pdx));
    return launch(handle, [=] {
        bool log = algo == CUDNN_SOFTMAX_LOG;
        std::vector<double> dot(static_cast<size_t>(softmaxGroupCount(ty, mode)), 0.0);
        forEachIndex(ty, [&](const int* c) {
            double g = pdy[offsetOf(tdy, c)];
            dot[softmaxGroup(ty, c, mode)] += log ? g : g * py[offsetOf(ty, c)];
        });
        std::vector<double> out = compute(ty, [&](const int* c) {
            double yv = py[offsetOf(ty, c)], g = pdy[offsetOf(tdy, c)], s = dot[softmaxGroup(ty, c, mode)];
            return log ? g - std::exp(yv) * s : yv * (g - s);
        });
        store(tdx, pdx, al, out, be);
    }, fn);
}

}  // extern "C"
