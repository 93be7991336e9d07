// jdl's own GPU kernels: only what cuBLAS and cuDNN lack.
//
// Loaded at run time by io.jdl.cuda.NativeKernels (cudaLibraryLoadData on the committed fatbin built by
// scripts/build-native). Every kernel is extern "C" so that its symbol is its plain name, and each one's
// parameter list is mirrored, type by type, in KernelLibrary.Kernel (a test compares the two).
//
// Parameter types are limited to what that test understands:
//   float* / const float* / int* / const int*   device pointers (int buffers hold Java ints)
//   const long long*                             device pointer to an int64 table (multi-tensor steps)
//   unsigned short* / const unsigned short*      device pointers to bf16 / fp16 bit patterns
//   unsigned char* / const unsigned char*        device pointers to bytes of any element type (jdl_cast, and
//                                                the pointwise kernels' operands, each with an int element code)
//   long long                                    64-bit element counts
//   unsigned long long                           64-bit seeds
//   int, float                                   scalars and flags (0 = false)
//
// Launch shapes (chosen by NativeKernels):
//   elementwise kernels: 1-D grid, blockDim JDL_BLOCK, grid-stride loop over n (64-bit indices);
//   *_rows kernels: one block of exactly JDL_BLOCK threads per row;
//   jdl_layer_norm_backward_columns: blockDim JDL_BLOCK, one block per JDL_COL_TILE columns and row chunk.
//
// Float32 arithmetic throughout (bf16 / fp16 operands of the pointwise kernels are widened on load and rounded once
// on store), no fast-math (IEEE division and sqrt, accurate expf/logf/erff).

#include <stdint.h>

#define JDL_BLOCK 256      // threads per block; the row reductions below rely on it (a power of two)
#define JDL_COL_TILE 32    // columns per block in jdl_layer_norm_backward_columns
#define JDL_ROW_LANES (JDL_BLOCK / JDL_COL_TILE)  // rows summed in parallel per column there

// ---------------------------------------------------------------------------------------------------
// Helpers

// Sum of v over the block (every thread gets the result). Needs blockDim.x == JDL_BLOCK.
// Ends with a barrier so that `shared` may be reused at once.
__device__ __forceinline__ float jdl_block_sum(float v, float* shared) {
    const int t = threadIdx.x;
    shared[t] = v;
    __syncthreads();
    for (int s = JDL_BLOCK / 2; s > 0; s >>= 1) {
        if (t < s) {
            shared[t] += shared[t + s];
        }
        __syncthreads();
    }
    const float r = shared[0];
    __syncthreads();
    return r;
}

// Maximum of v over the block (every thread gets the result). Needs blockDim.x == JDL_BLOCK.
__device__ __forceinline__ float jdl_block_max(float v, float* shared) {
    const int t = threadIdx.x;
    shared[t] = v;
    __syncthreads();
    for (int s = JDL_BLOCK / 2; s > 0; s >>= 1) {
        if (t < s) {
            shared[t] = fmaxf(shared[t], shared[t + s]);
        }
        __syncthreads();
    }
    const float r = shared[0];
    __syncthreads();
    return r;
}

// Element types and their conversions (issue #14).
//
// Half buffers are unsigned short* holding the bit patterns. The rounding is written out in integer arithmetic,
// the rule of io.jdl.backend.HalfPrecision (round to nearest even; overflow to inf; fp16 subnormals; NaN kept
// quiet with its sign and top payload bits), so that the GPU, its host emulation and the CPU reference agree bit
// for bit, NaNs included (cuda_bf16.h's __float2bfloat16_rn turns every NaN into 0x7FFF).

__device__ __forceinline__ unsigned short jdl_float_to_bf16(float v) {
    const unsigned int b = __float_as_uint(v);
    if ((b & 0x7fffffffu) > 0x7f800000u) {
        return (unsigned short)((b >> 16) | 0x0040u);
    }
    return (unsigned short)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);  // a carry into the exponent is right, up to inf
}

