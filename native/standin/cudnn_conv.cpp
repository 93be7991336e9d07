// libcudnn.so.9 stand-in, part 4: 2-d convolution (forward, backward data, backward filter, bias),
// its algorithm heuristics and workspace sizes.
//
// The heuristics (cudnnGet*Algorithm_v7) return, fastest first, a fixed list per direction that is
// built to exercise a caller's fallback, as real cuDNN's lists do on some shapes and GPUs:
//   1. an FFT algorithm that succeeds but needs a workspace of 1 TiB (no device has it: a caller must
//      cap the workspace it accepts);
//   2. a Winograd / precomputed-GEMM algorithm whose status is SUCCESS but that refuses to run with
//      CUDNN_STATUS_NOT_SUPPORTED, always (heuristics are estimates; a caller must try the next one);
//   3. the implicit-GEMM algorithm with CUDNN_TENSOR_OP_MATH, listed only when the descriptor's math
//      type allows tensor cores (not CUDNN_FMA_MATH); it rounds its inputs to TF32 when run under such
//      a math type, as tensor cores do;
//   4. the same algorithm with FMA math (exact float32, up to summation order), deterministic, and for
//      backward filter needing a small workspace so that workspace passing is exercised;
//   5. a non-deterministic algorithm (same results here), and one with status NOT_SUPPORTED.
// Workspace size queries return exactly what the run demands; a run with less fails with a message.
//
// Data types: the API reference's "supported configurations" tables of the three convolution calls. The stand-in
// computes FLOAT_CONFIG (float data and compute: products summed in double, as before half support existed),
// PSEUDO_HALF_CONFIG (half data, float compute) and PSEUDO_BFLOAT16_CONFIG (bfloat16 data, float compute): it
// widens the half inputs exactly, sums the products in float and rounds each output to the data type, nearest
// even. Legal configurations it does not compute (DOUBLE_CONFIG, TRUE_HALF_CONFIG with half compute, the INT8
// ones) and every illegal combination fail with CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE and a message saying which.
#include <cmath>
#include <cstring>
#include <vector>
#include <utility>

#include "cudnn_internal.h"

using namespace standin::dnn;

namespace {

constexpr size_t HUGE_WORKSPACE = 1ULL << 40;

enum class Direction { Forward, BackwardData, BackwardFilter };

struct Candidate {
    int algo;
    cudnnStatus_t status;
    size_t memory;
    cudnnDeterminism_t determinism;
    cudnnMathType_t math;
    bool runs;         // false: advertised, but the run returns NOT_SUPPORTED
    bool tensorCores;  // rounds inputs to TF32 when the descriptor's math type allows tensor ops
};

struct Conv {
    Tensor x, y;  // x: input (dx for backward data), y: output (dy for the backward passes)
    cudnnFilterStruct w;
    cudnnConvolutionStruct conv;
    cudnnDataType_t type() const { return x.type; }  // x's, w's and y's (convTypes checks they agree)
    long long filterElements() const { return static_cast<long long>(w.k) * w.c * w.h * w.w; }
    size_t filterBytes() const { return static_cast<size_t>(filterElements()) * elementSize(w.type); }
};

const char* typeName(cudnnDataType_t t) {
    switch (t) {
        case CUDNN_DATA_FLOAT: return "CUDNN_DATA_FLOAT";
        case CUDNN_DATA_HALF: return "CUDNN_DATA_HALF";
        case CUDNN_DATA_BFLOAT16: return "CUDNN_DATA_BFLOAT16";
        case CUDNN_DATA_DOUBLE: return "CUDNN_DATA_DOUBLE";
        case CUDNN_DATA_INT8: return "CUDNN_DATA_INT8";
        case CUDNN_DATA_INT32: return "CUDNN_DATA_INT32";
        default: return "another cudnnDataType_t";
    }
}

// The data-type rules of the supported-configurations tables (see the top of this file).
Status convTypes(const Conv& cv, const char* fn) {
    cudnnDataType_t x = cv.x.type, w = cv.w.type, y = cv.y.type, compute = cv.conv.computeType;
    if (x != w || x != y) {
        return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE,
                        "%s: x, w and y have data types %s, %s and %s; the floating-point configurations need one data type",
                        fn, typeName(x), typeName(w), typeName(y));
    }
    bool computed = (x == CUDNN_DATA_FLOAT || x == CUDNN_DATA_HALF || x == CUDNN_DATA_BFLOAT16) && compute == CUDNN_DATA_FLOAT;
    if (computed) {
        return CUDNN_STATUS_SUCCESS;
    }
    bool legal = (x == CUDNN_DATA_DOUBLE && compute == CUDNN_DATA_DOUBLE) || (x == CUDNN_DATA_HALF && compute == CUDNN_DATA_HALF) ||
                 (x == CUDNN_DATA_INT8 && compute == CUDNN_DATA_INT32);
    return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE,
                    legal ? "%s: %s data with %s compute is a cuDNN configuration the stand-in does not compute"
                          : "%s: %s data with %s compute is not a configuration cuDNN supports (bfloat16 and half "
                            "data need CUDNN_DATA_FLOAT compute, float data float compute)",
                    fn, typeName(x), typeName(compute));
}

