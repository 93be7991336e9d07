// libcudnn.so.9 stand-in, part 3: 2-d pooling and batch normalization.
#include <cmath>
#include <limits>
#include <vector>

#include "cudnn_internal.h"

using namespace standin::dnn;

namespace {

constexpr double NaN = std::numeric_limits<double>::quiet_NaN();

// cudnnGetPooling2dForwardOutputDim: outputDim = 1 + (inputDim + 2 * padding - windowDim) / stride.
int pooledExtent(int in, int pad, int window, int stride) {
    return 1 + (in + 2 * pad - window) / stride;
}

// The layout checks cudnnPoolingForward and cudnnPoolingBackward share: 4-d float tensors (a 2-d
// pooling descriptor), equal n and c, the output extents the descriptor gives, and (API reference,
// NOT_SUPPORTED) a w stride of 1.
Status poolingShapes(const cudnnPoolingStruct& p, const Tensor& x, const Tensor& y, const char* fn) {
    if (x.rank != 4 || y.rank != 4) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: a 2-d pooling descriptor needs 4-d x and y, got %s and %s", fn,
                        describe(x).c_str(), describe(y).c_str());
    }
    if (x.dims[0] != y.dims[0] || x.dims[1] != y.dims[1]) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH, "%s: n, c of x %s and y %s differ", fn,
                        describe(x).c_str(), describe(y).c_str());
    }
    if (x.dims[2] + 2 * p.padH < p.windowH || x.dims[3] + 2 * p.padW < p.windowW) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: the %dx%d window exceeds the padded %dx%d input", fn, p.windowH,
                        p.windowW, x.dims[2] + 2 * p.padH, x.dims[3] + 2 * p.padW);
    }
    int oh = pooledExtent(x.dims[2], p.padH, p.windowH, p.strideH);
    int ow = pooledExtent(x.dims[3], p.padW, p.windowW, p.strideW);
    if (y.dims[2] != oh || y.dims[3] != ow) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH,
                        "%s: y is %dx%d but the pooling descriptor gives %dx%d for a %dx%d input", fn, y.dims[2],
                        y.dims[3], oh, ow, x.dims[2], x.dims[3]);
    }
    if (x.strides[3] != 1 || y.strides[3] != 1) {
        return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED_LAYOUT, "%s: the w stride of x and y must be 1", fn);
    }
    return CUDNN_STATUS_SUCCESS;
}

bool isMax(const cudnnPoolingStruct& p) {
    return p.mode == CUDNN_POOLING_MAX || p.mode == CUDNN_POOLING_MAX_DETERMINISTIC;
}

// One pooling window of output (n, c, oh, ow). Max pooling: the x offset of the first maximum in
// row-major window order (a NaN is the maximum under CUDNN_PROPAGATE_NAN and skipped otherwise; -1 when
// no element qualifies); average pooling: the divisor (the window size, or the in-bounds count when
// padding is excluded).
struct Window {
    long long argmax = -1;
    double value = 0;
    double divisor = 1;
};

Window window(const cudnnPoolingStruct& p, const Tensor& x, const float* px, int n, int c, int oh, int ow) {
    Window win;
    bool propagate = p.nan == CUDNN_PROPAGATE_NAN;
    int inBounds = 0;
    double sum = 0, best = -std::numeric_limits<double>::infinity();
    for (int r = 0; r < p.windowH; r++) {
        int ih = oh * p.strideH - p.padH + r;
        for (int s = 0; s < p.windowW; s++) {
            int iw = ow * p.strideW - p.padW + s;
            if (ih < 0 || ih >= x.dims[2] || iw < 0 || iw >= x.dims[3]) {
                continue;  // padding: -inf for max, 0 for average
            }
            int coords[4] = {n, c, ih, iw};
            long long off = offsetOf(x, coords);
            double v = px[off];
            inBounds++;
            sum += v;
            if (std::isnan(v)) {
                if (propagate && !std::isnan(best)) {
                    best = v;
                    win.argmax = off;
                }
            } else if (!std::isnan(best) && (win.argmax < 0 || v > best)) {
                best = v;
                win.argmax = off;
            }
        }
    }
    if (isMax(p)) {
        win.value = win.argmax < 0 ? (propagate ? NaN : -std::numeric_limits<double>::infinity()) : best;
    } else {
        win.divisor = p.mode == CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING ? p.windowH * p.windowW : inBounds;
        win.value = sum / win.divisor;
    }
    return win;
}

}  // namespace