__device__ __forceinline__ unsigned short jdl_float_to_f16(float v) {
    const unsigned int b = __float_as_uint(v);
    const unsigned int sign = (b >> 16) & 0x8000u;
    const unsigned int abs = b & 0x7fffffffu;
    if (abs > 0x7f800000u) {
        return (unsigned short)(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
    }
    if (abs >= 0x477ff000u) {  // >= 65520, halfway between 65504 and 2^16
        return (unsigned short)(sign | 0x7c00u);
    }
    if (abs >= 0x38800000u) {  // >= 2^-14: normal; round at bit 13 and rebias the exponent 127 -> 15
        return (unsigned short)(sign | ((abs + 0xfffu + ((abs >> 13) & 1u) - 0x38000000u) >> 13));
    }
    if (abs <= 0x33000000u) {  // <= 2^-25: zero (the tie at 2^-25 goes to the even zero)
        return (unsigned short)sign;
    }
    const unsigned int shift = 126u - (abs >> 23);  // subnormal: the value in units of 2^-24, shift in [14, 24]
    const unsigned int m = (abs & 0x7fffffu) | 0x800000u;
    unsigned int units = m >> shift;
    const unsigned int rest = m & ((1u << shift) - 1u);
    const unsigned int half = 1u << (shift - 1u);
    if (rest > half || (rest == half && (units & 1u) != 0u)) {
        units++;
    }
    return (unsigned short)(sign | units);
}

__device__ __forceinline__ float jdl_bf16_to_float(unsigned short h) {
    return __uint_as_float((unsigned int)h << 16);
}

__device__ __forceinline__ float jdl_f16_to_float(unsigned short h) {
    const unsigned int sign = ((unsigned int)h & 0x8000u) << 16;
    const unsigned int exponent = ((unsigned int)h >> 10) & 0x1fu;
    const unsigned int mantissa = (unsigned int)h & 0x3ffu;
    if (exponent == 0x1fu) {
        return __uint_as_float(mantissa == 0u ? sign | 0x7f800000u : sign | 0x7fc00000u | (mantissa << 13));
    }
    if (exponent == 0u) {  // zero or subnormal: mantissa * 2^-24, exact
        return __uint_as_float(sign | __float_as_uint((float)mantissa * 5.9604644775390625e-8f));
    }
    return __uint_as_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

// Dtype conversions (io.jdl.device.DType's rules, PyTorch's CPU results). Element codes, the order of
// io.jdl.cuda.MixedPrecisionKernels.Element: 0 float32, 1 bfloat16, 2 float16, 3 int32, 4 int64, 5 uint8, 6 bool.
// A float element is read as a float (exact), an integer one as a long long; the value is then stored rounded to
// nearest even (floats), truncated toward zero with NaN / inf / out of range giving the type's minimum (float to
// int32 / int64), through int64 (to uint8), wrapped (integer to narrower integer), or as value != 0 (bool).

#define JDL_F32 0
#define JDL_BF16 1
#define JDL_F16 2
#define JDL_I32 3
#define JDL_I64 4
#define JDL_U8 5
#define JDL_BOOL 6

__device__ __forceinline__ float jdl_load_float(const unsigned char* x, int type, long long i) {
    if (type == JDL_F32) return ((const float*)x)[i];
    const unsigned short h = ((const unsigned short*)x)[i];
    return type == JDL_BF16 ? jdl_bf16_to_float(h) : jdl_f16_to_float(h);
}

__device__ __forceinline__ long long jdl_load_int(const unsigned char* x, int type, long long i) {
    switch (type) {
        case JDL_I32: return ((const int*)x)[i];
        case JDL_I64: return ((const long long*)x)[i];
        case JDL_U8: return x[i];
        default: return x[i] != 0 ? 1 : 0;  // bool
    }
}

// Truncation toward zero; NaN (every comparison false), infinities and out-of-range values give -2^31 / -2^63.
__device__ __forceinline__ int jdl_float_to_int32(float v) {
    return v >= -2147483648.0f && v < 2147483648.0f ? (int)v : (int)0x80000000u;
}

__device__ __forceinline__ long long jdl_float_to_int64(float v) {
    return v >= -9223372036854775808.0f && v < 9223372036854775808.0f ? (long long)v
                                                                       : (long long)0x8000000000000000ull;
}

__device__ __forceinline__ void jdl_store_float(unsigned char* y, int type, long long i, float v) {
    switch (type) {
        case JDL_F32: ((float*)y)[i] = v; break;
        case JDL_BF16: ((unsigned short*)y)[i] = jdl_float_to_bf16(v); break;
        case JDL_F16: ((unsigned short*)y)[i] = jdl_float_to_f16(v); break;
        case JDL_I32: ((int*)y)[i] = jdl_float_to_int32(v); break;
        case JDL_I64: ((long long*)y)[i] = jdl_float_to_int64(v); break;
        case JDL_U8: y[i] = (unsigned char)(unsigned long long)jdl_float_to_int64(v); break;
        default: y[i] = v != 0.0f ? 1 : 0;  // bool; NaN != 0
    }
}

__device__ __forceinline__ void jdl_store_int(unsigned char* y, int type, long long i, long long v) {
    switch (type) {
        case JDL_F32: case JDL_BF16: case JDL_F16: jdl_store_float(y, type, i, (float)v); break;  // nearest even
        case JDL_I32: ((int*)y)[i] = (int)(unsigned int)(unsigned long long)v; break;  // the low 32 bits
        case JDL_I64: ((long long*)y)[i] = v; break;
        case JDL_U8: y[i] = (unsigned char)(unsigned long long)v; break;
        default: y[i] = v != 0 ? 1 : 0;
    }
}

// The pointwise kernels (activations, arithmetic, biases, dropout, sums) take every float operand as a byte
// pointer with its own element code (JDL_F32, JDL_BF16 or JDL_F16; the Java side refuses the others): each
// element is read widened to float32 (exact), computed in float32, and its result rounded once, to nearest even,
// into the output's type. All-JDL_F32 operands compute exactly what the float32-only kernels did. The code is the
// same for every thread of a launch (a uniform branch, free on these memory-bound kernels), so one kernel per op
// serves every combination of types, one launch where a cast before and after took three.

// First index of this thread and stride of a 1-D grid-stride loop, in 64 bits.
#define JDL_GRID_STRIDE_LOOP(i, n)                                                         \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n);           \
         i += (long long)blockDim.x * gridDim.x)

// The pointwise activations' forward formulas, shared by the one-activation kernels and jdl_bias_act.
#define JDL_SQRT1_2 0.70710678118654752440f      // 1/sqrt(2)
#define JDL_INV_SQRT_2PI 0.39894228040143267794f // 1/sqrt(2*pi)

// Activation codes (PointwiseKernels.Epilogue in Java)
#define JDL_ACT_IDENTITY 0
#define JDL_ACT_RELU 1
#define JDL_ACT_LEAKY_RELU 2  // param: the negative slope
#define JDL_ACT_SIGMOID 3
#define JDL_ACT_TANH 4
#define JDL_ACT_GELU 5        // exact (erf) form

__device__ __forceinline__ float jdl_activate(int act, float v, float param) {
    switch (act) {
        case JDL_ACT_RELU: return v > 0.0f || v != v ? v : 0.0f;  // NaN stays NaN, as torch.relu
        case JDL_ACT_LEAKY_RELU: return v > 0.0f ? v : param * v;
        case JDL_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
        case JDL_ACT_TANH: return tanhf(v);
        case JDL_ACT_GELU: return v * 0.5f * (1.0f + erff(v * JDL_SQRT1_2));
        default: return v;
    }
}

// ---------------------------------------------------------------------------------------------------
// Leaky ReLU

// y = x > 0 ? x : slope * x
extern "C" __global__ void jdl_leaky_relu(const unsigned char* x, unsigned char* y, long long n, float slope, int xType,
                                          int yType) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        jdl_store_float(y, yType, i, jdl_activate(JDL_ACT_LEAKY_RELU, jdl_load_float(x, xType, i), slope));
    }
}

// dx = x > 0 ? dy : slope * dy
extern "C" __global__ void jdl_leaky_relu_backward(const unsigned char* x, const unsigned char* dy, unsigned char* dx,
                                                   long long n, float slope, int xType, int dyType, int dxType) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        const float g = jdl_load_float(dy, dyType, i);
        jdl_store_float(dx, dxType, i, jdl_load_float(x, xType, i) > 0.0f ? g : slope * g);
    }
}

// ---------------------------------------------------------------------------------------------------
// GELU, exact (erf) form, as torch.nn.GELU(approximate='none')

// y = x * 0.5 * (1 + erf(x / sqrt(2)))
extern "C" __global__ void jdl_gelu(const unsigned char* x, unsigned char* y, long long n, int xType, int yType) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        jdl_store_float(y, yType, i, jdl_activate(JDL_ACT_GELU, jdl_load_float(x, xType, i), 0.0f));
    }
}

// dx = dy * (Phi(x) + x * phi(x)), Phi the normal CDF, phi its density
extern "C" __global__ void jdl_gelu_backward(const unsigned char* x, const unsigned char* dy, unsigned char* dx,
                                             long long n, int xType, int dyType, int dxType) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        const float v = jdl_load_float(x, xType, i);
        const float cdf = 0.5f * (1.0f + erff(v * JDL_SQRT1_2));
        const float pdf = JDL_INV_SQRT_2PI * expf(-0.5f * v * v);
        jdl_store_float(dx, dxType, i, jdl_load_float(dy, dyType, i) * (cdf + v * pdf));
    }
}

// ---------------------------------------------------------------------------------------------------
// Softmax cross-entropy of logits [rows, classes] against int targets [rows], one kernel each way.
// A target outside [0, classes) that is not ignoreIndex gives NaN (loss) / a NaN row (gradient), so that
// a bad label shows instead of reading out of bounds.

#define JDL_CE_MAX_BLOCKS 1024  // most blocks of jdl_cross_entropy: the size of its partials workspace

