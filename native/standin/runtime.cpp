// The host stand-in's CUDA runtime, part 1: devices, device and pinned memory, errors, fault injection,
// call counters and the no-compute switch. Streams, events and stream capture are in streams.cpp, kernels in
// kernels.cpp, CUDA graphs in graphs.cpp.
//
// Device memory is host memory handed out by cudaMalloc and tracked here; every range a call touches is
// checked against the allocation it falls in (span()). Compiled against CUDA 13's own cuda_runtime_api.h,
// so every exported signature is the real one.
#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "internal.h"

namespace standin {
namespace {

// ---- last error (per host thread, like CUDA's) -------------------------------------------------------

thread_local std::string lastError;
thread_local int current = 0;

// ---- devices ----------------------------------------------------------------------------------------

// Each stand-in device has this much "device memory" (JDL_STANDIN_DEVICE_MEMORY bytes, default 4 GiB); it
// is a budget, not a reservation: host memory is taken only as cudaMalloc asks for it.
size_t deviceMemory() {
    static const size_t bytes = [] {
        const char* v = std::getenv("JDL_STANDIN_DEVICE_MEMORY");
        return v != nullptr ? (size_t)std::strtoull(v, nullptr, 10) : (size_t)4 << 30;
    }();
    return bytes;
}

// ---- allocations ------------------------------------------------------------------------------------

struct Allocation {
    size_t bytes;
    int device;  // -1: pinned host memory (cudaMallocHost)
};

std::mutex allocationMutex;
std::map<uintptr_t, Allocation> allocations;  // by base address: device and pinned host allocations
std::deque<std::pair<uintptr_t, size_t>> recentlyFreed;  // to name a use after free in messages
size_t inUse[DEVICE_COUNT];
long long liveDeviceAllocations;

// The allocation containing address p (lock held), or allocations.end().
std::map<uintptr_t, Allocation>::iterator containing(uintptr_t p) {
    auto it = allocations.upper_bound(p);
    if (it == allocations.begin()) return allocations.end();
    --it;
    return p < it->first + std::max<size_t>(it->second.bytes, 1) ? it : allocations.end();
}

bool wasFreed(uintptr_t p) {
    for (auto& [base, bytes] : recentlyFreed)
        if (p >= base && p < base + std::max<size_t>(bytes, 1)) return true;
    return false;
}

// ---- fault injection and counters -------------------------------------------------------------------

struct Fault {
    int status;
    long long nth;  // 0: every call; n >= 1: only the nth call from when it was set
    long long seen;
};

std::mutex faultMutex;
std::unordered_map<std::string, Fault> faults;
std::unordered_map<std::string, long long> calls;
std::atomic<long long> totalCalls{0};
// Allocations still to pass before injected failures start (counts down), and how many then fail.
std::mutex mallocFaultMutex;
long long mallocsBeforeFailure = 0, mallocFailures = 0;

// Whether this cudaMalloc is one that standinFailAllocations said should fail.
bool injectedMallocFailure() {
    std::lock_guard<std::mutex> lock(mallocFaultMutex);
    if (mallocFailures <= 0) return false;
    if (--mallocsBeforeFailure > 0) return false;
    mallocsBeforeFailure = 0;
    mallocFailures--;
    return true;
}

void setMallocFailures(long long nth, long long count) {
    std::lock_guard<std::mutex> lock(mallocFaultMutex);
    mallocsBeforeFailure = nth > 0 ? nth : 0;
    mallocFailures = nth > 0 && count > 0 ? count : 0;
}

void setFault(const std::string& function, int status, long long nth) {
    std::lock_guard<std::mutex> lock(faultMutex);
    if (status == 0) {
        faults.erase(function);
    } else {
        faults[function] = Fault{status, nth, 0};
    }
}

// JDL_STANDIN_FAIL="name=status[@nth],name=status[@nth]"; JDL_STANDIN_FAIL_MALLOC=n; JDL_STANDIN_NO_COMPUTE=1.
std::atomic<bool> computeOn{true};
struct EnvironmentSettings {
    EnvironmentSettings() {
        if (const char* v = std::getenv("JDL_STANDIN_FAIL")) {
            std::string all(v);
            size_t start = 0;
            while (start < all.size()) {
                size_t end = all.find(',', start);
                if (end == std::string::npos) end = all.size();
                std::string item = all.substr(start, end - start);
                size_t eq = item.find('='), at = item.find('@');
                if (eq != std::string::npos) {
                    int status = std::atoi(item.c_str() + eq + 1);
                    long long nth = at != std::string::npos ? std::atoll(item.c_str() + at + 1) : 0;
                    setFault(item.substr(0, eq), status, nth);
                }
                start = end + 1;
            }
        }
        if (const char* v = std::getenv("JDL_STANDIN_FAIL_MALLOC")) setMallocFailures(std::atoll(v), 1);
        if (const char* v = std::getenv("JDL_STANDIN_NO_COMPUTE")) computeOn = std::strcmp(v, "1") != 0;
    }
} environmentSettings;

}  // namespace

int currentDevice() { return current; }

int enter(const char* function) {
    totalCalls.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(faultMutex);
    calls[function]++;
    auto it = faults.find(function);
    if (it == faults.end()) return 0;
    Fault& f = it->second;
    f.seen++;
    if (f.nth == 0 || f.seen == f.nth) {
        int status = f.status;
        if (f.nth != 0) faults.erase(it);
        return status;
    }
    return 0;
}

int injectedFault(const char* function) {
    int status = enter(function);
    if (status != 0) fail(status, "%s: status %d injected by the stand-in's fault injection", function, status);
    return status;
}

bool computing() { return computeOn.load(std::memory_order_relaxed); }

int fail(int status, const char* format, ...) {
    char buffer[1024];
    va_list args;
    va_start(args, format);
    std::vsnprintf(buffer, sizeof buffer, format, args);
    va_end(args);
    lastError = buffer;
    return status;
}

void* spanAnyDevice(const void* ptr, size_t bytes, const char* function, const char* argument, int* device) {
    if (bytes == 0) return const_cast<void*>(ptr);
    uintptr_t p = (uintptr_t)ptr;
    std::lock_guard<std::mutex> lock(allocationMutex);
    auto it = containing(p);
    if (it == allocations.end() || it->second.device < 0) {
        std::string why = ptr == nullptr ? "NULL but the call reads or writes " + std::to_string(bytes) + " bytes there"
                          : wasFreed(p) ? "in device memory that was freed (use after cudaFree)"
                          : it != allocations.end() ? "pinned host memory, not device memory"
                                                    : "not in any live device allocation";
        fail(1, "%s: argument %s: %p is %s", function, argument, ptr, why.c_str());
        return nullptr;
    }
    size_t offset = p - it->first, size = it->second.bytes;
    if (bytes > size - offset) {
        fail(1, "%s: argument %s: %zu bytes at %p+%zu overrun the %zu-byte allocation by %zu bytes", function,
             argument, bytes, (void*)it->first, offset, size, offset + bytes - size);
        return nullptr;
    }
    if (device != nullptr) *device = it->second.device;
    return const_cast<void*>(ptr);
}

void* span(const void* ptr, size_t bytes, const char* function, const char* argument) {
    int device = -1;
    void* p = spanAnyDevice(ptr, bytes, function, argument, &device);
    if (p != nullptr && bytes != 0 && device != current) {
        // Without peer access (which jdl never enables) a device cannot address another device's memory.
        fail(1, "%s: argument %s: %p is memory of device %d but the calling thread's current device is %d",
             function, argument, ptr, device, current);
        return nullptr;
    }
    return p;
}

bool pinnedRange(const void* ptr, size_t bytes, bool* overrun) {
    uintptr_t p = (uintptr_t)ptr;
    std::lock_guard<std::mutex> lock(allocationMutex);
    auto it = containing(p);
    *overrun = false;
    if (it == allocations.end() || it->second.device >= 0) return false;
    *overrun = bytes > it->second.bytes - (p - it->first);
    return true;
}

size_t stridedBytes(int rank, const int* dims, const int* strides, size_t elementSize) {
    size_t last = 0;
    for (int d = 0; d < rank; d++) {
        if (dims[d] <= 0) return 0;
        last += (size_t)(dims[d] - 1) * (size_t)std::max(strides[d], 0);
    }
    return elementSize * (last + 1);
}

}  // namespace standin