bool allowsTensorOps(cudnnMathType_t m) {
    // CUDNN_DEFAULT_MATH permits TF32 tensor-core math on Ampere and later GPUs; FMA_MATH forbids it.
    return m != CUDNN_FMA_MATH;
}

std::vector<Candidate> candidates(Direction dir, const Conv& cv) {
    cudnnMathType_t plain = cv.conv.math == CUDNN_FMA_MATH ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
    bool tensorOps = allowsTensorOps(cv.conv.math);
    size_t small = cv.filterBytes();
    std::vector<Candidate> list;
    auto add = [&](int algo, cudnnStatus_t status, size_t memory, bool det, cudnnMathType_t math, bool runs,
                   bool tensorCores) {
        list.push_back({algo, status, memory, det ? CUDNN_DETERMINISTIC : CUDNN_NON_DETERMINISTIC, math, runs,
                        tensorCores});
    };
    switch (dir) {
        case Direction::Forward:
            add(CUDNN_CONVOLUTION_FWD_ALGO_FFT, CUDNN_STATUS_SUCCESS, HUGE_WORKSPACE, true, plain, true, false);
            add(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, CUDNN_STATUS_SUCCESS, small, true,
                tensorOps ? CUDNN_TENSOR_OP_MATH : plain, false, true);
            if (tensorOps) {
                add(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_STATUS_SUCCESS, 0, true, CUDNN_TENSOR_OP_MATH, true,
                    true);
            }
            add(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_STATUS_SUCCESS, 0, true, plain, true, true);
            add(CUDNN_CONVOLUTION_FWD_ALGO_DIRECT, CUDNN_STATUS_NOT_SUPPORTED, 0, true, plain, false, false);
            break;
        case Direction::BackwardData:
            add(CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING, CUDNN_STATUS_SUCCESS, HUGE_WORKSPACE, true, plain, true,
                false);
            add(CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED, CUDNN_STATUS_SUCCESS, small, true, plain, false,
                false);
            if (tensorOps) {
                add(CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, CUDNN_STATUS_SUCCESS, 0, true, CUDNN_TENSOR_OP_MATH, true, true);
            }
            add(CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, CUDNN_STATUS_SUCCESS, 0, true, plain, true, true);
            add(CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, CUDNN_STATUS_SUCCESS, 0, false, plain, true, true);
            add(CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD, CUDNN_STATUS_NOT_SUPPORTED, 0, true, plain, false, false);
            break;
        case Direction::BackwardFilter:
            add(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING, CUDNN_STATUS_SUCCESS, HUGE_WORKSPACE, true, plain, true,
                false);
            add(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED, CUDNN_STATUS_SUCCESS, small, true, plain, false,
                false);
            if (tensorOps) {
                add(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, CUDNN_STATUS_SUCCESS, small, true, CUDNN_TENSOR_OP_MATH, true,
                    true);
            }
            add(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, CUDNN_STATUS_SUCCESS, small, true, plain, true, true);
            add(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, CUDNN_STATUS_SUCCESS, 0, false, plain, true, true);
            add(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD, CUDNN_STATUS_NOT_SUPPORTED, 0, true, plain, false, false);
            break;
    }
    return list;
}