// loss[0] = scale * sum over rows r with targets[r] != ignoreIndex of (logSumExp[r] - logits[r, targets[r]]),
// logSumExp[r] = m + log(sum_j exp(logits[r, j] - m)), m the row's maximum (0 for ignored rows): saved for the
// backward, which then needs no row reduction. scale is 1 / (rows not ignored), or 0 when every row is.
// Grid: 1 to JDL_CE_MAX_BLOCKS blocks of exactly JDL_BLOCK threads; block b takes rows b, b + gridDim.x, ...
// and writes their sum to partials[b]; the last block to finish (counted in *ticket, which must be 0 at launch)
// adds the partials in block order (deterministic for a given grid), writes loss[0] and sets *ticket back to 0
// for the next launch. One launch where a per-row kernel, a sum and a scaling took three.
extern "C" __global__ void jdl_cross_entropy(const float* logits, const int* targets, float* logSumExp,
                                             float* partials, int* ticket, float* loss, int rows, int classes,
                                             int ignoreIndex, float scale) {
    __shared__ float shared[JDL_BLOCK];
    __shared__ int isLast;
    float blockLoss = 0.0f;  // thread 0's
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const int target = targets[r];  // the same for the whole block: no barrier is skipped by part of it
        if (target == ignoreIndex) {
            if (threadIdx.x == 0) {
                logSumExp[r] = 0.0f;
            }
            continue;
        }
        const float* row = logits + (long long)r * classes;
        float m = -INFINITY;
        for (int j = threadIdx.x; j < classes; j += JDL_BLOCK) {
            m = fmaxf(m, row[j]);
        }
        m = jdl_block_max(m, shared);
        float s = 0.0f;
        for (int j = threadIdx.x; j < classes; j += JDL_BLOCK) {
            s += expf(row[j] - m);
        }
        s = jdl_block_sum(s, shared);
        if (threadIdx.x == 0) {
            const float lse = m + logf(s);
            logSumExp[r] = lse;
            blockLoss += target < 0 || target >= classes ? __int_as_float(0x7fc00000) : lse - row[target];
        }
    }
    if (threadIdx.x == 0) {
        partials[blockIdx.x] = blockLoss;
        __threadfence();  // the partial is visible to every block before the ticket counts this one
        isLast = atomicAdd(ticket, 1) == (int)gridDim.x - 1;
    }
    __syncthreads();
    if (!isLast) {
        return;  // whole block leaves together
    }
    __threadfence();
    const volatile float* done = partials;  // written by other blocks: read from memory, not a cache
    float v = 0.0f;
    for (int b = threadIdx.x; b < (int)gridDim.x; b += JDL_BLOCK) {
        v += done[b];
    }
    v = jdl_block_sum(v, shared);
    if (threadIdx.x == 0) {
        loss[0] = scale * v;
        *ticket = 0;
    }
}

// dLogits[r, j] = gradOut[0] * scale * (exp(logits[r, j] - logSumExp[r]) - (j == targets[r])), from the forward's
// saved logSumExp (so no row reduction: an elementwise grid over n = rows * classes); the whole row 0 where
// targets[r] == ignoreIndex. dLogits may be logits (each element is read, then written, by one thread).
extern "C" __global__ void jdl_cross_entropy_backward(const float* logits, const int* targets, const float* logSumExp,
                                                      const float* gradOut, float* dLogits, long long n, int classes,
                                                      int ignoreIndex, float scale) {
    const float g = gradOut[0] * scale;
    JDL_GRID_STRIDE_LOOP(i, n) {
        const long long r = i / classes;
        const int j = (int)(i - r * classes);
        const int target = targets[r];
        float d;
        if (target == ignoreIndex) {
            d = 0.0f;
        } else if (target < 0 || target >= classes) {
            d = __int_as_float(0x7fc00000);
        } else {
            d = g * (expf(logits[i] - logSumExp[r]) - (j == target ? 1.0f : 0.0f));
        }
        dLogits[i] = d;
    }
}

// ---------------------------------------------------------------------------------------------------
// Optimisers, with torch.optim semantics

// torch.optim.SGD, one step:
//   g = grad + weightDecay * param
//   if momentum != 0: buf = firstStep ? g : momentum * buf + (1 - dampening) * g
//                     g = nesterov ? g + momentum * buf : buf
//   param -= lr * g
// momentumBuf is not touched (and may be NULL) when momentum == 0.
// One element of the SGD step (shared by jdl_sgd_step and jdl_sgd_multi, so that they agree bit for bit).
__device__ __forceinline__ void jdl_sgd_update(float* param, const float* grad, float* momentumBuf, long long i,
                                               float lr, float momentum, float dampening, float weightDecay,
                                               int nesterov, int firstStep) {
    const float p = param[i];
    float g = grad[i];
    if (weightDecay != 0.0f) {
        g += weightDecay * p;
    }
    if (momentum != 0.0f) {
        const float buf = firstStep ? g : momentum * momentumBuf[i] + (1.0f - dampening) * g;
        momentumBuf[i] = buf;
        g = nesterov ? g + momentum * buf : buf;
    }
    param[i] = p - lr * g;
}

extern "C" __global__ void jdl_sgd_step(float* param, const float* grad, float* momentumBuf, long long n, float lr,
                                        float momentum, float dampening, float weightDecay, int nesterov,
                                        int firstStep) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        jdl_sgd_update(param, grad, momentumBuf, i, lr, momentum, dampening, weightDecay, nesterov, firstStep);
    }
}

// torch.optim.Adam (decoupled == 0: g = grad + weightDecay * param) or AdamW (decoupled != 0:
// param *= 1 - lr * weightDecay), one step t >= 1, with the bias corrections computed by the caller:
//   stepSize = lr / (1 - beta1^t),  biasCorrection2Sqrt = sqrt(1 - beta2^t)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   param -= stepSize * m / (sqrt(v) / biasCorrection2Sqrt + eps)
// One element of the Adam step (shared by jdl_adam_step and jdl_adam_multi).
__device__ __forceinline__ void jdl_adam_element(float* param, const float* grad, float* m, float* v, long long i,
                                                float lr, float beta1, float beta2, float eps, float weightDecay,
                                                int decoupled, float stepSize, float biasCorrection2Sqrt) {
    float p = param[i];
    float g = grad[i];
    if (weightDecay != 0.0f) {
        if (decoupled) {
            p *= 1.0f - lr * weightDecay;
        } else {
            g += weightDecay * p;
        }
    }
    const float mi = beta1 * m[i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = p - stepSize * mi / (sqrtf(vi) / biasCorrection2Sqrt + eps);
}

extern "C" __global__ void jdl_adam_step(float* param, const float* grad, float* m, float* v, long long n, float lr,
                                         float beta1, float beta2, float eps, float weightDecay, int decoupled,
                                         float stepSize, float biasCorrection2Sqrt) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        jdl_adam_element(param, grad, m, v, i, lr, beta1, beta2, eps, weightDecay, decoupled, stepSize,
                        biasCorrection2Sqrt);
    }
}

// Adam inside a CUDA graph: the step number t = stepBase + *replays is read on the device (a replay counter
// that the graph itself advances, jdl_count_replay), so each replay applies the next step's bias
// corrections, computed in double as the host does for jdl_adam_step (PyTorch's capturable Adam likewise
// keeps its step on the device). The counter is a float: exact up to 2^24 replays.
extern "C" __global__ void jdl_adam_step_counted(float* param, const float* grad, float* m, float* v, long long n,
                                                 float lr, float beta1, float beta2, float eps, float weightDecay,
                                                 int decoupled, int stepBase, const float* replays) {
    const double t = (double)stepBase + (double)replays[0];
    const float stepSize = (float)((double)lr / (1.0 - pow((double)beta1, t)));
    const float biasCorrection2Sqrt = (float)sqrt(1.0 - pow((double)beta2, t));
    JDL_GRID_STRIDE_LOOP(i, n) {
        jdl_adam_element(param, grad, m, v, i, lr, beta1, beta2, eps, weightDecay, decoupled, stepSize,
                         biasCorrection2Sqrt);
    }
}

