// Just enough of CUDA's device-side language to compile ../jdl_kernels.cu as host C++, and a launcher that
// runs a grid on the calling host thread. Shared by emulate.cpp (the kernel checks) and the host stand-in
// runtime (native/standin/kernels.cpp).
//
// A block's CUDA threads are fibers on one host thread, with stacks reused from launch to launch:
// __syncthreads() switches to the next fiber, and the block goes on past the barrier once every live fiber has
// reached it. Kernels that never use a barrier run their threads as plain calls, one after another (no
// switches at all). Blocks run one after another. __shared__ is thread_local: shared by the fibers of the
// block, separate for kernels running at the same time on other host threads (other streams). atomicAdd is
// a compare-and-swap loop (floats) or an atomic add (ints), correct across host threads too; __threadfence a
// full fence.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

struct Dim3 {
    unsigned x, y, z;
};

inline thread_local Dim3 threadIdx, blockIdx, blockDim, gridDim;

// (CUDA's host headers, when included first, define these as attributes for their own compiler.)
#undef __global__
#undef __device__
#undef __forceinline__
#undef __shared__
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static thread_local

namespace emu {

constexpr size_t FIBER_STACK = 64 << 10;

// Switching fibers: saves the callee-saved registers on the current stack, stores the stack pointer in
// *from and continues on the stack `to` (x86-64 System V). ucontext's swapcontext would do the same plus a
// signal-mask system call per switch, which made barrier-heavy kernels spend most of their time in the kernel.
#if !defined(__x86_64__)
#error "the emulation's fiber switch (jdl_emu_switch) is written for x86-64"
#endif
extern "C" void jdl_emu_switch(void** from, void* to);
asm(R"(
    .text
    .p2align 4
    .type jdl_emu_switch, @function
jdl_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size jdl_emu_switch, .-jdl_emu_switch
)");

struct Fiber {
    void* sp = nullptr;
    std::unique_ptr<char[]> stack{new char[FIBER_STACK]};
    bool done = false;
};

struct Scheduler {
    void* mainSp = nullptr;
    std::vector<Fiber> fibers;
    unsigned current = 0;
    bool inFiber = false;
    const std::function<void()>* body = nullptr;
};

inline thread_local Scheduler scheduler;

[[noreturn]] inline void fiberEntry() {
    Scheduler& s = scheduler;
    (*s.body)();
    Fiber& f = s.fibers[s.current];
    f.done = true;
    jdl_emu_switch(&f.sp, s.mainSp);  // never resumed
    __builtin_unreachable();
}

// A fresh stack whose first switch "returns" into fiberEntry with the alignment of a called function.
inline void prepare(Fiber& f) {
    uintptr_t top = ((uintptr_t)f.stack.get() + FIBER_STACK) & ~(uintptr_t)15;
    void** sp = (void**)top;
    *--sp = nullptr;                             // fiberEntry's (unused) return address
    *--sp = (void*)&fiberEntry;                  // where jdl_emu_switch's ret goes
    for (int i = 0; i < 6; i++) *--sp = nullptr;  // rbp, rbx, r12-r15
    f.sp = sp;
    f.done = false;
}

inline void syncthreads() {
    Scheduler& s = scheduler;
    if (!s.inFiber) {
        std::fprintf(stderr, "jdl emulation: __syncthreads() in a kernel launched as barrier-free\n");
        std::abort();
    }
    // __syncthreads is also a memory fence for the block. The switch routine is opaque to the compiler, which
    // may then assume that it leaves alone a __shared__ array whose address never escapes (a function's
    // static): the clobbers make every thread re-read memory the other threads wrote before the barrier.
    asm volatile("" ::: "memory");
    jdl_emu_switch(&s.fibers[s.current].sp, s.mainSp);
    asm volatile("" ::: "memory");
}

inline Dim3 unflatten(unsigned t, Dim3 d) { return {t % d.x, (t / d.x) % d.y, t / (d.x * d.y)}; }

// Runs body() once per CUDA thread of the grid, with threadIdx, blockIdx, blockDim and gridDim set.
// barriers: whether the kernel may call __syncthreads (then its threads run as fibers).
inline void runGrid(Dim3 grid, Dim3 block, bool barriers, const std::function<void()>& body) {
    gridDim = grid;
    blockDim = block;
    const unsigned threads = block.x * block.y * block.z;
    Scheduler& s = scheduler;
    if (barriers && s.fibers.size() < threads) s.fibers.resize(threads);
    for (unsigned bz = 0; bz < grid.z; bz++)
        for (unsigned by = 0; by < grid.y; by++)
            for (unsigned bx = 0; bx < grid.x; bx++) {
                blockIdx = {bx, by, bz};
                if (!barriers) {
                    for (unsigned t = 0; t < threads; t++) {
                        threadIdx = unflatten(t, block);
                        body();
                    }
                    continue;
                }
                s.body = &body;
                for (unsigned t = 0; t < threads; t++) prepare(s.fibers[t]);
                // Each round runs every live thread up to its next barrier (or its end).
                unsigned live = threads;
                s.inFiber = true;
                while (live > 0) {
                    for (unsigned t = 0; t < threads; t++) {
                        Fiber& f = s.fibers[t];
                        if (f.done) continue;
                        s.current = t;
                        threadIdx = unflatten(t, block);
                        jdl_emu_switch(&s.mainSp, f.sp);
                        if (f.done) live--;
                    }
                }
                s.inFiber = false;
            }
}

}  // namespace emu

static inline void __syncthreads() { emu::syncthreads(); }

static inline float atomicAdd(float* p, float v) {
    uint32_t* bits = reinterpret_cast<uint32_t*>(p);
    uint32_t old = __atomic_load_n(bits, __ATOMIC_RELAXED);
    for (;;) {
        float f, sum;
        std::memcpy(&f, &old, sizeof f);
        sum = f + v;
        uint32_t desired;
        std::memcpy(&desired, &sum, sizeof desired);
        if (__atomic_compare_exchange_n(bits, &old, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return f;
    }
}

static inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }

// Blocks run one after another here, so the fence only has to keep the compiler from moving memory accesses.
static inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

static inline float __int_as_float(int i) {
    float f;
    std::memcpy(&f, &i, sizeof f);
    return f;
}

static inline unsigned int __float_as_uint(float f) {
    unsigned int u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

static inline float __uint_as_float(unsigned int u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}