const char* directionName(Direction dir) {
    switch (dir) {
        case Direction::Forward: return "forward";
        case Direction::BackwardData: return "backward data";
        case Direction::BackwardFilter: return "backward filter";
    }
    return "?";
}

// The listed candidate for `algo` (its first entry), or a failure for an algorithm the stand-in does not
// implement for this direction.
Status lookup(Direction dir, const Conv& cv, int algo, const char* fn, Candidate& out) {
    for (const Candidate& c : candidates(dir, cv)) {
        if (c.algo == algo) {
            out = c;
            if (c.status != CUDNN_STATUS_SUCCESS) {
                return DNN_FAIL(c.status, "%s: %s algorithm %d is not supported for this configuration", fn,
                                directionName(dir), algo);
            }
            return CUDNN_STATUS_SUCCESS;
        }
    }
    return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED, "%s: %s algorithm %d is not supported for this configuration", fn,
                    directionName(dir), algo);
}

// cudnnGetConvolution2dForwardOutputDim:
// outputDim = 1 + (inputDim + 2 * pad - (((filterDim - 1) * dilation) + 1)) / convolutionStride.
int convExtent(int in, int pad, int filter, int dilation, int stride) {
    return 1 + (in + 2 * pad - ((filter - 1) * dilation + 1)) / stride;
}

// The API reference's BAD_PARAM / NOT_SUPPORTED rules for the convolution calls: 4-d x and y for a 2-d
// descriptor, float data, x's channels = filter channels * groups, output channels (k) a multiple of
// the group count and equal to y's, the dilated filter no larger than the padded input, and y's
// extents those cudnnGetConvolution2dForwardOutputDim gives.
Status convShapes(const Conv& cv, const char* fn, const char* xName, const char* yName) {
    const Tensor &x = cv.x, &y = cv.y;
    const cudnnFilterStruct& w = cv.w;
    const cudnnConvolutionStruct& c = cv.conv;
    if (x.rank != 4 || y.rank != 4) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: a 2-d convolution needs 4-d %s and %s, got %s and %s", fn, xName,
                        yName, describe(x).c_str(), describe(y).c_str());
    }
    DNN_TRY(convTypes(cv, fn));
    if (w.format != CUDNN_TENSOR_NCHW) {
        return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED_LAYOUT, "%s: the stand-in supports NCHW filters only", fn);
    }
    if (x.dims[1] != w.c * c.groups) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH,
                        "%s: %s has %d channels but the filter has %d per group x %d groups", fn, xName, x.dims[1], w.c,
                        c.groups);
    }
    if (w.k % c.groups != 0) {
        return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED, "%s: %d output channels are not a multiple of %d groups", fn, w.k,
                        c.groups);
    }
    if (y.dims[0] != x.dims[0] || y.dims[1] != w.k) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH, "%s: %s %s must be [%d, %d, ., .] for %s %s", fn, yName,
                        describe(y).c_str(), x.dims[0], w.k, xName, describe(x).c_str());
    }
    int spanH = (w.h - 1) * c.dilationH + 1, spanW = (w.w - 1) * c.dilationW + 1;
    if (spanH > x.dims[2] + 2 * c.padH || spanW > x.dims[3] + 2 * c.padW) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: the dilated %dx%d filter exceeds the padded %dx%d input", fn, spanH,
                        spanW, x.dims[2] + 2 * c.padH, x.dims[3] + 2 * c.padW);
    }
    int oh = convExtent(x.dims[2], c.padH, w.h, c.dilationH, c.strideH);
    int ow = convExtent(x.dims[3], c.padW, w.w, c.dilationW, c.strideW);
    if (y.dims[2] != oh || y.dims[3] != ow) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH,
                        "%s: %s is %dx%d but the convolution of a %dx%d input gives %dx%d", fn, yName, y.dims[2],
                        y.dims[3], x.dims[2], x.dims[3], oh, ow);
    }
    return CUDNN_STATUS_SUCCESS;
}