// *counter += 1, by one thread: the replay counter of a CUDA graph, advanced as the graph's last node.
extern "C" __global__ void jdl_count_replay(float* counter) {
    if (blockIdx.x == 0 && threadIdx.x == 0) counter[0] += 1.0f;
}

// ---------------------------------------------------------------------------------------------------
// Dropout with a counter-based hash, bit-identical to NativeKernels.dropoutKeep in Java:
//   h    = splitmix64(seed ^ (index * 0x9E3779B97F4A7C15))
//   u    = h >>> 40                     (the top 24 bits: 0 <= u < 2^24)
//   keep = u >= (uint32)(p * 2^24)      (p * 2^24 is exact in float32; the cast truncates)

__device__ __forceinline__ uint64_t jdl_splitmix64(uint64_t x) {
    uint64_t z = x + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

__device__ __forceinline__ bool jdl_dropout_keep(uint64_t seed, uint64_t index, float p) {
    const uint64_t h = jdl_splitmix64(seed ^ (index * 0x9E3779B97F4A7C15ULL));
    const uint32_t u = (uint32_t)(h >> 40);
    const uint32_t threshold = (uint32_t)(p * 16777216.0f);
    return u >= threshold;
}

// mask[i] = keep(seed, i, p) ? 1 / (1 - p) : 0;  y[i] = x[i] * mask[i].  0 <= p <= 1 (checked by the caller).
// x and y of any float type (pointwise operands); the mask stays float32, since 1 / (1 - p) would not survive a
// rounding to half.
__device__ __forceinline__ void jdl_dropout_apply(const unsigned char* x, unsigned char* y, float* mask, long long n,
                                                  float p, unsigned long long seed, int xType, int yType) {
    const float scale = 1.0f / (1.0f - p);
    JDL_GRID_STRIDE_LOOP(i, n) {
        const float k = jdl_dropout_keep(seed, (uint64_t)i, p) ? scale : 0.0f;
        mask[i] = k;
        jdl_store_float(y, yType, i, jdl_load_float(x, xType, i) * k);
    }
}

extern "C" __global__ void jdl_dropout(const unsigned char* x, unsigned char* y, float* mask, long long n, float p,
                                       unsigned long long seed, int xType, int yType) {
    jdl_dropout_apply(x, y, mask, n, p, seed, xType, yType);
}

// Dropout inside a CUDA graph: seed = seedBase + *replays (the graph's replay counter), so replay k draws
// the mask of the k-th next seed, as k more eager steps would (a seed baked into the graph would repeat one
// mask forever; PyTorch's graph-safe RNG keeps its offset on the device for the same reason).
extern "C" __global__ void jdl_dropout_counted(const unsigned char* x, unsigned char* y, float* mask, long long n,
                                               float p, unsigned long long seedBase, const float* replays, int xType,
                                               int yType) {
    jdl_dropout_apply(x, y, mask, n, p, seedBase + (unsigned long long)replays[0], xType, yType);
}

// ---------------------------------------------------------------------------------------------------
// Embedding lookup: out[i, :] = weight[ids[i], :] for i < n, weight [vocab, dim]. The host validates the
// ids; an id outside [0, vocab) still never reads out of bounds (its row is written as zeros).
extern "C" __global__ void jdl_embedding_forward(const float* weight, const int* ids, float* out, long long n,
                                                 int dim, int vocab) {
    const long long total = n * (long long)dim;
    JDL_GRID_STRIDE_LOOP(k, total) {
        const long long i = k / dim;
        const int j = (int)(k - i * dim);
        const int id = ids[i];
        out[k] = (id >= 0 && id < vocab) ? weight[(long long)id * dim + j] : 0.0f;
    }
}

// ---------------------------------------------------------------------------------------------------
// Embedding backward: dWeight[ids[i], :] += dOut[i, :] for i < n, dWeight [vocab, dim] zeroed by the caller.
// Repeated ids accumulate through atomicAdd (so the order of the float sums varies from run to run).
// Ids outside [0, vocab) are skipped rather than written out of bounds.
extern "C" __global__ void jdl_embedding_backward(const float* dOut, const int* ids, float* dWeight, long long n,
                                                  int dim, int vocab) {
    const long long total = n * (long long)dim;
    JDL_GRID_STRIDE_LOOP(k, total) {
        const long long i = k / dim;
        const int j = (int)(k - i * dim);
        const int id = ids[i];
        if (id >= 0 && id < vocab) {
            atomicAdd(dWeight + (long long)id * dim + j, dOut[k]);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Layer norm over rows of x [rows, cols]; one block of JDL_BLOCK threads per row.
// gamma == NULL means all ones, beta == NULL all zeros.

// mean[r] = mean(x[r, :]);  rstd[r] = 1 / sqrt(var + eps) with the biased variance (two passes);
// y = (x - mean) * rstd * gamma + beta.  y may be x itself.
extern "C" __global__ void jdl_layer_norm_rows(const float* x, const float* gamma, const float* beta, float* y,
                                               float* mean, float* rstd, int rows, int cols, float eps) {
    __shared__ float shared[JDL_BLOCK];
    const int r = blockIdx.x;
    if (r >= rows) {
        return;
    }
    const float* xr = x + (long long)r * cols;
    float* yr = y + (long long)r * cols;

    float s = 0.0f;
    for (int j = threadIdx.x; j < cols; j += JDL_BLOCK) {
        s += xr[j];
    }
    const float mu = jdl_block_sum(s, shared) / (float)cols;

    float q = 0.0f;
    for (int j = threadIdx.x; j < cols; j += JDL_BLOCK) {
        const float d = xr[j] - mu;
        q += d * d;
    }
    const float var = jdl_block_sum(q, shared) / (float)cols;
    const float rs = 1.0f / sqrtf(var + eps);

    if (threadIdx.x == 0) {
        mean[r] = mu;
        rstd[r] = rs;
    }
    for (int j = threadIdx.x; j < cols; j += JDL_BLOCK) {
        const float g = gamma != NULL ? gamma[j] : 1.0f;
        const float b = beta != NULL ? beta[j] : 0.0f;
        yr[j] = (xr[j] - mu) * rs * g + b;
    }
}

// dx for layer norm, with xhat = (x - mean) * rstd and g = dy * gamma:
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat))    (means over the row)
// dx is overwritten; it may be dy or x itself (each element is read and written by the same thread,
// after the reductions).
extern "C" __global__ void jdl_layer_norm_backward_rows(const float* x, const float* gamma, const float* mean,
                                                        const float* rstd, const float* dy, float* dx, int rows,
                                                        int cols) {
    __shared__ float shared[JDL_BLOCK];
    const int r = blockIdx.x;
    if (r >= rows) {
        return;
    }
    const float* xr = x + (long long)r * cols;
    const float* dyr = dy + (long long)r * cols;
    float* dxr = dx + (long long)r * cols;
    const float mu = mean[r];
    const float rs = rstd[r];

    float sg = 0.0f;
    float sgx = 0.0f;
    for (int j = threadIdx.x; j < cols; j += JDL_BLOCK) {
        const float g = dyr[j] * (gamma != NULL ? gamma[j] : 1.0f);
        const float xhat = (xr[j] - mu) * rs;
        sg += g;
        sgx += g * xhat;
    }
    const float meanG = jdl_block_sum(sg, shared) / (float)cols;
    const float meanGX = jdl_block_sum(sgx, shared) / (float)cols;

    for (int j = threadIdx.x; j < cols; j += JDL_BLOCK) {
        const float g = dyr[j] * (gamma != NULL ? gamma[j] : 1.0f);
        const float xhat = (xr[j] - mu) * rs;
        dxr[j] = rs * (g - meanG - xhat * meanGX);
    }
}

// dGamma[j] = sum over rows of dy[r, j] * xhat[r, j];  dBeta[j] = sum over rows of dy[r, j], parallel over rows as
// well as columns: block b takes column tile b % tiles (JDL_COL_TILE columns, tiles = ceil(cols / JDL_COL_TILE)) and
// row chunk b / tiles (rows [chunk * rowsPerChunk, +rowsPerChunk)); grid = tiles * chunks, blockDim JDL_BLOCK =
// JDL_COL_TILE columns x JDL_ROW_LANES row lanes. Lane l sums rows l, l + JDL_ROW_LANES, ... of the chunk; the lanes
// are added in shared memory and the chunk's sums written to partialG / partialB [chunks, cols] (either may be NULL:
// not computed). With one chunk these are dGamma / dBeta themselves; with more, jdl_layer_norm_backward_finish adds the
// chunks. Launched before jdl_layer_norm_backward_rows, so that dx may alias dy.
extern "C" __global__ void jdl_layer_norm_backward_columns(const float* x, const float* mean, const float* rstd,
                                                           const float* dy, float* partialG, float* partialB, int rows,
                                                           int cols, int rowsPerChunk) {
    __shared__ float sharedG[JDL_ROW_LANES][JDL_COL_TILE + 1];
    __shared__ float sharedB[JDL_ROW_LANES][JDL_COL_TILE + 1];
    const int tiles = (cols + JDL_COL_TILE - 1) / JDL_COL_TILE;
    const int chunk = blockIdx.x / tiles;
    const int c = threadIdx.x % JDL_COL_TILE;     // column within the tile: adjacent threads, adjacent columns
    const int lane = threadIdx.x / JDL_COL_TILE;  // row lane
    const int j = (blockIdx.x % tiles) * JDL_COL_TILE + c;
    const long long first = (long long)chunk * rowsPerChunk;
    const long long last = first + rowsPerChunk < rows ? first + rowsPerChunk : rows;
    if (chunk > 0 && first >= rows) {
        return;  // a block past the last chunk (whole block leaves together); chunk 0 writes zeros for rows == 0
    }

    float sgx = 0.0f;
    float sb = 0.0f;
    if (j < cols) {
        for (long long r = first + lane; r < last; r += JDL_ROW_LANES) {
            const long long k = r * cols + j;
            const float d = dy[k];
            sgx += d * ((x[k] - mean[r]) * rstd[r]);
            sb += d;
        }
    }
    sharedG[lane][c] = sgx;
    sharedB[lane][c] = sb;
    __syncthreads();
    if (lane == 0 && j < cols) {
        float tg = 0.0f;
        float tb = 0.0f;
        for (int l = 0; l < JDL_ROW_LANES; l++) {
            tg += sharedG[l][c];
            tb += sharedB[l][c];
        }
        const long long at = (long long)chunk * cols + j;
        if (partialG != NULL) {
            partialG[at] = tg;
        }
        if (partialB != NULL) {
            partialB[at] = tb;
        }
    }
}

// dGamma[j] = sum over chunks of partialG[chunk, j], and likewise dBeta from partialB (either pair may be NULL):
// the second pass of jdl_layer_norm_backward_columns when it used more than one row chunk. Grid-stride over cols.
extern "C" __global__ void jdl_layer_norm_backward_finish(const float* partialG, const float* partialB, float* dGamma,
                                                          float* dBeta, int chunks, int cols) {
    JDL_GRID_STRIDE_LOOP(j, cols) {
        float tg = 0.0f;
        float tb = 0.0f;
        for (int k = 0; k < chunks; k++) {
            if (partialG != NULL) {
                tg += partialG[(long long)k * cols + j];
            }
            if (partialB != NULL) {
                tb += partialB[(long long)k * cols + j];
            }
        }
        if (dGamma != NULL) {
            dGamma[j] = tg;
        }
        if (dBeta != NULL) {
            dBeta[j] = tb;
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Attention softmax over the rows of scores [batch, heads, tq, tk] (rows = batch * heads * tq), one block
// of JDL_BLOCK threads per row. Row r is query i = r % tq of batch b = r / (heads * tq). Key j is allowed
// unless (causal != 0 and j > i) or (keyMask != NULL and keyMask[b * tk + j] == 0).
//   probs[r, j] = exp(scale * s[r, j] - m) / sum_allowed exp(scale * s[r, k] - m)  for allowed j, else 0,
// with m the row's maximum over allowed keys; a row with no allowed key is all zeros (not NaN).
// probs may be scores itself.
extern "C" __global__ void jdl_attention_softmax_rows(const float* scores, const float* keyMask, float* probs,
                                                      int rows, int heads, int tq, int tk, float scale,
                                                      int causal) {
    __shared__ float shared[JDL_BLOCK];
    const int r = blockIdx.x;
    if (r >= rows) {
        return;
    }
    const int i = r % tq;
    const int b = r / (heads * tq);
    const float* sr = scores + (long long)r * tk;
    float* pr = probs + (long long)r * tk;
    const float* mr = keyMask != NULL ? keyMask + (long long)b * tk : NULL;
    const int limit = causal ? (i + 1 < tk ? i + 1 : tk) : tk;  // keys j < limit pass the causal test

    float m = -INFINITY;
    for (int j = threadIdx.x; j < limit; j += JDL_BLOCK) {
        if (mr == NULL || mr[j] != 0.0f) {
            m = fmaxf(m, scale * sr[j]);
        }
    }
    m = jdl_block_max(m, shared);

    float s = 0.0f;
    for (int j = threadIdx.x; j < limit; j += JDL_BLOCK) {
        if (mr == NULL || mr[j] != 0.0f) {
            s += expf(scale * sr[j] - m);
        }
    }
    s = jdl_block_sum(s, shared);

    const bool empty = !(m > -INFINITY);  // no allowed key in this row
    for (int j = threadIdx.x; j < tk; j += JDL_BLOCK) {
        const bool allowed = j < limit && (mr == NULL || mr[j] != 0.0f);
        pr[j] = (allowed && !empty) ? expf(scale * sr[j] - m) / s : 0.0f;
    }
}

// Backward of jdl_attention_softmax_rows given its output p [rows, cols] and dp:
//   dScores[r, j] = scale * p[r, j] * (dp[r, j] - sum_k dp[r, k] * p[r, k])
// (masked keys have p = 0 and so get 0). dScores may be dp itself.
extern "C" __global__ void jdl_attention_softmax_backward_rows(const float* p, const float* dp, float* dScores,
                                                               int rows, int cols, float scale) {
    __shared__ float shared[JDL_BLOCK];
    const int r = blockIdx.x;
    if (r >= rows) {
        return;
    }
    const float* prow = p + (long long)r * cols;
    const float* drow = dp + (long long)r * cols;
    float* out = dScores + (long long)r * cols;
    float s = 0.0f;
    for (int j = threadIdx.x; j < cols; j += JDL_BLOCK) {
        s += drow[j] * prow[j];
    }
    s = jdl_block_sum(s, shared);
    for (int j = threadIdx.x; j < cols; j += JDL_BLOCK) {
        out[j] = scale * prow[j] * (drow[j] - s);
    }
}

// ---------------------------------------------------------------------------------------------------
// Key padding for cuDNN's fused attention, which takes it as an additive bias on the scaled scores.
// bias [batch, 1, tq, tk] in a 16-bit type (bf16 != 0: bfloat16, else float16), n = batch * tq * tk:
//   bias[b, 0, i, j] = 0 where keyMask[b * tk + j] != 0 (kept), else `hidden` (the type's bits of a large
// negative value: exp of it, minus the row's maximum, is 0 in float32).
extern "C" __global__ void jdl_attention_key_bias(const float* keyMask, unsigned short* bias, long long n, int tq,
                                                  int tk, int hidden) {
    JDL_GRID_STRIDE_LOOP(e, n) {
        const long long b = e / ((long long)tq * tk);
        const int j = (int)(e % tk);
        bias[e] = keyMask[b * tk + j] != 0.0f ? (unsigned short)0 : (unsigned short)hidden;
    }
}

// Zeroes the rows of x (16-bit, rows of d elements) that belong to a query with no visible key: query i of
// batch b sees key j when keyMask[b * tk + j] != 0 and (causal == 0 or j <= i). Row (b, h, i) starts at
// b * batchStride + h * headStride + i * rowStride elements. One thread per (b, i), n = batch * tq; what the
// GEMM attention gives such a query (a zero output, no gradient), for cuDNN's output and incoming gradient.
extern "C" __global__ void jdl_attention_zero_unattended(const float* keyMask, unsigned short* x, long long n,
                                                         int heads, int tq, int tk, int d, int causal,
                                                         long long batchStride, long long headStride,
                                                         long long rowStride) {
    JDL_GRID_STRIDE_LOOP(e, n) {
        const long long b = e / tq;
        const int i = (int)(e % tq);
        const int limit = causal ? (i + 1 < tk ? i + 1 : tk) : tk;
        bool seen = false;
        for (int j = 0; j < limit && !seen; j++) {
            seen = keyMask[b * tk + j] != 0.0f;
        }
        if (seen) {
            continue;
        }
        for (int h = 0; h < heads; h++) {
            unsigned short* row = x + b * batchStride + h * headStride + i * rowStride;
            for (int c = 0; c < d; c++) {
                row[c] = 0;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Pointwise arithmetic: what the CUDA backend used cuBLAS geam and the legacy cuDNN calls (SetTensor,
// OpTensor, AddTensor) for, each of which cost a descriptor set-up and microseconds of host time. Operands are
// pointwise ones (byte pointers with their element codes, last). Outputs may alias inputs of the same type
// (each element is read, then written, by one thread).

// out = value, rounded once to out's type
extern "C" __global__ void jdl_fill(unsigned char* out, long long n, float value, int outType) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        jdl_store_float(out, outType, i, value);
    }
}

// out = alpha * a + beta * b
extern "C" __global__ void jdl_axpby(const unsigned char* a, const unsigned char* b, unsigned char* out, long long n,
                                     float alpha, float beta, int aType, int bType, int outType) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        jdl_store_float(out, outType, i, alpha * jdl_load_float(a, aType, i) + beta * jdl_load_float(b, bType, i));
    }
}

// out = a * b
extern "C" __global__ void jdl_mul(const unsigned char* a, const unsigned char* b, unsigned char* out, long long n,
                                   int aType, int bType, int outType) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        jdl_store_float(out, outType, i, jdl_load_float(a, aType, i) * jdl_load_float(b, bType, i));
    }
}

// out = x * s[0]; the scalar stays on the device (a loss scale, a mean's 1/n) and float32
extern "C" __global__ void jdl_mul_scalar(const unsigned char* x, const float* s, unsigned char* out, long long n,
                                          int xType, int outType) {
    const float v = s[0];
    JDL_GRID_STRIDE_LOOP(i, n) {
        jdl_store_float(out, outType, i, jdl_load_float(x, xType, i) * v);
    }
}

// For out [outer, dim, inner] (n = outer * dim * inner elements): out[o, d, i] = x[o, i] (the backward of a
// sum over d). inner = 1 broadcasts along rows, dim * inner = n repeats one row.
extern "C" __global__ void jdl_broadcast(const unsigned char* x, unsigned char* out, long long n, int dim, int inner,
                                         int xType, int outType) {
    const long long block = (long long)dim * inner;
    JDL_GRID_STRIDE_LOOP(k, n) {
        jdl_store_float(out, outType, k, jdl_load_float(x, xType, (k / block) * inner + k % inner));
    }
}

// Broadcasting binary op without materialising the broadcast (expand as stride-0 reads): over out
// [d0, d1, d2, d3] (n elements, d0 implied), element (i0, i1, i2, i3) reads a at i0*sa0 + i1*sa1 + i2*sa2 + i3*sa3
// and b likewise, a stride being 0 along a dimension the operand repeats. mul != 0: out = a * b; else
// out = alpha * a + beta * b (add, sub). out must not overlap a broadcast operand.
extern "C" __global__ void jdl_broadcast_binary(const unsigned char* a, const unsigned char* b, unsigned char* out,
                                                long long n, int d1, int d2, int d3, int sa0, int sa1, int sa2, int sa3,
                                                int sb0, int sb1, int sb2, int sb3, int mul, float alpha, float beta,
                                                int aType, int bType, int outType) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        long long t = i;
        const long long i3 = t % d3;
        t /= d3;
        const long long i2 = t % d2;
        t /= d2;
        const long long i1 = t % d1;
        const long long i0 = t / d1;
        const float x = jdl_load_float(a, aType, i0 * sa0 + i1 * sa1 + i2 * sa2 + i3 * sa3);
        const float y = jdl_load_float(b, bType, i0 * sb0 + i1 * sb1 + i2 * sb2 + i3 * sb3);
        jdl_store_float(out, outType, i, mul ? x * y : alpha * x + beta * y);
    }
}

// ---------------------------------------------------------------------------------------------------
// Bias + activation epilogue of a linear layer or a convolution, one pass where a bias kernel and an activation
// kernel took two (with JDL_ACT_IDENTITY, the bias alone). The activation formulas are jdl_activate's (above),
// which the one-activation kernels use too, so fused and unfused results agree bit for bit.

// For x [rows, cols, hw] (n elements; a linear layer's [rows, features] with hw = 1, a convolution's
// [batch, channels, h * w]): y = act(x + bias[col]). pre, unless NULL, receives x + bias (the pre-activation,
// which the backward of leaky ReLU and GELU reads; ReLU, sigmoid and tanh differentiate from y). pre and y may
// each be x when of x's type (each element is read, then written, by one thread). Pointwise operands: a float32
// GEMM output with a bf16 bias may write a bf16 y; the activation is applied to the float32 sum, not to pre
// rounded (pre and y are each rounded once).
extern "C" __global__ void jdl_bias_act(const unsigned char* x, const unsigned char* bias, unsigned char* pre,
                                        unsigned char* y, long long n, int cols, int hw, int act, float param,
                                        int xType, int biasType, int preType, int yType) {
    JDL_GRID_STRIDE_LOOP(k, n) {
        const float v = jdl_load_float(x, xType, k) + jdl_load_float(bias, biasType, (k / hw) % cols);
        if (pre) {
            jdl_store_float(pre, preType, k, v);
        }
        jdl_store_float(y, yType, k, jdl_activate(act, v, param));
    }
}

// ---------------------------------------------------------------------------------------------------
// ReLU, sigmoid, tanh (forward from x, backward from x or the forward output y, as torch's formulas)

// y = x > 0 ? x : 0 (NaN stays NaN, as torch.relu)
extern "C" __global__ void jdl_relu(const unsigned char* x, unsigned char* y, long long n, int xType, int yType) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        jdl_store_float(y, yType, i, jdl_activate(JDL_ACT_RELU, jdl_load_float(x, xType, i), 0.0f));
    }
}

