// The host stand-in's CUDA runtime, part 3: jdl's kernels. native/jdl_kernels.cu is compiled in as host
// code (native/emulation/cuda_host.h); cudaLibraryLoadData accepts the committed fatbin (checked by its
// magic, and for each kernel's name), cudaLibraryGetKernel hands out a kernel by name, and cudaLaunchKernel
// reads the `void **args` with the kernel's real C parameter types (deduced from the compiled function, so
// they cannot drift from the source), checks the launch and every buffer the kernel touches, and queues the
// grid on the stream's worker.
#include <atomic>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "internal.h"

// The system headers first, so that the visibility pragma below applies only to the kernels' own code.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>

#pragma GCC visibility push(hidden)  // the kernels are not exports of libcudart
#include "../emulation/cuda_host.h"
#include "../jdl_kernels.cu"
#pragma GCC visibility pop

namespace standin {
namespace {

// ---- what a kernel touches, from the contracts in jdl_kernels.cu's comments ---------------------------

// One argument's value, as its C type.
template <class T>
T arg(void** args, int i) {
    return *static_cast<T*>(args[i]);
}
long long I64(void** a, int i) { return arg<long long>(a, i); }
long long I32(void** a, int i) { return arg<int>(a, i); }
float F32(void** a, int i) { return arg<float>(a, i); }

struct Access {
    int param;
    long long elements;  // 0 for an unused (NULL-able) pointer
    int elementBytes = 4;  // 4-byte floats or ints; 2 for half buffers (bit patterns as unsigned short)
};

// A kernel's launch contract. signature: one letter per parameter (P pointer, i int, l long long,
// u unsigned long long, f float), compared at load with the compiled function's parameter types.
struct Contract {
    const char* name;
    const char* signature;
    bool rowBlocks;  // one block of exactly JDL_BLOCK threads per row (the *_rows kernels)
    long long (*rows)(void**);  // rows the grid must cover (rowBlocks), or blocks needed otherwise
    std::vector<Access> (*accesses)(void**);
};

long long none(void**) { return 0; }

// Row chunks of jdl_layer_norm_backward_columns (rows, rowsPerChunk at 6 and 8): at least one.
long long lnChunks(void** a) {
    long long per = I32(a, 8) > 0 ? I32(a, 8) : 1;
    long long chunks = (I32(a, 6) + per - 1) / per;
    return chunks > 0 ? chunks : 1;
}

// Bytes per element of a jdl_cast element code (float32, bf16, f16, int32, int64, uint8, bool).
int castBytes(int type) {
    static const int BYTES[] = {4, 2, 2, 4, 8, 1, 1};
    return type >= 0 && type < 7 ? BYTES[type] : 8;  // an unknown code: the widest, so the extent check is strict
}

// Elements an operand of jdl_broadcast_binary spans (its strides at first, first + 1, ...): 0 for no elements.
long long broadcastExtent(void** a, int first) {
    long long n = I64(a, 3), d1 = I32(a, 4), d2 = I32(a, 5), d3 = I32(a, 6);
    if (n <= 0 || d1 <= 0 || d2 <= 0 || d3 <= 0) return 0;
    long long d[4] = {n / (d1 * d2 * d3), d1, d2, d3}, last = 0;
    for (int k = 0; k < 4; k++) last += (d[k] - 1) * I32(a, first + k);
    return last + 1;
}

// Bytes per element of the element code in argument i.
int T(void** a, int i) { return castBytes(arg<int>(a, i)); }

#define ACCESSES(...) [](void** a) { return std::vector<Access>{__VA_ARGS__}; }
const Contract CONTRACTS[] = {
    // Pointwise kernels: each operand's element code follows the scalars, in operand order; its bytes per element
    // come from that code (T(a, i)).
    // (x, y, n, slope, xType, yType)
    {"jdl_leaky_relu", "PPlfii", false, none, ACCESSES({0, I64(a, 2), T(a, 4)}, {1, I64(a, 2), T(a, 5)})},
    // (x, dy, dx, n, slope, xType, dyType, dxType)
    {"jdl_leaky_relu_backward", "PPPlfiii", false, none,
     ACCESSES({0, I64(a, 3), T(a, 5)}, {1, I64(a, 3), T(a, 6)}, {2, I64(a, 3), T(a, 7)})},
    {"jdl_gelu", "PPlii", false, none, ACCESSES({0, I64(a, 2), T(a, 3)}, {1, I64(a, 2), T(a, 4)})},
    {"jdl_gelu_backward", "PPPliii", false, none,
     ACCESSES({0, I64(a, 3), T(a, 4)}, {1, I64(a, 3), T(a, 5)}, {2, I64(a, 3), T(a, 6)})},
    // (logits, targets, logSumExp, partials, ticket, loss, rows, classes, ignoreIndex, scale): blocks of JDL_BLOCK
    // threads, at least one, at most JDL_CE_MAX_BLOCKS (the partials' size, checked on the Java side)
    {"jdl_cross_entropy", "PPPPPPiiif", false, [](void**) { return 1LL; },
     ACCESSES({0, I32(a, 6) * I32(a, 7)}, {1, I32(a, 6)}, {2, I32(a, 6)}, {3, JDL_CE_MAX_BLOCKS}, {4, 1}, {5, 1})},
    // (logits, targets, logSumExp, gradOut, dLogits, n, classes, ignoreIndex, scale): n = rows * classes
    {"jdl_cross_entropy_backward", "PPPPPliif", false, none,
     ACCESSES({0, I64(a, 5)}, {1, I64(a, 5) / I32(a, 6)}, {2, I64(a, 5) / I32(a, 6)}, {3, I64(a, 5) > 0 ? 1 : 0},
              {4, I64(a, 5)})},
    // (param, grad, momentumBuf, n, lr, momentum, dampening, weightDecay, nesterov, firstStep):
    // momentumBuf is untouched (may be NULL) when momentum == 0
    {"jdl_sgd_step", "PPPlffffii", false, none,
     ACCESSES({0, I64(a, 3)}, {1, I64(a, 3)}, {2, F32(a, 5) != 0.0f ? I64(a, 3) : 0})},
    // (param, grad, m, v, n, ...)
    {"jdl_adam_step", "PPPPlfffffiff", false, none,
     ACCESSES({0, I64(a, 4)}, {1, I64(a, 4)}, {2, I64(a, 4)}, {3, I64(a, 4)})},
    // (param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, decoupled, stepBase, replays)
    {"jdl_adam_step_counted", "PPPPlfffffiiP", false, none,
     ACCESSES({0, I64(a, 4)}, {1, I64(a, 4)}, {2, I64(a, 4)}, {3, I64(a, 4)}, {12, 1})},
    // (counter)
    {"jdl_count_replay", "P", false, none, ACCESSES({0, 1})},
    // (x, y, mask, n, p, seed, xType, yType): the mask float32
    {"jdl_dropout", "PPPlfuii", false, none,
     ACCESSES({0, I64(a, 3), T(a, 6)}, {1, I64(a, 3), T(a, 7)}, {2, I64(a, 3)})},
    // (x, y, mask, n, p, seedBase, replays, xType, yType)
    {"jdl_dropout_counted", "PPPlfuPii", false, none,
     ACCESSES({0, I64(a, 3), T(a, 7)}, {1, I64(a, 3), T(a, 8)}, {2, I64(a, 3)}, {6, 1})},
    // (weight, ids, out, n, dim, vocab)
    {"jdl_embedding_forward", "PPPlii", false, none,
     ACCESSES({0, I32(a, 5) * I32(a, 4)}, {1, I64(a, 3)}, {2, I64(a, 3) * I32(a, 4)})},
    // (dOut, ids, dWeight, n, dim, vocab)
    {"jdl_embedding_backward", "PPPlii", false, none,
     ACCESSES({0, I64(a, 3) * I32(a, 4)}, {1, I64(a, 3)}, {2, I32(a, 5) * I32(a, 4)})},
    // (x, gamma, beta, y, mean, rstd, rows, cols, eps): gamma, beta may be NULL
    {"jdl_layer_norm_rows", "PPPPPPiif", true, [](void** a) { return I32(a, 6); },
     ACCESSES({0, I32(a, 6) * I32(a, 7)}, {1, arg<void*>(a, 1) ? I32(a, 7) : 0}, {2, arg<void*>(a, 2) ? I32(a, 7) : 0},
              {3, I32(a, 6) * I32(a, 7)}, {4, I32(a, 6)}, {5, I32(a, 6)})},
    // (x, gamma, mean, rstd, dy, dx, rows, cols): gamma may be NULL
    {"jdl_layer_norm_backward_rows", "PPPPPPii", true, [](void** a) { return I32(a, 6); },
     ACCESSES({0, I32(a, 6) * I32(a, 7)}, {1, arg<void*>(a, 1) ? I32(a, 7) : 0}, {2, I32(a, 6)}, {3, I32(a, 6)},
              {4, I32(a, 6) * I32(a, 7)}, {5, I32(a, 6) * I32(a, 7)})},
    // (x, mean, rstd, dy, partialG, partialB, rows, cols, rowsPerChunk): grid ceil(cols / JDL_COL_TILE) * chunks,
    // chunks = max(1, ceil(rows / rowsPerChunk)); partialG, partialB [chunks, cols] may be NULL
    {"jdl_layer_norm_backward_columns", "PPPPPPiii", false,
     [](void** a) { return (I32(a, 7) + JDL_COL_TILE - 1) / (long long)JDL_COL_TILE * lnChunks(a); },
     ACCESSES({0, I32(a, 6) * I32(a, 7)}, {1, I32(a, 6)}, {2, I32(a, 6)}, {3, I32(a, 6) * I32(a, 7)},
              {4, arg<void*>(a, 4) ? lnChunks(a) * I32(a, 7) : 0}, {5, arg<void*>(a, 5) ? lnChunks(a) * I32(a, 7) : 0})},
    // (partialG, partialB, dGamma, dBeta, chunks, cols): each pointer may be NULL
    {"jdl_layer_norm_backward_finish", "PPPPii", false, none,
     ACCESSES({0, arg<void*>(a, 0) ? I32(a, 4) * I32(a, 5) : 0}, {1, arg<void*>(a, 1) ? I32(a, 4) * I32(a, 5) : 0},
              {2, arg<void*>(a, 2) ? I32(a, 5) : 0}, {3, arg<void*>(a, 3) ? I32(a, 5) : 0})},
    // (scores, keyMask, probs, rows, heads, tq, tk, scale, causal): keyMask [batch, tk] may be NULL
    {"jdl_attention_softmax_rows", "PPPiiiifi", true, [](void** a) { return I32(a, 3); },
     ACCESSES({0, I32(a, 3) * I32(a, 6)},
              {1, arg<void*>(a, 1) && I32(a, 4) * I32(a, 5) > 0
                      ? (I32(a, 3) + I32(a, 4) * I32(a, 5) - 1) / (I32(a, 4) * I32(a, 5)) * I32(a, 6) : 0},
              {2, I32(a, 3) * I32(a, 6)})},
    // (p, dp, dScores, rows, cols, scale)
    {"jdl_attention_softmax_backward_rows", "PPPiif", true, [](void** a) { return I32(a, 3); },
     ACCESSES({0, I32(a, 3) * I32(a, 4)}, {1, I32(a, 3) * I32(a, 4)}, {2, I32(a, 3) * I32(a, 4)})},
    // (out, n, value, outType)
    {"jdl_fill", "Plfi", false, none, ACCESSES({0, I64(a, 1), T(a, 3)})},
    // (a, b, out, n, alpha, beta, aType, bType, outType)
    {"jdl_axpby", "PPPlffiii", false, none,
     ACCESSES({0, I64(a, 3), T(a, 6)}, {1, I64(a, 3), T(a, 7)}, {2, I64(a, 3), T(a, 8)})},
    // (a, b, out, n, aType, bType, outType)
    {"jdl_mul", "PPPliii", false, none,
     ACCESSES({0, I64(a, 3), T(a, 4)}, {1, I64(a, 3), T(a, 5)}, {2, I64(a, 3), T(a, 6)})},
    // (x, s, out, n, xType, outType): s is one float32
    {"jdl_mul_scalar", "PPPlii", false, none,
     ACCESSES({0, I64(a, 3), T(a, 4)}, {1, I64(a, 3) > 0 ? 1 : 0}, {2, I64(a, 3), T(a, 5)})},
    // (x, out, n, dim, inner, xType, outType): x holds n / dim elements
    {"jdl_broadcast", "PPliiii", false, none,
     ACCESSES({0, I32(a, 3) > 0 ? I64(a, 2) / I32(a, 3) : 0, T(a, 5)}, {1, I64(a, 2), T(a, 6)})},
    // (a, b, out, n, d1, d2, d3, sa0..sa3, sb0..sb3, mul, alpha, beta, aType, bType, outType): an operand is read
    // up to sum over k of (d_k - 1) * s_k, with d0 = n / (d1 * d2 * d3)
    {"jdl_broadcast_binary", "PPPliiiiiiiiiiiiffiii", false, none,
     ACCESSES({0, broadcastExtent(a, 7), T(a, 18)}, {1, broadcastExtent(a, 11), T(a, 19)}, {2, I64(a, 3), T(a, 20)})},
    // (x, bias, pre, y, n, cols, hw, act, param, xType, biasType, preType, yType): pre may be NULL
    {"jdl_bias_act", "PPPPliiifiiii", false, none,
     ACCESSES({0, I64(a, 4), T(a, 9)}, {1, I64(a, 4) > 0 ? I32(a, 5) : 0, T(a, 10)},
              {2, arg<void*>(a, 2) ? I64(a, 4) : 0, T(a, 11)}, {3, I64(a, 4), T(a, 12)})},
    // (x, y, n, xType, yType) and (x or y, dy, dx, n, and their types)
    {"jdl_relu", "PPlii", false, none, ACCESSES({0, I64(a, 2), T(a, 3)}, {1, I64(a, 2), T(a, 4)})},
    {"jdl_relu_backward", "PPPliii", false, none,
     ACCESSES({0, I64(a, 3), T(a, 4)}, {1, I64(a, 3), T(a, 5)}, {2, I64(a, 3), T(a, 6)})},
    {"jdl_sigmoid", "PPlii", false, none, ACCESSES({0, I64(a, 2), T(a, 3)}, {1, I64(a, 2), T(a, 4)})},
    {"jdl_sigmoid_backward", "PPPliii", false, none,
     ACCESSES({0, I64(a, 3), T(a, 4)}, {1, I64(a, 3), T(a, 5)}, {2, I64(a, 3), T(a, 6)})},
    {"jdl_tanh", "PPlii", false, none, ACCESSES({0, I64(a, 2), T(a, 3)}, {1, I64(a, 2), T(a, 4)})},
    {"jdl_tanh_backward", "PPPliii", false, none,
     ACCESSES({0, I64(a, 3), T(a, 4)}, {1, I64(a, 3), T(a, 5)}, {2, I64(a, 3), T(a, 6)})},
    // (x, out, rows, cols, xType, outType): one block per row
    {"jdl_sum_rows", "PPiiii", true, [](void** a) { return I32(a, 2); },
     ACCESSES({0, I32(a, 2) * I32(a, 3), T(a, 4)}, {1, I32(a, 2), T(a, 5)})},
    // (x, out, outer, dim, inner, xType, outType)
    {"jdl_sum_axis", "PPiiiii", false, none,
     ACCESSES({0, I32(a, 2) * I32(a, 3) * I32(a, 4), T(a, 5)}, {1, I32(a, 2) * I32(a, 4), T(a, 6)})},
    // (dy, db, batch, channels, hw, dyType, dbType): one block per channel
    {"jdl_channel_bias_backward", "PPiiiii", true, [](void** a) { return I32(a, 3); },
     ACCESSES({0, I32(a, 2) * I32(a, 3) * I32(a, 4), T(a, 5)}, {1, I32(a, 3), T(a, 6)})},
    // (x, y, rows, cols, log, xType, yType): one block per row
    {"jdl_softmax_rows", "PPiiiii", true, [](void** a) { return I32(a, 2); },
     ACCESSES({0, I32(a, 2) * I32(a, 3), T(a, 5)}, {1, I32(a, 2) * I32(a, 3), T(a, 6)})},
    // (y, dy, dx, rows, cols, log, yType, dyType, dxType): one block per row
    {"jdl_softmax_backward_rows", "PPPiiiiii", true, [](void** a) { return I32(a, 3); },
     ACCESSES({0, I32(a, 3) * I32(a, 4), T(a, 6)}, {1, I32(a, 3) * I32(a, 4), T(a, 7)},
              {2, I32(a, 3) * I32(a, 4), T(a, 8)})},
    // (table, tensors, chunks, ...): the int64 table of tensors * 5 + chunks * 2 entries, counted here in 4-byte
    // elements. The buffers it points to are checked on the Java side (NativeKernels) before the table is built:
    // at enqueue time the table's own upload may not have run yet.
    {"jdl_adam_multi", "Piifffffiff", false, none, ACCESSES({0, 2 * (I32(a, 1) * JDL_MT_FIELDS + 2 * I32(a, 2))})},
    {"jdl_sgd_multi", "Piiffffii", false, none, ACCESSES({0, 2 * (I32(a, 1) * JDL_MT_FIELDS + 2 * I32(a, 2))})},
    // (x, y, n, bf16): x float, y half
    {"jdl_float_to_half", "PPli", false, none, ACCESSES({0, I64(a, 2)}, {1, I64(a, 2), 2})},
    // (x, y, n, bf16): x half, y float
    {"jdl_half_to_float", "PPli", false, none, ACCESSES({0, I64(a, 2), 2}, {1, I64(a, 2)})},
    // (x, y, n, xType, yType): element codes of jdl_kernels.cu (JDL_F32 ... JDL_BOOL), bytes from the code
    {"jdl_cast", "PPlii", false, none,
     ACCESSES({0, I64(a, 2), castBytes(I32(a, 3))}, {1, I64(a, 2), castBytes(I32(a, 4))})},
    // (grad, n, invScale, foundInf)
    {"jdl_amp_unscale", "PlfP", false, none, ACCESSES({0, I64(a, 1)}, {3, 1})},
    // (keyMask, bias, n, tq, tk, hidden): keyMask [n / (tq * tk), tk] floats, bias n halves
    {"jdl_attention_key_bias", "PPliii", false, none,
     ACCESSES({0, I32(a, 3) * I32(a, 4) > 0 ? I64(a, 2) / (I32(a, 3) * I32(a, 4)) * I32(a, 4) : 0}, {1, I64(a, 2), 2})},
    // (keyMask, x, n, heads, tq, tk, d, causal, batchStride, headStride, rowStride): n = batch * tq; keyMask
    // [batch, tk] floats; x halves up to (batch-1)·batchStride + (heads-1)·headStride + (tq-1)·rowStride + d
    {"jdl_attention_zero_unattended", "PPliiiiilll", false, none,
     ACCESSES({0, I32(a, 4) > 0 ? I64(a, 2) / I32(a, 4) * I32(a, 5) : 0},
              {1, I64(a, 2) > 0 && I32(a, 4) > 0
                      ? (I64(a, 2) / I32(a, 4) - 1) * I64(a, 8) + (I32(a, 3) - 1) * I64(a, 9) +
                            (I32(a, 4) - 1) * I64(a, 10) + I32(a, 6) : 0, 2})},
};

// ---- the compiled kernels ---------------------------------------------------------------------------

template <class T>
constexpr char letter() {
    if constexpr (std::is_pointer_v<T>) return 'P';
    else if constexpr (std::is_same_v<T, int>) return 'i';
    else if constexpr (std::is_same_v<T, long long>) return 'l';
    else if constexpr (std::is_same_v<T, unsigned long long>) return 'u';
    else if constexpr (std::is_same_v<T, float>) return 'f';
    else static_assert(sizeof(T) == 0, "a kernel parameter type the stand-in does not know");
}

using Runner = std::function<void()> (*)(void* function, void** args, Dim3 grid, Dim3 block, bool barriers);

struct Compiled {
    const char* name;
    bool barriers;  // the kernel (or a helper it calls) uses __syncthreads: decided by the build from the source
    std::string signature;
    void* function;
    Runner runner;
};

// Copies the arguments now (cudaLaunchKernel reads `args` before it returns) and returns the grid's work.
template <class... A>
std::function<void()> runner(void* function, void** args, Dim3 grid, Dim3 block, bool barriers) {
    auto f = reinterpret_cast<void (*)(A...)>(function);
    auto values = [&]<size_t... I>(std::index_sequence<I...>) {
        return std::tuple<A...>(*static_cast<A*>(args[I])...);
    }(std::index_sequence_for<A...>{});
    return [f, values, grid, block, barriers] {
        emu::runGrid(grid, block, barriers, [&] { std::apply(f, values); });
    };
}

template <class... A>
Compiled compiled(const char* name, bool barriers, void (*f)(A...)) {
    return Compiled{name, barriers, std::string{letter<A>()...}, reinterpret_cast<void*>(f), &runner<A...>};
}

#define KERNEL(name, barriers) compiled(#name, barriers, name),
const Compiled COMPILED[] = {
#include "kernels.inc"  // generated by the build from jdl_kernels.cu: KERNEL(jdl_..., uses __syncthreads)
};
#undef KERNEL

const Contract* contractOf(const char* name) {
    for (const Contract& c : CONTRACTS)
        if (std::strcmp(c.name, name) == 0) return &c;
    return nullptr;
}

std::atomic<long long> launches{0};

}  // namespace
}  // namespace standin