// The handle and the four descriptors of a convolution call, checked and copied.
Status gather(cudnnHandle_t handle, cudnnTensorDescriptor_t x, cudnnFilterDescriptor_t w,
              cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t y, const char* fn, const char* xName,
              const char* wName, const char* yName, Conv& out) {
    DNN_TRY(object(handle, fn, "handle"));
    DNN_TRY(object(x, fn, xName));
    DNN_TRY(object(w, fn, wName));
    DNN_TRY(object(conv, fn, "convDesc"));
    DNN_TRY(object(y, fn, yName));
    out = Conv{*x, *y, *w, *conv};
    return convShapes(out, fn, xName, yName);
}

// Round to TF32 (10 explicit mantissa bits, round to nearest even), what tensor cores read.
float tf32(float v) {
    if (!std::isfinite(v)) {
        return v;
    }
    uint32_t u;
    std::memcpy(&u, &v, sizeof u);
    u += 0xFFFu + ((u >> 13) & 1u);
    u &= 0xFFFFE000u;
    std::memcpy(&v, &u, sizeof v);
    return v;
}

// Calls f(x offset, filter index, y offset) for every product term of the convolution.
template <class F>
void forEachTerm(const Conv& cv, F&& f) {
    const Tensor &x = cv.x, &y = cv.y;
    const cudnnFilterStruct& w = cv.w;
    const cudnnConvolutionStruct& c = cv.conv;
    int kPerGroup = w.k / c.groups;
    bool flip = c.mode == CUDNN_CONVOLUTION;  // true convolution: the filter is applied mirrored
    for (int n = 0; n < y.dims[0]; n++) {
        for (int k = 0; k < w.k; k++) {
            int group = k / kPerGroup;
            for (int oh = 0; oh < y.dims[2]; oh++) {
                for (int ow = 0; ow < y.dims[3]; ow++) {
                    int yc[4] = {n, k, oh, ow};
                    long long yOff = offsetOf(y, yc);
                    for (int ci = 0; ci < w.c; ci++) {
                        for (int r = 0; r < w.h; r++) {
                            int ih = oh * c.strideH - c.padH + r * c.dilationH;
                            if (ih < 0 || ih >= x.dims[2]) {
                                continue;
                            }
                            for (int s = 0; s < w.w; s++) {
                                int iw = ow * c.strideW - c.padW + s * c.dilationW;
                                if (iw < 0 || iw >= x.dims[3]) {
                                    continue;
                                }
                                int xc[4] = {n, group * w.c + ci, ih, iw};
                                int fr = flip ? w.h - 1 - r : r, fs = flip ? w.w - 1 - s : s;
                                long long wIdx = ((static_cast<long long>(k) * w.c + ci) * w.h + fr) * w.w + fs;
                                f(offsetOf(x, xc), wIdx, yOff);
                            }
                        }
                    }
                }
            }
        }
    }
}