extern "C" {

// y = alpha * pool(x) + beta * y.
cudnnStatus_t cudnnPoolingForward(cudnnHandle_t handle, const cudnnPoolingDescriptor_t poolingDesc, const void* alpha,
                                  const cudnnTensorDescriptor_t xDesc, const void* x, const void* beta,
                                  const cudnnTensorDescriptor_t yDesc, void* y) {
    DNN_ENTRY("cudnnPoolingForward");
    DNN_TRY(object(handle, fn, "handle"));
    DNN_TRY(object(poolingDesc, fn, "poolingDesc"));
    DNN_TRY(floatTensor(xDesc, fn, "xDesc"));
    DNN_TRY(floatTensor(yDesc, fn, "yDesc"));
    cudnnPoolingStruct p = *poolingDesc;
    Tensor tx = *xDesc, ty = *yDesc;
    DNN_TRY(poolingShapes(p, tx, ty, fn));
    float al, be, *px, *py;
    DNN_TRY(scalar(alpha, fn, "alpha", al));
    DNN_TRY(scalar(beta, fn, "beta", be));
    DNN_TRY(tensorData(x, tx, fn, "x", px));
    DNN_TRY(tensorData(y, ty, fn, "y", py));
    if (overlap(px, bytes(tx), py, bytes(ty))) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: x and y overlap", fn);
    }
    return launch(handle, [=] {
        forEachIndex(ty, [&](const int* c) {
            Window win = window(p, tx, px, c[0], c[1], c[2], c[3]);
            float& out = py[offsetOf(ty, c)];
            out = blend(al, win.value, be, out);
        });
    }, fn);
}

// dx = alpha * pool'(x) dy + beta * dx: max pooling routes each dy to its window's first maximum,
// average pooling spreads it over the window by the same divisor as the forward pass.
cudnnStatus_t cudnnPoolingBackward(cudnnHandle_t handle, const cudnnPoolingDescriptor_t poolingDesc, const void* alpha,
                                   const cudnnTensorDescriptor_t yDesc, const void* y,
                                   const cudnnTensorDescriptor_t dyDesc, const void* dy,
                                   const cudnnTensorDescriptor_t xDesc, const void* x, const void* beta,
                                   const cudnnTensorDescriptor_t dxDesc, void* dx) {
    DNN_ENTRY("cudnnPoolingBackward");
    DNN_TRY(object(handle, fn, "handle"));
    DNN_TRY(object(poolingDesc, fn, "poolingDesc"));
    DNN_TRY(floatTensor(yDesc, fn, "yDesc"));
    DNN_TRY(floatTensor(dyDesc, fn, "dyDesc"));
    DNN_TRY(floatTensor(xDesc, fn, "xDesc"));
    DNN_TRY(floatTensor(dxDesc, fn, "dxDesc"));
    cudnnPoolingStruct p = *poolingDesc;
    Tensor ty = *yDesc, tdy = *dyDesc, tx = *xDesc, tdx = *dxDesc;
    if (!sameDims(ty, tdy) || !sameDims(tx, tdx)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH, "%s: y %s / dy %s and x %s / dx %s must match pairwise",
                        fn, describe(ty).c_str(), describe(tdy).c_str(), describe(tx).c_str(), describe(tdx).c_str());
    }
    DNN_TRY(poolingShapes(p, tx, ty, fn));
    DNN_TRY(poolingShapes(p, tdx, tdy, fn));
    float al, be, *py, *pdy, *px, *pdx;
    DNN_TRY(scalar(alpha, fn, "alpha", al));
    DNN_TRY(scalar(beta, fn, "beta", be));
    DNN_TRY(tensorData(y, ty, fn, "y", py));
    DNN_TRY(tensorData(dy, tdy, fn, "dy", pdy));
    DNN_TRY(tensorData(x, tx, fn, "x", px));
    DNN_TRY(tensorData(dx, tdx, fn, "dx", pdx));
    (void) py;  // the maxima are found again in x, which cuDNN's deterministic mode also does
    return launch(handle, [=] {
        // Gradients accumulate per x element, indexed by x's offsets, then blend into dx.
        std::vector<double> acc(bytes(tx) / sizeof(float), 0.0);
        forEachIndex(tdy, [&](const int* c) {
            Window win = window(p, tx, px, c[0], c[1], c[2], c[3]);
            double g = pdy[offsetOf(tdy, c)];
            if (isMax(p)) {
                if (win.argmax >= 0) {
                    acc[win.argmax] += g;
                }
                return;
            }
            for (int r = 0; r < p.windowH; r++) {
                for (int s = 0; s < p.windowW; s++) {
                    int ih = c[2] * p.strideH - p.padH + r, iw = c[3] * p.strideW - p.padW + s;
                    if (ih >= 0 && ih < tx.dims[2] && iw >= 0 && iw < tx.dims[3]) {
                        int xc[4] = {c[0], c[1], ih, iw};
                        acc[offsetOf(tx, xc)] += g / win.divisor;
                    }
                }
            }
        });
        forEachIndex(tdx, [&](const int* c) {
            float& out = pdx[offsetOf(tdx, c)];
            out = blend(al, acc[offsetOf(tx, c)], be, out);
        });
    }, fn);
}

}  // extern "C"

