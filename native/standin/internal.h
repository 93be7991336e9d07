// What the four source files of libcudart.so.13 (runtime.cpp, streams.cpp, kernels.cpp, graphs.cpp) share, beyond
// standin.h. Not used by libcublas or libcudnn.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "standin.h"

namespace standin {

constexpr int DEVICE_COUNT = 2;

// Counts a call of an exported function (for standinCallCount) and returns the status injected for it, or 0.
// Every exported function starts with this (through injectedFault, which counts as well).
int enter(const char* function);

// Like span(), without requiring the allocation to belong to the current device (copies and memsets work
// across devices under unified addressing). *device receives the allocation's device when non-null.
void* spanAnyDevice(const void* ptr, size_t bytes, const char* function, const char* argument, int* device);

// The pinned (cudaMallocHost) allocation holding [ptr, ptr + bytes), or false. Sets *overrun when it is pinned
// but overruns its allocation (the caller reports it).
bool pinnedRange(const void* ptr, size_t bytes, bool* overrun);

// The stream a handle names for the calling thread: nullptr and cudaStreamLegacy mean the current device's
// legacy default stream. Returns nullptr (last error set) for a destroyed or unknown handle.
struct Stream;
Stream* resolveStream(cudaStream_t handle, const char* function);
int streamDevice(const Stream* s);

// Stream capture (streams.cpp): whether the stream is capturing; whether a potentially unsafe call (cudaMalloc,
// cudaFree, a synchronisation) is prohibited for this thread now, in which case it has invalidated this thread's
// captures and set the last error (the caller returns cudaErrorStreamCaptureUnsupported); invalidating them.
bool capturing(const Stream* s);
bool unsafeDuringCapture(const char* function);
void invalidateCaptures(const char* function);

// A new graph holding captured work, run in order by each cudaGraphLaunch (graphs.cpp).
cudaGraph_t newGraph(int device, std::vector<std::function<void()>> nodes);

}  // namespace standin

// Opens every exported runtime function (they return cudaError_t): counts the call and returns the status
// injected for it, if any.
#define ENTER(name)                                      \
    do {                                                 \
        int injected = standin::injectedFault(name);     \
        if (injected != 0) return (cudaError_t)injected; \
    } while (0)