// out[o] = alpha * (sum of the products forEachTerm sends to o) + beta * out[o] over the `count` elements
// `offsets` visits. Float data sums in double (before half support existed, and still: an exact-as-possible
// reference); half data sums in float, the configuration's compute type, and rounds each output to nearest even.
// `product(xo, wi, yo)` returns the term and the index it adds to.
template <class Offsets, class Product>
void accumulate(const Conv& cv, size_t count, void* out, float alpha, float beta, Offsets&& offsets, Product&& product) {
    cudnnDataType_t t = cv.type();
    auto finish = [&](const auto& acc) {
        offsets([&](long long o) {
            float old = beta == 0.0f ? 0.0f : load(out, t, o);
            storeAs(out, t, o, blend(alpha, acc[o], beta, old));
        });
    };
    if (t == CUDNN_DATA_FLOAT) {
        std::vector<double> acc(count, 0.0);
        forEachTerm(cv, [&](long long xo, long long wi, long long yo) {
            auto [index, term] = product(xo, wi, yo);
            acc[index] += term;
        });
        finish(acc);
    } else {
        std::vector<float> acc(count, 0.0f);
        forEachTerm(cv, [&](long long xo, long long wi, long long yo) {
            auto [index, term] = product(xo, wi, yo);
            acc[index] += static_cast<float>(term);
        });
        finish(acc);
    }
}

// Calls f(offset) for every element of tensor t.
auto tensorOffsets(const Tensor& t) {
    return [&t](auto&& f) { forEachIndex(t, [&](const int* c) { f(offsetOf(t, c)); }); };
}

// The checks every run shares: the algorithm runs, the workspace is large enough and addressable.
Status runnable(Direction dir, const Conv& cv, int algo, const void* workSpace, size_t workSpaceSizeInBytes,
                const char* fn, bool& roundTf32) {
    Candidate cand;
    DNN_TRY(lookup(dir, cv, algo, fn, cand));
    if (!cand.runs) {
        return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED,
                        "%s: %s algorithm %d cannot run this configuration (the heuristics listed it; try the next)", fn,
                        directionName(dir), algo);
    }
    if (workSpaceSizeInBytes < cand.memory) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT,
                        "%s: %s algorithm %d needs a %zu-byte workspace, got workSpaceSizeInBytes %zu", fn,
                        directionName(dir), algo, cand.memory, workSpaceSizeInBytes);
    }
    if (workSpace == nullptr && workSpaceSizeInBytes != 0) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: workSpace is NULL but workSpaceSizeInBytes is %zu", fn,
                        workSpaceSizeInBytes);
    }
    float* ws;
    DNN_TRY(deviceRange(workSpace, workSpaceSizeInBytes, fn, "workSpace", ws));
    // Half inputs fit TF32 exactly; only float data is rounded.
    roundTf32 = cand.tensorCores && allowsTensorOps(cv.conv.math) && cv.type() == CUDNN_DATA_FLOAT;
    return CUDNN_STATUS_SUCCESS;
}

template <class Perf>
Status heuristics(Direction dir, const Conv& cv, int requested, int* returned, Perf* perf, const char* fn) {
    if (returned == nullptr || perf == nullptr) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "%s: returnedAlgoCount or perfResults is NULL", fn);
    }
    if (requested < 1) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: requestedAlgoCount %d must be positive", fn, requested);
    }
    std::vector<Candidate> list = candidates(dir, cv);
    int count = std::min(requested, static_cast<int>(list.size()));
    for (int i = 0; i < count; i++) {
        Perf p{};
        p.algo = static_cast<decltype(p.algo)>(list[i].algo);
        p.status = list[i].status;
        p.time = list[i].status == CUDNN_STATUS_SUCCESS ? 0.1f * static_cast<float>(i + 1) : -1.0f;
        p.memory = list[i].memory;
        p.determinism = list[i].determinism;
        p.mathType = list[i].math;
        perf[i] = p;
    }
    *returned = count;
    return CUDNN_STATUS_SUCCESS;
}

Status workspaceSize(Direction dir, const Conv& cv, int algo, size_t* size, const char* fn) {
    if (size == nullptr) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "%s: sizeInBytes is NULL", fn);
    }
    Candidate cand;
    DNN_TRY(lookup(dir, cv, algo, fn, cand));
    *size = cand.memory;
    return CUDNN_STATUS_SUCCESS;
}

}  // namespace