using namespace standin;

// A library: the names of the kernels the loaded image holds. A kernel handle: its Compiled entry.
struct CUlib_st {
    std::set<std::string> names;
};

namespace {
std::mutex libraryMutex;
std::set<CUlib_st*> liveLibraries;

constexpr uint32_t FATBIN_MAGIC = 0xBA55ED50;  // fatbinary header: magic, u16 version, u16 header size, u64 payload

bool isKernelHandle(const void* k) {
    for (const Compiled& c : COMPILED)
        if (&c == k) return true;
    return false;
}
}  // namespace


extern "C" {

// Accepts a CUDA fatbin image: every kernel compiled into the stand-in whose name the image's cubins name is
// available from it. The kernels' launch contracts are checked against their compiled signatures here.
cudaError_t cudaLibraryLoadData(cudaLibrary_t* library, const void* code, cudaJitOption* jitOptions,
                                void** jitOptionsValues, unsigned int numJitOptions, cudaLibraryOption* libraryOptions,
                                void** libraryOptionValues, unsigned int numLibraryOptions) {
    ENTER("cudaLibraryLoadData");
    (void)jitOptions, (void)jitOptionsValues, (void)libraryOptions, (void)libraryOptionValues;
    if (library == nullptr || code == nullptr)
        return (cudaError_t)fail(cudaErrorInvalidValue, "cudaLibraryLoadData: library or code is NULL");
    if (numJitOptions != 0 || numLibraryOptions != 0)
        return (cudaError_t)fail(cudaErrorInvalidValue, "cudaLibraryLoadData: options are not supported by the stand-in");
    uint32_t magic;
    uint16_t headerSize;
    uint64_t payload;
    std::memcpy(&magic, code, 4);
    if (magic != FATBIN_MAGIC)
        return (cudaError_t)fail(cudaErrorInvalidKernelImage, "cudaLibraryLoadData: not a fatbin (magic 0x%08x, "
                                 "expected 0x%08x)", magic, FATBIN_MAGIC);
    std::memcpy(&headerSize, (const char*)code + 6, 2);
    std::memcpy(&payload, (const char*)code + 8, 8);
    std::string image((const char*)code, headerSize + payload);
    for (const Compiled& c : COMPILED) {
        const Contract* contract = contractOf(c.name);
        if (contract == nullptr || c.signature != contract->signature)
            return (cudaError_t)fail(cudaErrorInvalidKernelImage,
                                     "cudaLibraryLoadData: the stand-in's launch contract for %s (%s) does not match "
                                     "the kernel compiled from jdl_kernels.cu (%s): update native/standin/kernels.cpp",
                                     c.name, contract ? contract->signature : "missing", c.signature.c_str());
    }
    CUlib_st* lib = new CUlib_st();
    for (const Compiled& c : COMPILED)
        if (image.find(std::string(c.name) + '\0') != std::string::npos) lib->names.insert(c.name);
    std::lock_guard<std::mutex> lock(libraryMutex);
    liveLibraries.insert(lib);
    *library = lib;
    return cudaSuccess;
}

cudaError_t cudaLibraryGetKernel(cudaKernel_t* pKernel, cudaLibrary_t library, const char* name) {
    ENTER("cudaLibraryGetKernel");
    if (pKernel == nullptr || name == nullptr)
        return (cudaError_t)fail(cudaErrorInvalidValue, "cudaLibraryGetKernel: pKernel or name is NULL");
    std::lock_guard<std::mutex> lock(libraryMutex);
    if (liveLibraries.count(library) == 0)
        return (cudaError_t)fail(cudaErrorInvalidResourceHandle, "cudaLibraryGetKernel: %p is not a loaded library",
                                 (void*)library);
    if (library->names.count(name) == 0)
        return (cudaError_t)fail(cudaErrorSymbolNotFound, "cudaLibraryGetKernel: no kernel %s in the image%s", name,
                                 contractOf(name) ? "" : " (nor in the stand-in's build of jdl_kernels.cu)");
    for (const Compiled& c : COMPILED)
        if (std::strcmp(c.name, name) == 0) {
            *pKernel = reinterpret_cast<cudaKernel_t>(const_cast<Compiled*>(&c));
            return cudaSuccess;
        }
    return (cudaError_t)fail(cudaErrorSymbolNotFound, "cudaLibraryGetKernel: %s", name);
}

cudaError_t cudaLibraryUnload(cudaLibrary_t library) {
    ENTER("cudaLibraryUnload");
    std::lock_guard<std::mutex> lock(libraryMutex);
    if (liveLibraries.erase(library) == 0)
        return (cudaError_t)fail(cudaErrorInvalidResourceHandle, "cudaLibraryUnload: %p is not a loaded library",
                                 (void*)library);
    delete library;
    return cudaSuccess;
}

// Checks, in CUDA's order: the kernel handle, the launch configuration (limits of cudaDeviceProp: 1024
// threads per block, block (1024, 1024, 64), grid (2^31 - 1, 65535, 65535)), the stream ("a kernel launch
// will fail if it is issued to a stream that is not associated to the current device"), then the kernel's
// own contract: its block and grid shape, and each buffer it reads or writes against its allocation.
cudaError_t cudaLaunchKernel(const void* func, dim3 gridDim, dim3 blockDim, void** args, size_t sharedMem,
                             cudaStream_t stream) {
    ENTER("cudaLaunchKernel");
    if (!isKernelHandle(func))
        return (cudaError_t)fail(cudaErrorInvalidDeviceFunction, "cudaLaunchKernel: %p is not a kernel handle from "
                                 "cudaLibraryGetKernel", func);
    const Compiled& k = *static_cast<const Compiled*>(func);
    const Contract& c = *contractOf(k.name);
    unsigned long long threads = (unsigned long long)blockDim.x * blockDim.y * blockDim.z;
    if (gridDim.x == 0 || gridDim.y == 0 || gridDim.z == 0 || threads == 0 || threads > 1024 || blockDim.x > 1024 ||
        blockDim.y > 1024 || blockDim.z > 64 || gridDim.x > 0x7fffffffu || gridDim.y > 65535 || gridDim.z > 65535)
        return (cudaError_t)fail(cudaErrorInvalidConfiguration, "cudaLaunchKernel(%s): grid (%u, %u, %u), block "
                                 "(%u, %u, %u) exceed the device's limits", k.name, gridDim.x, gridDim.y, gridDim.z,
                                 blockDim.x, blockDim.y, blockDim.z);
    if (sharedMem != 0)
        return (cudaError_t)fail(cudaErrorInvalidValue, "cudaLaunchKernel(%s): %zu bytes of dynamic shared memory, but "
                                 "jdl's kernels declare none", k.name, sharedMem);
    if (args == nullptr && !k.signature.empty())
        return (cudaError_t)fail(cudaErrorInvalidValue, "cudaLaunchKernel(%s): args is NULL", k.name);
    Stream* s = resolveStream(stream, "cudaLaunchKernel");
    if (s == nullptr) return cudaErrorInvalidResourceHandle;
    if (streamDevice(s) != currentDevice())
        return (cudaError_t)fail(cudaErrorInvalidResourceHandle, "cudaLaunchKernel(%s): the stream belongs to device %d "
                                 "but the calling thread's current device is %d", k.name, streamDevice(s),
                                 currentDevice());
    if (c.rowBlocks && (blockDim.x != JDL_BLOCK || threads != JDL_BLOCK || gridDim.x < c.rows(args)))
        return (cudaError_t)fail(cudaErrorInvalidConfiguration, "cudaLaunchKernel(%s): needs one block of exactly %d "
                                 "threads per row for %lld rows; given grid %u, block (%u, %u, %u)", k.name, JDL_BLOCK,
                                 c.rows(args), gridDim.x, blockDim.x, blockDim.y, blockDim.z);
    if (!c.rowBlocks && c.rows != none && (threads != JDL_BLOCK || gridDim.x < c.rows(args)))
        return (cudaError_t)fail(cudaErrorInvalidConfiguration, "cudaLaunchKernel(%s): needs blocks of %d threads and "
                                 "at least %lld blocks; given grid %u, block %llu", k.name, JDL_BLOCK, c.rows(args),
                                 gridDim.x, threads);
    std::vector<Access> accesses = c.accesses(args);
    for (size_t i = 0; i < k.signature.size(); i++) {
        if (k.signature[i] != 'P') continue;
        long long elements = -1;
        int elementBytes = 4;
        for (const Access& a : accesses)
            if (a.param == (int)i) elements = a.elements, elementBytes = a.elementBytes;
        if (elements < 0)
            return (cudaError_t)fail(cudaErrorInvalidValue, "cudaLaunchKernel(%s): the stand-in has no extent for "
                                     "pointer argument %zu", k.name, i);
        std::string what = std::string(k.name) + " argument " + std::to_string(i);
        if (span(arg<void*>(args, (int)i), (size_t)elements * elementBytes, "cudaLaunchKernel", what.c_str()) == nullptr &&
            elements > 0)
            return cudaErrorInvalidValue;
    }
    std::function<void()> work =
        k.runner(k.function, args, Dim3{gridDim.x, gridDim.y, gridDim.z}, Dim3{blockDim.x, blockDim.y, blockDim.z},
                 k.barriers);
    if (!enqueue(stream, std::move(work), "cudaLaunchKernel")) return cudaErrorInvalidResourceHandle;
    launches++;
    return cudaSuccess;
}

long long standinLaunchCount(void) { return launches.load(); }

}  // extern "C"