// dx = x <= 0 ? 0 : dy: a NaN input passes dy, as torch's threshold_backward (ReLU's gradient) does
extern "C" __global__ void jdl_relu_backward(const unsigned char* x, const unsigned char* dy, unsigned char* dx,
                                             long long n, int xType, int dyType, int dxType) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        jdl_store_float(dx, dxType, i, jdl_load_float(x, xType, i) <= 0.0f ? 0.0f : jdl_load_float(dy, dyType, i));
    }
}

// y = 1 / (1 + exp(-x))
extern "C" __global__ void jdl_sigmoid(const unsigned char* x, unsigned char* y, long long n, int xType, int yType) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        jdl_store_float(y, yType, i, jdl_activate(JDL_ACT_SIGMOID, jdl_load_float(x, xType, i), 0.0f));
    }
}

// dx = dy * y * (1 - y), y the forward output
extern "C" __global__ void jdl_sigmoid_backward(const unsigned char* y, const unsigned char* dy, unsigned char* dx,
                                                long long n, int yType, int dyType, int dxType) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        const float s = jdl_load_float(y, yType, i);
        jdl_store_float(dx, dxType, i, jdl_load_float(dy, dyType, i) * s * (1.0f - s));
    }
}

// y = tanh(x)
extern "C" __global__ void jdl_tanh(const unsigned char* x, unsigned char* y, long long n, int xType, int yType) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        jdl_store_float(y, yType, i, jdl_activate(JDL_ACT_TANH, jdl_load_float(x, xType, i), 0.0f));
    }
}