extern "C" {

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
                                                     const cudnnFilterDescriptor_t filterDesc,
                                                     const cudnnConvolutionDescriptor_t convDesc,
                                                     const cudnnTensorDescriptor_t destDesc, const int requestedAlgoCount,
                                                     int* returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t* perfResults) {
    DNN_ENTRY("cudnnGetConvolutionForwardAlgorithm_v7");
    Conv cv;
    DNN_TRY(gather(handle, srcDesc, filterDesc, convDesc, destDesc, fn, "srcDesc", "filterDesc", "destDesc", cv));
    return heuristics(Direction::Forward, cv, requestedAlgoCount, returnedAlgoCount, perfResults, fn);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t handle, const cudnnFilterDescriptor_t filterDesc,
                                                          const cudnnTensorDescriptor_t diffDesc,
                                                          const cudnnConvolutionDescriptor_t convDesc,
                                                          const cudnnTensorDescriptor_t gradDesc,
                                                          const int requestedAlgoCount, int* returnedAlgoCount,
                                                          cudnnConvolutionBwdDataAlgoPerf_t* perfResults) {
    DNN_ENTRY("cudnnGetConvolutionBackwardDataAlgorithm_v7");
    Conv cv;
    DNN_TRY(gather(handle, gradDesc, filterDesc, convDesc, diffDesc, fn, "gradDesc", "filterDesc", "diffDesc", cv));
    return heuristics(Direction::BackwardData, cv, requestedAlgoCount, returnedAlgoCount, perfResults, fn);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
                                                            const cudnnTensorDescriptor_t diffDesc,
                                                            const cudnnConvolutionDescriptor_t convDesc,
                                                            const cudnnFilterDescriptor_t gradDesc,
                                                            const int requestedAlgoCount, int* returnedAlgoCount,
                                                            cudnnConvolutionBwdFilterAlgoPerf_t* perfResults) {
    DNN_ENTRY("cudnnGetConvolutionBackwardFilterAlgorithm_v7");
    Conv cv;
    DNN_TRY(gather(handle, srcDesc, gradDesc, convDesc, diffDesc, fn, "srcDesc", "gradDesc", "diffDesc", cv));
    return heuristics(Direction::BackwardFilter, cv, requestedAlgoCount, returnedAlgoCount, perfResults, fn);
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
                                                      const cudnnFilterDescriptor_t wDesc,
                                                      const cudnnConvolutionDescriptor_t convDesc,
                                                      const cudnnTensorDescriptor_t yDesc, cudnnConvolutionFwdAlgo_t algo,
                                                      size_t* sizeInBytes) {
    DNN_ENTRY("cudnnGetConvolutionForwardWorkspaceSize");
    Conv cv;
    DNN_TRY(gather(handle, xDesc, wDesc, convDesc, yDesc, fn, "xDesc", "wDesc", "yDesc", cv));
    return workspaceSize(Direction::Forward, cv, algo, sizeInBytes, fn);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc,
                                                           const cudnnTensorDescriptor_t dyDesc,
                                                           const cudnnConvolutionDescriptor_t convDesc,
                                                           const cudnnTensorDescriptor_t dxDesc,
                                                           cudnnConvolutionBwdDataAlgo_t algo, size_t* sizeInBytes) {
    DNN_ENTRY("cudnnGetConvolutionBackwardDataWorkspaceSize");
    Conv cv;
    DNN_TRY(gather(handle, dxDesc, wDesc, convDesc, dyDesc, fn, "dxDesc", "wDesc", "dyDesc", cv));
    return workspaceSize(Direction::BackwardData, cv, algo, sizeInBytes, fn);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc,
                                                             const cudnnTensorDescriptor_t dyDesc,
                                                             const cudnnConvolutionDescriptor_t convDesc,
                                                             const cudnnFilterDescriptor_t gradDesc,
                                                             cudnnConvolutionBwdFilterAlgo_t algo, size_t* sizeInBytes) {
    DNN_ENTRY("cudnnGetConvolutionBackwardFilterWorkspaceSize");
    Conv cv;
    DNN_TRY(gather(handle, xDesc, gradDesc, convDesc, dyDesc, fn, "xDesc", "gradDesc", "dyDesc", cv));
    return workspaceSize(Direction::BackwardFilter, cv, algo, sizeInBytes, fn);
}

