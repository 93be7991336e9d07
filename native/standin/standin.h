// The host stand-in for the CUDA runtime, cuBLAS and cuDNN: what the three libraries share.
//
// libcudart.so.13 (runtime.cpp) owns device memory, streams, events, devices, fault injection and the
// last-error message; libcublas.so.13 and libcudnn.so.9 link against it and use only what is declared here.
// Nothing here is CUDA's API: these are the stand-in's own functions, prefixed `standin_` (internal, C++)
// or `standin` + CamelCase (exported with C linkage for jdl's tests, looked up through FFM).
//
// Device memory is host memory that jdl reaches only through the API. Every library call checks each
// range it reads or writes with standin_span() *before* it enqueues work, so a wrong leading dimension,
// stride or element count fails the call synchronously with a message naming the function, the argument
// and the overrun; the computation itself then runs on the stream's worker thread.
//
// libcudnn.so.9 also implements the subset of cuDNN's backend (graph) API that jdl's fused flash attention builds
// (cudnn_backend.h: which descriptors, how a graph is validated and interpreted, what the one engine accepts).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace standin {

// Host address of the device range [ptr, ptr + bytes) when it lies wholly inside one live device
// allocation; otherwise nullptr, with the last error set to a message such as
// "cudnnConvolutionForward: argument y: 4096 bytes at 0x...+128 overrun the 4000-byte allocation by 224 bytes".
// bytes == 0 is accepted for any pointer (nothing is touched) and returns ptr unchanged.
// The allocation must also belong to the calling thread's current device (jdl enables no peer access).
void* span(const void* ptr, size_t bytes, const char* function, const char* argument);

// Bytes covered by a strided layout: elementSize * (1 + sum over d of (dims[d] - 1) * strides[d]),
// or 0 when any dimension is 0. Strides and dimensions in elements.
size_t stridedBytes(int rank, const int* dims, const int* strides, size_t elementSize);

// Runs work on the stream's worker thread after everything enqueued on it before (in order, asynchronously).
// stream == nullptr is the legacy default stream. Returns false (last error set) for a destroyed or
// unknown stream. In no-compute mode (standin::computing() == false) the work is dropped after the
// checks that the caller made before enqueueing.
bool enqueue(void* stream, std::function<void()> work, const char* function);

// False in no-compute mode: every call validates its arguments and computes nothing
// (JDL_STANDIN_NO_COMPUTE=1, or standinSetCompute(0)).
bool computing();

// Fault injection for library calls: a status to return instead of running `function`, or 0.
// Set with JDL_STANDIN_FAIL="name=status[@nth]" or standinFailCall(name, status, nth).
// Every exported library function calls it first: it also counts the call (standinCallCount), and when it
// returns a status it has set the last error to say that the status was injected.
int injectedFault(const char* function);

// (Added by the runtime.) The calling host thread's current device (per host thread, 0 until cudaSetDevice);
// a library handle is bound to the device current when it was created (cublasCreate, cudnnCreate).
int currentDevice();

// (Added by the runtime.) Waits until every stream of `device` has run what was enqueued on it.
void synchronizeDevice(int device);

// Sets the message returned by standinLastError() (printf-style); returns the status passed in, so a call
// can `return standin::fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetTensorNdDescriptor: nbDims %d > 8", n);`.
int fail(int status, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace standin

extern "C" {
// Exported for jdl's tests and NativeLibraries (looked up through FFM when the stand-in is loaded).
const char* standinLastError(void);                 // the last check that failed, on this host thread
void standinClearLastError(void);
void standinSetCompute(int on);                     // no-compute mode when 0
void standinFailAllocation(long long nth);          // the nth cudaMalloc from now fails (1 = the next one); 0 = off
void standinFailAllocations(long long nth, long long count);  // (added) cudaMallocs nth .. nth + count - 1 from now fail
void standinFailCall(const char* function, int status, long long nth);  // nth call of `function` returns status
long long standinLiveAllocations(void);             // device allocations not yet freed
long long standinCallCount(const char* function);   // calls of a library function so far (null: all calls)
long long standinLaunchCount(void);                 // kernel launches so far
long long standinGraphLaunchCount(void);            // (added) cudaGraphLaunch calls so far
long long standinLiveGraphs(void);                  // (added) graphs and executable graphs not yet destroyed
}