// dx = dy * (1 - y * y), y the forward output
extern "C" __global__ void jdl_tanh_backward(const unsigned char* y, const unsigned char* dy, unsigned char* dx,
                                             long long n, int yType, int dyType, int dxType) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        const float t = jdl_load_float(y, yType, i);
        jdl_store_float(dx, dxType, i, jdl_load_float(dy, dyType, i) * (1.0f - t * t));
    }
}

// ---------------------------------------------------------------------------------------------------
// Sums over one axis of x viewed as [outer, dim, inner]: out[o, i] = sum over d of x[o, d, i] (overwritten).
// Pointwise operands: the sum is float32 whatever x's type, rounded once into out's.

// inner == 1: one block of exactly JDL_BLOCK threads per row o (rows = outer, cols = dim); dim may be 0.
extern "C" __global__ void jdl_sum_rows(const unsigned char* x, unsigned char* out, int rows, int cols, int xType,
                                        int outType) {
    __shared__ float shared[JDL_BLOCK];
    const int r = blockIdx.x;
    if (r >= rows) {
        return;
    }
    const long long first = (long long)r * cols;
    float s = 0.0f;
    for (int j = threadIdx.x; j < cols; j += JDL_BLOCK) {
        s += jdl_load_float(x, xType, first + j);
    }
    s = jdl_block_sum(s, shared);
    if (threadIdx.x == 0) {
        jdl_store_float(out, outType, r, s);
    }
}