// y = alpha * conv(x, w) + beta * y.
cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t xDesc,
                                      const void* x, const cudnnFilterDescriptor_t wDesc, const void* w,
                                      const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionFwdAlgo_t algo,
                                      void* workSpace, size_t workSpaceSizeInBytes, const void* beta,
                                      const cudnnTensorDescriptor_t yDesc, void* y) {
    DNN_ENTRY("cudnnConvolutionForward");
    Conv cv;
    DNN_TRY(gather(handle, xDesc, wDesc, convDesc, yDesc, fn, "xDesc", "wDesc", "yDesc", cv));
    bool round;
    DNN_TRY(runnable(Direction::Forward, cv, algo, workSpace, workSpaceSizeInBytes, fn, round));
    float al, be, *px, *pw, *py;
    DNN_TRY(scalar(alpha, fn, "alpha", al));
    DNN_TRY(scalar(beta, fn, "beta", be));
    DNN_TRY(tensorData(x, cv.x, fn, "x", px));
    DNN_TRY(deviceRange(w, cv.filterBytes(), fn, "w", pw));
    DNN_TRY(tensorData(y, cv.y, fn, "y", py));
    return launch(handle, [=] {
        cudnnDataType_t t = cv.type();
        accumulate(cv, bytes(cv.y) / elementSize(t), py, al, be, tensorOffsets(cv.y),
                   [&](long long xo, long long wi, long long yo) {
                       float a = load(px, t, xo), b = load(pw, t, wi);
                       return std::pair{yo, round ? static_cast<double>(tf32(a)) * tf32(b) : static_cast<double>(a) * b};
                   });
    }, fn);
}

// dx = alpha * (gradient of the forward pass with respect to x, given dy) + beta * dx.
cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void* alpha, const cudnnFilterDescriptor_t wDesc,
                                           const void* w, const cudnnTensorDescriptor_t dyDesc, const void* dy,
                                           const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionBwdDataAlgo_t algo,
                                           void* workSpace, size_t workSpaceSizeInBytes, const void* beta,
                                           const cudnnTensorDescriptor_t dxDesc, void* dx) {
    DNN_ENTRY("cudnnConvolutionBackwardData");
    Conv cv;
    DNN_TRY(gather(handle, dxDesc, wDesc, convDesc, dyDesc, fn, "dxDesc", "wDesc", "dyDesc", cv));
    bool round;
    DNN_TRY(runnable(Direction::BackwardData, cv, algo, workSpace, workSpaceSizeInBytes, fn, round));
    float al, be, *pw, *pdy, *pdx;
    DNN_TRY(scalar(alpha, fn, "alpha", al));
    DNN_TRY(scalar(beta, fn, "beta", be));
    DNN_TRY(deviceRange(w, cv.filterBytes(), fn, "w", pw));
    DNN_TRY(tensorData(dy, cv.y, fn, "dy", pdy));
    DNN_TRY(tensorData(dx, cv.x, fn, "dx", pdx));
    return launch(handle, [=] {
        cudnnDataType_t t = cv.type();
        accumulate(cv, bytes(cv.x) / elementSize(t), pdx, al, be, tensorOffsets(cv.x),
                   [&](long long xo, long long wi, long long yo) {
                       float a = load(pdy, t, yo), b = load(pw, t, wi);
                       return std::pair{xo, round ? static_cast<double>(tf32(a)) * tf32(b) : static_cast<double>(a) * b};
                   });
    }, fn);
}