using namespace standin;


extern "C" {

// ---- versions and devices ---------------------------------------------------------------------------

// Both report the version the bindings were generated from (CUDART_VERSION of the headers compiled here).
cudaError_t cudaRuntimeGetVersion(int* version) {
    ENTER("cudaRuntimeGetVersion");
    if (version == nullptr) return (cudaError_t)fail(cudaErrorInvalidValue, "cudaRuntimeGetVersion: version is NULL");
    *version = CUDART_VERSION;
    return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* version) {
    ENTER("cudaDriverGetVersion");
    if (version == nullptr) return (cudaError_t)fail(cudaErrorInvalidValue, "cudaDriverGetVersion: version is NULL");
    *version = CUDART_VERSION;
    return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count) {
    ENTER("cudaGetDeviceCount");
    if (count == nullptr) return (cudaError_t)fail(cudaErrorInvalidValue, "cudaGetDeviceCount: count is NULL");
    *count = DEVICE_COUNT;
    return cudaSuccess;
}

// The name says plainly that this is not a GPU. Compute capability 9.0 (the newest the committed fatbin
// holds SASS for), so that jdl takes the paths it takes on an H100/H200.
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
    ENTER("cudaGetDeviceProperties");
    if (prop == nullptr) return (cudaError_t)fail(cudaErrorInvalidValue, "cudaGetDeviceProperties: prop is NULL");
    if (device < 0 || device >= DEVICE_COUNT)
        return (cudaError_t)fail(cudaErrorInvalidDevice, "cudaGetDeviceProperties: device %d (the stand-in has %d)",
                                 device, DEVICE_COUNT);
    std::memset(prop, 0, sizeof *prop);
    std::snprintf(prop->name, sizeof prop->name, "jdl host stand-in (not a GPU) #%d", device);
    prop->totalGlobalMem = deviceMemory();
    prop->major = 9;
    prop->minor = 0;
    prop->multiProcessorCount = 1;
    prop->warpSize = 32;
    prop->maxThreadsPerBlock = 1024;
    prop->maxThreadsDim[0] = 1024;
    prop->maxThreadsDim[1] = 1024;
    prop->maxThreadsDim[2] = 64;
    prop->maxGridSize[0] = 0x7fffffff;
    prop->maxGridSize[1] = 65535;
    prop->maxGridSize[2] = 65535;
    prop->sharedMemPerBlock = 48 << 10;
    prop->unifiedAddressing = 1;
    prop->pciDeviceID = device;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
    ENTER("cudaSetDevice");
    if (device < 0 || device >= DEVICE_COUNT)
        return (cudaError_t)fail(cudaErrorInvalidDevice, "cudaSetDevice: device %d (the stand-in has %d)", device,
                                 DEVICE_COUNT);
    current = device;
    return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
    ENTER("cudaGetDevice");
    if (device == nullptr) return (cudaError_t)fail(cudaErrorInvalidValue, "cudaGetDevice: device is NULL");
    *device = current;
    return cudaSuccess;
}