// Any inner: a grid-stride loop over the outer * inner outputs, each adding its dim elements (adjacent
// threads read adjacent columns). For a bias gradient, [1, batch, features].
extern "C" __global__ void jdl_sum_axis(const unsigned char* x, unsigned char* out, int outer, int dim, int inner,
                                        int xType, int outType) {
    const long long n = (long long)outer * inner;
    JDL_GRID_STRIDE_LOOP(k, n) {
        const long long o = k / inner;
        const long long i = k % inner;
        const long long first = o * dim * inner + i;
        float s = 0.0f;
        for (int d = 0; d < dim; d++) {
            s += jdl_load_float(x, xType, first + (long long)d * inner);
        }
        jdl_store_float(out, outType, k, s);
    }
}

// db[c] = sum over n and i of dy[n, c, i] for dy [batch, channels, hw]: one block of exactly JDL_BLOCK threads
// per channel (grid = channels); batch or hw may be 0 (db = 0).
extern "C" __global__ void jdl_channel_bias_backward(const unsigned char* dy, unsigned char* db, int batch,
                                                     int channels, int hw, int dyType, int dbType) {
    __shared__ float shared[JDL_BLOCK];
    const int c = blockIdx.x;
    if (c >= channels) {
        return;
    }
    const long long count = (long long)batch * hw;
    float s = 0.0f;
    for (long long k = threadIdx.x; k < count; k += JDL_BLOCK) {
        const long long b = k / hw;
        s += jdl_load_float(dy, dyType, (b * channels + c) * hw + k % hw);
    }
    s = jdl_block_sum(s, shared);
    if (threadIdx.x == 0) {
        jdl_store_float(db, dbType, c, s);
    }
}

// ---------------------------------------------------------------------------------------------------
// Row softmax and log-softmax over x [rows, cols] (torch.softmax / torch.log_softmax over the last dimension), one
// block of exactly JDL_BLOCK threads per row, with pointwise operands (each of its own type, computed in float32,
// rounded once on store). One launch and no descriptor where cuDNN's softmax took a tensor descriptor per shape.
//   m = max_j x[r, j],  s = sum_j exp(x[r, j] - m)
//   y[r, j] = exp(x[r, j] - m) / s,   or, log != 0, (x[r, j] - m) - log(s)
// A NaN anywhere in a row makes the whole row NaN (s is NaN), as on the CPU. y may be x when of x's type (each
// element is read, then written, by one thread, after the row's reductions).
extern "C" __global__ void jdl_softmax_rows(const unsigned char* x, unsigned char* y, int rows, int cols, int log,
                                            int xType, int yType) {
    __shared__ float shared[JDL_BLOCK];
    const int r = blockIdx.x;
    if (r >= rows) {
        return;
    }
    const long long first = (long long)r * cols;
    float m = -INFINITY;
    for (int j = threadIdx.x; j < cols; j += JDL_BLOCK) {
        m = fmaxf(m, jdl_load_float(x, xType, first + j));
    }
    m = jdl_block_max(m, shared);
    float s = 0.0f;
    for (int j = threadIdx.x; j < cols; j += JDL_BLOCK) {
        s += expf(jdl_load_float(x, xType, first + j) - m);
    }
    s = jdl_block_sum(s, shared);
    const float logS = logf(s);
    for (int j = threadIdx.x; j < cols; j += JDL_BLOCK) {
        const float z = jdl_load_float(x, xType, first + j) - m;
        jdl_store_float(y, yType, first + j, log ? z - logS : expf(z) / s);
    }
}