// dw = alpha * (gradient of the forward pass with respect to w, given x and dy) + beta * dw.
cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t xDesc,
                                             const void* x, const cudnnTensorDescriptor_t dyDesc, const void* dy,
                                             const cudnnConvolutionDescriptor_t convDesc,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void* workSpace,
                                             size_t workSpaceSizeInBytes, const void* beta,
                                             const cudnnFilterDescriptor_t dwDesc, void* dw) {
    DNN_ENTRY("cudnnConvolutionBackwardFilter");
    Conv cv;
    DNN_TRY(gather(handle, xDesc, dwDesc, convDesc, dyDesc, fn, "xDesc", "dwDesc", "dyDesc", cv));
    bool round;
    DNN_TRY(runnable(Direction::BackwardFilter, cv, algo, workSpace, workSpaceSizeInBytes, fn, round));
    float al, be, *px, *pdy, *pdw;
    DNN_TRY(scalar(alpha, fn, "alpha", al));
    DNN_TRY(scalar(beta, fn, "beta", be));
    DNN_TRY(tensorData(x, cv.x, fn, "x", px));
    DNN_TRY(tensorData(dy, cv.y, fn, "dy", pdy));
    DNN_TRY(deviceRange(dw, cv.filterBytes(), fn, "dw", pdw));
    return launch(handle, [=] {
        cudnnDataType_t t = cv.type();
        long long n = cv.filterElements();
        accumulate(cv, static_cast<size_t>(n), pdw, al, be,
                   [n](auto&& f) {
                       for (long long i = 0; i < n; i++) f(i);
                   },
                   [&](long long xo, long long wi, long long yo) {
                       float a = load(px, t, xo), b = load(pdy, t, yo);
                       return std::pair{wi, round ? static_cast<double>(tf32(a)) * tf32(b) : static_cast<double>(a) * b};
                   });
    }, fn);
}

// db = alpha * (sum of dy over every dimension but the channel) + beta * db. API reference: BAD_PARAM
// when "one of the parameters n, height, width of the output tensor is not 1" or the channel counts
// differ.
cudnnStatus_t cudnnConvolutionBackwardBias(cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t dyDesc,
                                           const void* dy, const void* beta, const cudnnTensorDescriptor_t dbDesc,
                                           void* db) {
    DNN_ENTRY("cudnnConvolutionBackwardBias");
    DNN_TRY(object(handle, fn, "handle"));
    DNN_TRY(floatTensor(dyDesc, fn, "dyDesc"));
    DNN_TRY(floatTensor(dbDesc, fn, "dbDesc"));
    Tensor tdy = *dyDesc, tdb = *dbDesc;
    bool ok = tdb.rank == tdy.rank && tdb.dims[1] == tdy.dims[1];
    for (int d = 0; ok && d < tdb.rank; d++) {
        ok = d == 1 || tdb.dims[d] == 1;
    }
    if (!ok) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH, "%s: db %s must be [1, %d, 1, ...] for dy %s", fn,
                        describe(tdb).c_str(), tdy.dims[1], describe(tdy).c_str());
    }
    float al, be, *pdy, *pdb;
    DNN_TRY(scalar(alpha, fn, "alpha", al));
    DNN_TRY(scalar(beta, fn, "beta", be));
    DNN_TRY(tensorData(dy, tdy, fn, "dy", pdy));
    DNN_TRY(tensorData(db, tdb, fn, "db", pdb));
    return launch(handle, [=] {
        std::vector<double> sum(static_cast<size_t>(tdy.dims[1]), 0.0);
        forEachIndex(tdy, [&](const int* c) { sum[c[1]] += pdy[offsetOf(tdy, c)]; });
        for (int k = 0; k < tdy.dims[1]; k++) {
            float& out = pdb[static_cast<long long>(k) * tdb.strides[1]];
            out = blend(al, sum[k], be, out);
        }
    }, fn);
}

}  // extern "C"