namespace {

// What the batch-norm calls share. API reference: x, y (dx, dy) 4-d or 5-d with equal dimensions;
// bnScaleBiasMeanVarDesc "1xCx1x1 for 4D and 1xCx1x1x1 for 5D for spatial, and 1xCxHxW for 4D and
// 1xCxDxHxW for 5D for per-activation mode"; epsilon >= CUDNN_BN_MIN_EPSILON.
struct Norm {
    cudnnBatchNormMode_t mode = CUDNN_BATCHNORM_SPATIAL;
    Tensor x, param;
    long long channels() const { return elements(param); }
    // Channel (parameter index) of x coordinate c.
    long long channel(const int* c) const {
        if (mode != CUDNN_BATCHNORM_PER_ACTIVATION) {
            return c[1];
        }
        long long k = 0;
        for (int d = 1; d < x.rank; d++) {
            k = k * x.dims[d] + c[d];
        }
        return k;
    }
    // Values per channel: n * spatial (spatial modes) or n (per activation).
    long long count() const { return elements(x) / channels(); }
};

Status normShapes(cudnnBatchNormMode_t mode, const Tensor& x, const Tensor& param, double epsilon, const char* fn) {
    if (mode != CUDNN_BATCHNORM_PER_ACTIVATION && mode != CUDNN_BATCHNORM_SPATIAL &&
        mode != CUDNN_BATCHNORM_SPATIAL_PERSISTENT) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: mode %d is not a cudnnBatchNormMode_t", fn, mode);
    }
    if (x.rank != 4 && x.rank != 5) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: x %s must have 4 or 5 dimensions", fn, describe(x).c_str());
    }
    bool ok = param.rank == x.rank && param.dims[0] == 1 && param.dims[1] == x.dims[1];
    for (int d = 2; ok && d < x.rank; d++) {
        ok = param.dims[d] == (mode == CUDNN_BATCHNORM_PER_ACTIVATION ? x.dims[d] : 1);
    }
    if (!ok) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH,
                        "%s: bnScaleBiasMeanVarDesc %s is not the derived %s shape for x %s", fn,
                        describe(param).c_str(), mode == CUDNN_BATCHNORM_PER_ACTIVATION ? "1xCxHxW" : "1xCx1x1",
                        describe(x).c_str());
    }
    bool packed = true;
    for (int d = param.rank - 1, stride = 1; d >= 0; stride *= param.dims[d], d--) {
        packed = packed && (param.dims[d] == 1 || param.strides[d] == stride);
    }
    if (!packed) {
        return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED_LAYOUT, "%s: the stand-in needs a packed %s", fn,
                        describe(param).c_str());
    }
    if (!(epsilon >= CUDNN_BN_MIN_EPSILON)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: epsilon %g is below CUDNN_BN_MIN_EPSILON (%g)", fn, epsilon,
                        CUDNN_BN_MIN_EPSILON);
    }
    return CUDNN_STATUS_SUCCESS;
}