// ---- device memory ----------------------------------------------------------------------------------

// cudaMalloc: "The allocated memory is suitably aligned for any kind of variable. The memory is not
// cleared." The stand-in aligns to 256 bytes (what the driver gives) and fills new memory with 0xFF bytes,
// which are NaN as floats, so that reading memory nobody wrote shows up in results.
cudaError_t cudaMalloc(void** devPtr, size_t size) {
    ENTER("cudaMalloc");
    if (devPtr == nullptr) return (cudaError_t)fail(cudaErrorInvalidValue, "cudaMalloc: devPtr is NULL");
    if (unsafeDuringCapture("cudaMalloc")) return cudaErrorStreamCaptureUnsupported;
    if (injectedMallocFailure())
        return (cudaError_t)fail(cudaErrorMemoryAllocation,
                                 "cudaMalloc: %zu bytes on device %d: out of memory injected by standinFailAllocations",
                                 size, current);
    if (size == 0) {  // documented: a zero-byte request succeeds with a NULL pointer
        *devPtr = nullptr;
        return cudaSuccess;
    }
    {
        std::lock_guard<std::mutex> lock(allocationMutex);
        if (size > deviceMemory() - inUse[current])
            return (cudaError_t)fail(cudaErrorMemoryAllocation,
                                     "cudaMalloc: %zu bytes on device %d: only %zu of %zu bytes are free", size,
                                     current, deviceMemory() - inUse[current], deviceMemory());
        inUse[current] += size;
    }
    void* p = std::aligned_alloc(256, (size + 255) / 256 * 256);
    if (p == nullptr) {
        std::lock_guard<std::mutex> lock(allocationMutex);
        inUse[current] -= size;
        return (cudaError_t)fail(cudaErrorMemoryAllocation, "cudaMalloc: %zu bytes: the host is out of memory", size);
    }
    if (computing()) std::memset(p, 0xFF, size);  // no-compute mode never reads it: leave the pages untouched
    std::lock_guard<std::mutex> lock(allocationMutex);
    allocations[(uintptr_t)p] = Allocation{size, current};
    liveDeviceAllocations++;
    recentlyFreed.erase(std::remove_if(recentlyFreed.begin(), recentlyFreed.end(),
                                       [p, size](auto& r) {
                                           return r.first < (uintptr_t)p + size && (uintptr_t)p < r.first + r.second;
                                       }),
                        recentlyFreed.end());
    *devPtr = p;
    return cudaSuccess;
}