// The backward of jdl_softmax_rows from its output y and dy [rows, cols], one block of JDL_BLOCK threads per row:
//   softmax:      dx = y * (dy - sum_k dy[r, k] * y[r, k])
//   log-softmax:  dx = dy - exp(y) * sum_k dy[r, k]
// dx may be dy or y when of its type.
extern "C" __global__ void jdl_softmax_backward_rows(const unsigned char* y, const unsigned char* dy, unsigned char* dx,
                                                     int rows, int cols, int log, int yType, int dyType, int dxType) {
    __shared__ float shared[JDL_BLOCK];
    const int r = blockIdx.x;
    if (r >= rows) {
        return;
    }
    const long long first = (long long)r * cols;
    float dot = 0.0f;
    for (int j = threadIdx.x; j < cols; j += JDL_BLOCK) {
        const float g = jdl_load_float(dy, dyType, first + j);
        dot += log ? g : g * jdl_load_float(y, yType, first + j);
    }
    dot = jdl_block_sum(dot, shared);
    for (int j = threadIdx.x; j < cols; j += JDL_BLOCK) {
        const float g = jdl_load_float(dy, dyType, first + j);
        const float v = jdl_load_float(y, yType, first + j);
        jdl_store_float(dx, dxType, first + j, log ? g - expf(v) * dot : v * (g - dot));
    }
}

// ---------------------------------------------------------------------------------------------------
// Multi-tensor optimizer steps (PyTorch's foreach): one launch updates every parameter of an optimizer.
// `table` (int64, device memory) holds, for each of `tensors` tensors, JDL_MT_FIELDS entries
//   [param, grad, state1, state2, n]   (device addresses of float buffers, then the element count)
// followed, from table + tensors * JDL_MT_FIELDS, by `chunks` pairs [tensor index, first element]: each chunk
// covers JDL_MT_CHUNK elements of one tensor (fewer at its end). Blocks take chunks in a grid-stride loop,
// threads the chunk's elements. The per-element arithmetic is jdl_adam_step's / jdl_sgd_step's (the same
// device functions), so the results are bit-identical to one launch per tensor.

#define JDL_MT_FIELDS 5
#define JDL_MT_CHUNK 16384

// Chunk c of the table: its tensor's entries (returned) and its element range [*start, *end).
__device__ __forceinline__ const long long* jdl_mt_chunk(const long long* table, int tensors, int c, long long* start,
                                                         long long* end) {
    const long long* chunkTable = table + (long long)tensors * JDL_MT_FIELDS;
    const long long* t = table + chunkTable[2 * c] * JDL_MT_FIELDS;
    *start = chunkTable[2 * c + 1];
    *end = *start + JDL_MT_CHUNK < t[4] ? *start + JDL_MT_CHUNK : t[4];
    return t;
}

// Adam / AdamW as jdl_adam_step on every tensor of the table (state1 = m, state2 = v), all at step t:
// stepSize = lr / (1 - beta1^t), biasCorrection2Sqrt = sqrt(1 - beta2^t), computed by the caller.
extern "C" __global__ void jdl_adam_multi(const long long* table, int tensors, int chunks, float lr, float beta1,
                                          float beta2, float eps, float weightDecay, int decoupled, float stepSize,
                                          float biasCorrection2Sqrt) {
    for (int c = blockIdx.x; c < chunks; c += gridDim.x) {
        long long start, end;
        const long long* t = jdl_mt_chunk(table, tensors, c, &start, &end);
        float* param = (float*)t[0];
        const float* grad = (const float*)t[1];
        float* m = (float*)t[2];
        float* v = (float*)t[3];
        for (long long i = start + threadIdx.x; i < end; i += blockDim.x) {
            jdl_adam_element(param, grad, m, v, i, lr, beta1, beta2, eps, weightDecay, decoupled, stepSize,
                            biasCorrection2Sqrt);
        }
    }
}

// SGD as jdl_sgd_step on every tensor of the table (state1 = momentum buffer, 0 when momentum == 0; state2
// unused), all with the same firstStep.
extern "C" __global__ void jdl_sgd_multi(const long long* table, int tensors, int chunks, float lr, float momentum,
                                         float dampening, float weightDecay, int nesterov, int firstStep) {
    for (int c = blockIdx.x; c < chunks; c += gridDim.x) {
        long long start, end;
        const long long* t = jdl_mt_chunk(table, tensors, c, &start, &end);
        float* param = (float*)t[0];
        const float* grad = (const float*)t[1];
        float* momentumBuf = (float*)t[2];
        for (long long i = start + threadIdx.x; i < end; i += blockDim.x) {
            jdl_sgd_update(param, grad, momentumBuf, i, lr, momentum, dampening, weightDecay, nesterov, firstStep);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Mixed precision (issue #14): float32 <-> bfloat16 / float16 (the element conversions are the helpers
// at the top of this file), dtype casts, and GradScaler's unscale with its non-finite check.

// y[i] = x[i] rounded to bfloat16 (bf16 != 0) or float16, as bit patterns.
extern "C" __global__ void jdl_float_to_half(const float* x, unsigned short* y, long long n, int bf16) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        y[i] = bf16 ? jdl_float_to_bf16(x[i]) : jdl_float_to_f16(x[i]);
    }
}

// y[i] = the float32 value of the bfloat16 (bf16 != 0) or float16 bit pattern x[i] (exact).
extern "C" __global__ void jdl_half_to_float(const unsigned short* x, float* y, long long n, int bf16) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        y[i] = bf16 ? jdl_bf16_to_float(x[i]) : jdl_f16_to_float(x[i]);
    }
}

// y[i] = x[i] converted from element type xType to yType (the element codes and conversions at the top of
// this file), for i < n; xType != yType.
extern "C" __global__ void jdl_cast(const unsigned char* x, unsigned char* y, long long n, int xType, int yType) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        if (xType <= JDL_F16) {
            jdl_store_float(y, yType, i, jdl_load_float(x, xType, i));
        } else {
            jdl_store_int(y, yType, i, jdl_load_int(x, xType, i));
        }
    }
}

// GradScaler's unscale (PyTorch's _amp_foreach_non_finite_check_and_unscale_): grad[i] *= invScale, and
// foundInf[0] = 1 when any grad[i] (before scaling) is inf or NaN. foundInf is only ever set, never cleared, so one
// flag collects the check over every gradient of a step (many launches) and the host reads it once. Threads that
// race to set it all write the same value.
extern "C" __global__ void jdl_amp_unscale(float* grad, long long n, float invScale, float* foundInf) {
    JDL_GRID_STRIDE_LOOP(i, n) {
        const float v = grad[i];
        if ((__float_as_uint(v) & 0x7f800000u) == 0x7f800000u) {  // exponent all ones: inf or NaN
            *foundInf = 1.0f;
        }
        grad[i] = invScale == 1.0f ? v : v * invScale;
    }
}