// The descriptors of the two forward calls: x and y of equal dimensions, and the parameter shape.
Status normForward(cudnnHandle_t handle, cudnnBatchNormMode_t mode, const Tensor* xDesc, const Tensor* yDesc,
                   const Tensor* bnDesc, double epsilon, const char* fn, Norm& nm, Tensor& y) {
    DNN_TRY(object(handle, fn, "handle"));
    DNN_TRY(floatTensor(xDesc, fn, "xDesc"));
    DNN_TRY(floatTensor(yDesc, fn, "yDesc"));
    DNN_TRY(floatTensor(bnDesc, fn, "bnScaleBiasMeanVarDesc"));
    nm = Norm{mode, *xDesc, *bnDesc};
    y = *yDesc;
    DNN_TRY(normShapes(mode, nm.x, nm.param, epsilon, fn));
    if (!sameDims(nm.x, y)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH, "%s: x %s and y %s differ", fn, describe(nm.x).c_str(),
                        describe(y).c_str());
    }
    return CUDNN_STATUS_SUCCESS;
}

// Per-channel mean and biased variance of x.
void moments(const Norm& nm, const float* px, std::vector<double>& mean, std::vector<double>& var) {
    mean.assign(static_cast<size_t>(nm.channels()), 0.0);
    var.assign(mean.size(), 0.0);
    double m = static_cast<double>(nm.count());
    forEachIndex(nm.x, [&](const int* c) { mean[nm.channel(c)] += px[offsetOf(nm.x, c)] / m; });
    forEachIndex(nm.x, [&](const int* c) {
        double d = px[offsetOf(nm.x, c)] - mean[nm.channel(c)];
        var[nm.channel(c)] += d * d / m;
    });
}

// scale * (x - mean) / sqrt(var + epsilon) + bias for every element of x, in forEachIndex order; the
// statistics are the batch's (std::vector<double>) or given ones (float* into device memory).
template <class Stats>
std::vector<double> normalize(const Norm& nm, const float* px, const float* scale, const float* bias,
                              const Stats& mean, const Stats& var, double epsilon) {
    return compute(nm.x, [&](const int* c) {
        long long ch = nm.channel(c);
        return scale[ch] * (px[offsetOf(nm.x, c)] - mean[ch]) / std::sqrt(var[ch] + epsilon) + bias[ch];
    });
}

// A parameter operand: a device range of bnScaleBiasMeanVarDesc's size.
Status param(const void* p, const Norm& nm, const char* fn, const char* arg, float*& out) {
    return tensorData(p, nm.param, fn, arg, out);
}

// Two parameter operands that may be NULL, but only together; both checked when given.
Status optionalPair(const void* a, const void* b, const Norm& nm, const char* fn, const char* aName, const char* bName,
                    float*& pa, float*& pb) {
    if ((a == nullptr) != (b == nullptr)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: %s and %s may be NULL only together", fn, aName, bName);
    }
    if (a != nullptr) {
        DNN_TRY(param(a, nm, fn, aName, pa));
        DNN_TRY(param(b, nm, fn, bName, pb));
    }
    return CUDNN_STATUS_SUCCESS;
}

}  // namespace