// cudaFree synchronises implicitly (work still queued may use the memory), then frees. NULL is a no-op.
cudaError_t cudaFree(void* devPtr) {
    ENTER("cudaFree");
    if (devPtr == nullptr) return cudaSuccess;
    if (unsafeDuringCapture("cudaFree")) return cudaErrorStreamCaptureUnsupported;
    int device;
    {
        std::lock_guard<std::mutex> lock(allocationMutex);
        auto it = allocations.find((uintptr_t)devPtr);
        if (it == allocations.end() || it->second.device < 0)
            return (cudaError_t)fail(cudaErrorInvalidValue, "cudaFree: %p is not the start of a live device allocation%s",
                                     devPtr, wasFreed((uintptr_t)devPtr) ? " (freed already)" : "");
        device = it->second.device;
    }
    synchronizeDevice(device);
    std::lock_guard<std::mutex> lock(allocationMutex);
    auto it = allocations.find((uintptr_t)devPtr);
    if (it == allocations.end())
        return (cudaError_t)fail(cudaErrorInvalidValue, "cudaFree: %p was freed by another thread meanwhile", devPtr);
    inUse[device] -= it->second.bytes;
    recentlyFreed.emplace_back(it->first, it->second.bytes);
    if (recentlyFreed.size() > 4096) recentlyFreed.pop_front();
    allocations.erase(it);
    liveDeviceAllocations--;
    std::free(devPtr);
    return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
    ENTER("cudaMemGetInfo");
    if (free == nullptr || total == nullptr)
        return (cudaError_t)fail(cudaErrorInvalidValue, "cudaMemGetInfo: free or total is NULL");
    std::lock_guard<std::mutex> lock(allocationMutex);
    *total = deviceMemory();
    *free = deviceMemory() - inUse[current];
    return cudaSuccess;
}

// Pinned host memory: ordinary host memory, remembered so that copies from it run asynchronously (as
// with real page-locked memory) and copies from pageable memory do not.
cudaError_t cudaMallocHost(void** ptr, size_t size) {
    ENTER("cudaMallocHost");
    if (ptr == nullptr) return (cudaError_t)fail(cudaErrorInvalidValue, "cudaMallocHost: ptr is NULL");
    if (unsafeDuringCapture("cudaMallocHost")) return cudaErrorStreamCaptureUnsupported;
    void* p = std::aligned_alloc(256, std::max<size_t>(256, (size + 255) / 256 * 256));
    if (p == nullptr) return (cudaError_t)fail(cudaErrorMemoryAllocation, "cudaMallocHost: %zu bytes", size);
    std::lock_guard<std::mutex> lock(allocationMutex);
    allocations[(uintptr_t)p] = Allocation{size, -1};
    *ptr = p;
    return cudaSuccess;
}