extern "C" {

// y = alpha * (scale * (x - mean) / sqrt(var + eps) + bias) + beta * y with the batch's mean and
// biased variance. "runningMean = runningMean*(1-factor) + newMean*factor", likewise the running
// variance with the unbiased batch variance (var * m / (m - 1)); resultSaveInvVariance holds
// 1 / sqrt(biased var + epsilon). Running and save pointers may be NULL, each pair only together.
cudnnStatus_t cudnnBatchNormalizationForwardTraining(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alpha, const void* beta,
    const cudnnTensorDescriptor_t xDesc, const void* x, const cudnnTensorDescriptor_t yDesc, void* y,
    const cudnnTensorDescriptor_t bnDesc, const void* bnScale, const void* bnBias, double exponentialAverageFactor,
    void* resultRunningMean, void* resultRunningVariance, double epsilon, void* resultSaveMean,
    void* resultSaveInvVariance) {
    DNN_ENTRY("cudnnBatchNormalizationForwardTraining");
    Norm nm;
    Tensor ty;
    DNN_TRY(normForward(handle, mode, xDesc, yDesc, bnDesc, epsilon, fn, nm, ty));
    float al, be, *px, *py, *scale, *bias, *rm = nullptr, *rv = nullptr, *sm = nullptr, *sv = nullptr;
    DNN_TRY(scalar(alpha, fn, "alpha", al));
    DNN_TRY(scalar(beta, fn, "beta", be));
    DNN_TRY(tensorData(x, nm.x, fn, "x", px));
    DNN_TRY(tensorData(y, ty, fn, "y", py));
    DNN_TRY(param(bnScale, nm, fn, "bnScale", scale));
    DNN_TRY(param(bnBias, nm, fn, "bnBias", bias));
    DNN_TRY(optionalPair(resultRunningMean, resultRunningVariance, nm, fn, "resultRunningMean", "resultRunningVariance",
                         rm, rv));
    DNN_TRY(optionalPair(resultSaveMean, resultSaveInvVariance, nm, fn, "resultSaveMean", "resultSaveInvVariance", sm,
                         sv));
    double factor = exponentialAverageFactor;
    return launch(handle, [=] {
        std::vector<double> mean, var;
        moments(nm, px, mean, var);
        double m = static_cast<double>(nm.count());
        // One value per channel has no unbiased variance; the stand-in keeps the biased one (0).
        double bessel = m > 1 ? m / (m - 1) : 1.0;
        store(ty, py, al, normalize(nm, px, scale, bias, mean, var, epsilon), be);
        for (size_t ch = 0; ch < mean.size(); ch++) {
            if (rm != nullptr) {
                rm[ch] = static_cast<float>((1 - factor) * rm[ch] + factor * mean[ch]);
                rv[ch] = static_cast<float>((1 - factor) * rv[ch] + factor * var[ch] * bessel);
            }
            if (sm != nullptr) {
                sm[ch] = static_cast<float>(mean[ch]);
                sv[ch] = static_cast<float>(1.0 / std::sqrt(var[ch] + epsilon));
            }
        }
    }, fn);
}

// y = alpha * (scale * (x - estimatedMean) / sqrt(estimatedVariance + eps) + bias) + beta * y.
cudnnStatus_t cudnnBatchNormalizationForwardInference(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alpha, const void* beta,
    const cudnnTensorDescriptor_t xDesc, const void* x, const cudnnTensorDescriptor_t yDesc, void* y,
    const cudnnTensorDescriptor_t bnDesc, const void* bnScale, const void* bnBias, const void* estimatedMean,
    const void* estimatedVariance, double epsilon) {
    DNN_ENTRY("cudnnBatchNormalizationForwardInference");
    Norm nm;
    Tensor ty;
    DNN_TRY(normForward(handle, mode, xDesc, yDesc, bnDesc, epsilon, fn, nm, ty));
    float al, be, *px, *py, *scale, *bias, *mean, *var;
    DNN_TRY(scalar(alpha, fn, "alpha", al));
    DNN_TRY(scalar(beta, fn, "beta", be));
    DNN_TRY(tensorData(x, nm.x, fn, "x", px));
    DNN_TRY(tensorData(y, ty, fn, "y", py));
    DNN_TRY(param(bnScale, nm, fn, "bnScale", scale));
    DNN_TRY(param(bnBias, nm, fn, "bnBias", bias));
    DNN_TRY(param(estimatedMean, nm, fn, "estimatedMean", mean));
    DNN_TRY(param(estimatedVariance, nm, fn, "estimatedVariance", var));
    return launch(handle, [=] {
        store(ty, py, al, normalize(nm, px, scale, bias, mean, var, epsilon), be);
    }, fn);
}

// dx, dScale, dBias from x and dy, using savedMean / savedInvVariance from the forward pass when given
// (both or neither; recomputed from x with epsilon otherwise). With xhat = (x - mean) * invStd over m
// values per channel: dBias = sum dy, dScale = sum dy * xhat,
// dx = scale * invStd / m * (m * dy - dBias - xhat * dScale); each blended by its alpha / beta pair.
cudnnStatus_t cudnnBatchNormalizationBackward(
    cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alphaDataDiff, const void* betaDataDiff,
    const void* alphaParamDiff, const void* betaParamDiff, const cudnnTensorDescriptor_t xDesc, const void* x,
    const cudnnTensorDescriptor_t dyDesc, const void* dy, const cudnnTensorDescriptor_t dxDesc, void* dx,
    const cudnnTensorDescriptor_t bnDesc, const void* bnScale, void* dBnScaleResult, void* dBnBiasResult,
    double epsilon, const void* savedMean, const void* savedInvVariance) {
    DNN_ENTRY("cudnnBatchNormalizationBackward");
    DNN_TRY(object(handle, fn, "handle"));
    DNN_TRY(floatTensor(xDesc, fn, "xDesc"));
    DNN_TRY(floatTensor(dyDesc, fn, "dyDesc"));
    DNN_TRY(floatTensor(dxDesc, fn, "dxDesc"));
    DNN_TRY(floatTensor(bnDesc, fn, "dBnScaleBiasDesc"));
    Norm nm{mode, *xDesc, *bnDesc};
    Tensor tdy = *dyDesc, tdx = *dxDesc;
    DNN_TRY(normShapes(mode, nm.x, nm.param, epsilon, fn));
    if (!sameDims(nm.x, tdy) || !sameDims(nm.x, tdx)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH, "%s: x %s, dy %s and dx %s must have equal dimensions",
                        fn, describe(nm.x).c_str(), describe(tdy).c_str(), describe(tdx).c_str());
    }
    float ad, bd, ap, bp, *px, *pdy, *pdx, *scale, *dScale, *dBias, *sm = nullptr, *sv = nullptr;
    DNN_TRY(scalar(alphaDataDiff, fn, "alphaDataDiff", ad));
    DNN_TRY(scalar(betaDataDiff, fn, "betaDataDiff", bd));
    DNN_TRY(scalar(alphaParamDiff, fn, "alphaParamDiff", ap));
    DNN_TRY(scalar(betaParamDiff, fn, "betaParamDiff", bp));
    DNN_TRY(tensorData(x, nm.x, fn, "x", px));
    DNN_TRY(tensorData(dy, tdy, fn, "dy", pdy));
    DNN_TRY(tensorData(dx, tdx, fn, "dx", pdx));
    DNN_TRY(param(bnScale, nm, fn, "bnScale", scale));
    DNN_TRY(param(dBnScaleResult, nm, fn, "dBnScaleResult", dScale));
    DNN_TRY(param(dBnBiasResult, nm, fn, "dBnBiasResult", dBias));
    DNN_TRY(optionalPair(savedMean, savedInvVariance, nm, fn, "savedMean", "savedInvVariance", sm, sv));
    return launch(handle, [=] {
        std::vector<double> mean, invStd;
        if (sm != nullptr) {
            mean.assign(sm, sm + nm.channels());
            invStd.assign(sv, sv + nm.channels());
        } else {
            moments(nm, px, mean, invStd);
            for (double& v : invStd) {
                v = 1.0 / std::sqrt(v + epsilon);
            }
        }
        size_t channels = static_cast<size_t>(nm.channels());
        std::vector<double> sumDy(channels, 0.0), sumDyXhat(channels, 0.0);
        forEachIndex(nm.x, [&](const int* c) {
            long long ch = nm.channel(c);
            double g = pdy[offsetOf(tdy, c)];
            sumDy[ch] += g;
            sumDyXhat[ch] += g * (px[offsetOf(nm.x, c)] - mean[ch]) * invStd[ch];
        });
        double m = static_cast<double>(nm.count());
        std::vector<double> out = compute(nm.x, [&](const int* c) {
            long long ch = nm.channel(c);
            double xhat = (px[offsetOf(nm.x, c)] - mean[ch]) * invStd[ch];
            return scale[ch] * invStd[ch] / m * (m * pdy[offsetOf(tdy, c)] - sumDy[ch] - xhat * sumDyXhat[ch]);
        });
        store(tdx, pdx, ad, out, bd);
        for (size_t ch = 0; ch < channels; ch++) {
            dScale[ch] = blend(ap, sumDyXhat[ch], bp, dScale[ch]);
            dBias[ch] = blend(ap, sumDy[ch], bp, dBias[ch]);
        }
    }, fn);
}

}  // extern "C"