cudaError_t cudaFreeHost(void* ptr) {
    ENTER("cudaFreeHost");
    if (ptr == nullptr) return cudaSuccess;
    if (unsafeDuringCapture("cudaFreeHost")) return cudaErrorStreamCaptureUnsupported;
    {
        std::lock_guard<std::mutex> lock(allocationMutex);
        auto it = allocations.find((uintptr_t)ptr);
        if (it == allocations.end() || it->second.device >= 0)
            return (cudaError_t)fail(cudaErrorInvalidValue, "cudaFreeHost: %p is not a live cudaMallocHost allocation",
                                     ptr);
    }
    // Copies queued from or to it may still be pending; the driver waits for them, and so do we.
    for (int d = 0; d < DEVICE_COUNT; d++) synchronizeDevice(d);
    std::lock_guard<std::mutex> lock(allocationMutex);
    allocations.erase((uintptr_t)ptr);
    std::free(ptr);
    return cudaSuccess;
}

// ---- errors -----------------------------------------------------------------------------------------

#include "error_names.inc"  // generated by the build from driver_types.h: static const ErrorName ERROR_NAMES[]

const char* cudaGetErrorName(cudaError_t error) {
    enter("cudaGetErrorName");
    for (const auto& e : ERROR_NAMES)
        if (e.code == (int)error) return e.name;
    return "unrecognized error code";
}

// The runtime's sentences for the errors the stand-in itself returns; the name for the others.
const char* cudaGetErrorString(cudaError_t error) {
    enter("cudaGetErrorString");
    switch (error) {
        case cudaSuccess: return "no error";
        case cudaErrorInvalidValue: return "invalid argument";
        case cudaErrorMemoryAllocation: return "out of memory";
        case cudaErrorInvalidConfiguration: return "invalid configuration argument";
        case cudaErrorInvalidDeviceFunction: return "invalid device function";
        case cudaErrorInvalidDevice: return "invalid device ordinal";
        case cudaErrorInvalidKernelImage: return "device kernel image is invalid";
        case cudaErrorInvalidResourceHandle: return "invalid resource handle";
        case cudaErrorSymbolNotFound: return "named symbol not found";
        case cudaErrorNotReady: return "device not ready";
        case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
        case cudaErrorLaunchFailure: return "unspecified launch failure";
        case cudaErrorIllegalState: return "the operation cannot be performed in the present state";
        case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
        case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
        case cudaErrorCapturedEvent: return "operation not permitted on an event last recorded in a capturing stream";
        case cudaErrorStreamCaptureWrongThread: return "attempt to terminate a thread-local capture sequence from another thread";
        default: return cudaGetErrorName(error);
    }
}

// ---- the stand-in's own exports ---------------------------------------------------------------------

const char* standinLastError(void) { return lastError.c_str(); }
void standinClearLastError(void) { lastError.clear(); }
void standinSetCompute(int on) { computeOn = on != 0; }
void standinFailAllocation(long long nth) { setMallocFailures(nth, 1); }
void standinFailAllocations(long long nth, long long count) { setMallocFailures(nth, count); }
void standinFailCall(const char* function, int status, long long nth) {
    if (function != nullptr) setFault(function, status, nth > 0 ? nth : 0);
}
long long standinLiveAllocations(void) {
    std::lock_guard<std::mutex> lock(allocationMutex);
    return liveDeviceAllocations;
}
long long standinCallCount(const char* function) {
    if (function == nullptr) return totalCalls.load();
    std::lock_guard<std::mutex> lock(faultMutex);
    auto it = calls.find(function);
    return it == calls.end() ? 0 : it->second;
}

}  // extern "C"
