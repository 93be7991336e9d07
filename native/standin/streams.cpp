// The host stand-in's CUDA runtime, part 2: streams, events, and the copies and memsets that run on them.
//
// Each stream is a worker thread with a queue: work runs asynchronously, in the order enqueued, while the
// calling thread goes on, so a missing synchronisation or a host buffer reused too early shows up as a
// wrong value (as it would on a GPU, but more often). The legacy default stream (NULL) is a stream per
// device that, as CUDA documents for it, waits for the device's blocking streams before its work and makes
// blocking streams wait for it; the stand-in does that by waiting on the host (stricter, same ordering).
//
// Stream capture (cudaStreamBeginCapture .. cudaStreamEndCapture) is modelled where work is queued: while a
// stream captures, enqueue() appends the work to the capture instead of running it, so kernel launches,
// async copies and memsets, and every cuBLAS/cuDNN call on that stream become the graph's nodes, in order,
// with their arguments taken by value at record time (as on a GPU: a replay touches the same addresses).
// Calls that cannot be captured fail as CUDA documents and invalidate the capture (see unsafeDuringCapture).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "internal.h"

namespace standin {

struct Capture;

struct Stream {
    int device;
    bool blocking;  // created without cudaStreamNonBlocking (the legacy default stream counts as blocking)
    bool legacyDefault;
    std::mutex mutex;
    std::condition_variable changed;
    std::deque<std::function<void()>> queue;
    unsigned long long enqueued = 0, done = 0;
    bool destroyed = false;
    std::thread worker;
    Capture* capture = nullptr;  // set between cudaStreamBeginCapture and cudaStreamEndCapture (owning thread only)

    Stream(int device, bool blocking, bool legacyDefault)
        : device(device), blocking(blocking), legacyDefault(legacyDefault) {
        worker = std::thread([this] { run(); });
    }

    void run() {
        for (;;) {
            std::function<void()> work;
            {
                std::unique_lock<std::mutex> lock(mutex);
                changed.wait(lock, [this] { return !queue.empty() || destroyed; });
                if (queue.empty()) return;  // destroyed and drained: cudaStreamDestroy's deferred release
                work = std::move(queue.front());
                queue.pop_front();
            }
            work();
            std::lock_guard<std::mutex> lock(mutex);
            done++;
            changed.notify_all();
        }
    }

    void push(std::function<void()> work) {
        std::lock_guard<std::mutex> lock(mutex);
        queue.push_back(std::move(work));
        enqueued++;
        changed.notify_all();
    }

    void synchronize() {
        std::unique_lock<std::mutex> lock(mutex);
        unsigned long long target = enqueued;
        changed.wait(lock, [this, target] { return done >= target; });
    }
};

// One capture sequence: the work recorded so far, and why it was invalidated (empty while valid).
struct Capture {
    cudaStreamCaptureMode mode;
    std::thread::id thread;
    std::vector<std::function<void()>> nodes;
    std::string invalidatedBy;
};

namespace {

// This thread's interaction mode (cudaThreadExchangeStreamCaptureMode), and the captures it began.
thread_local cudaStreamCaptureMode threadMode = cudaStreamCaptureModeGlobal;
thread_local std::vector<Stream*> capturesHere;
std::atomic<int> globalCaptures{0};  // captures begun in cudaStreamCaptureModeGlobal, on any thread

std::mutex registryMutex;
std::set<Stream*> liveStreams;   // user-created streams not yet destroyed
Stream* legacyStreams[DEVICE_COUNT];

Stream* legacyStream(int device) {
    std::lock_guard<std::mutex> lock(registryMutex);
    if (legacyStreams[device] == nullptr) legacyStreams[device] = new Stream(device, true, true);  // lives as long as the process
    return legacyStreams[device];
}

std::vector<Stream*> streamsOf(int device) {
    std::vector<Stream*> out;
    std::lock_guard<std::mutex> lock(registryMutex);
    for (Stream* s : liveStreams)
        if (s->device == device) out.push_back(s);
    if (legacyStreams[device] != nullptr) out.push_back(legacyStreams[device]);
    return out;
}

}  // namespace

Stream* resolveStream(cudaStream_t handle, const char* function) {
    if (handle == nullptr || handle == cudaStreamLegacy) return legacyStream(currentDevice());
    if (handle == cudaStreamPerThread) {
        fail(cudaErrorNotSupported, "%s: cudaStreamPerThread is not supported by the stand-in (jdl never uses it)",
             function);
        return nullptr;
    }
    Stream* s = reinterpret_cast<Stream*>(handle);
    std::lock_guard<std::mutex> lock(registryMutex);
    if (liveStreams.count(s) == 0) {
        fail(cudaErrorInvalidResourceHandle, "%s: stream %p is not a live stream (destroyed, or never created)",
             function, (void*)handle);
        return nullptr;
    }
    return s;
}

int streamDevice(const Stream* s) { return s->device; }

void synchronizeDevice(int device) {
    for (Stream* s : streamsOf(device)) s->synchronize();
}

// Legacy default stream semantics (CUDA Runtime API, "Stream synchronization behavior"): work on the NULL
// stream waits for all blocking streams of its device, and work on a blocking stream waits for the NULL stream.
static void legacyOrdering(Stream* s) {
    if (s->legacyDefault) {
        for (Stream* other : streamsOf(s->device))
            if (other != s && other->blocking) other->synchronize();
    } else if (s->blocking) {
        legacyStream(s->device)->synchronize();
    }
}

bool enqueue(void* stream, std::function<void()> work, const char* function) {
    Stream* s = resolveStream(reinterpret_cast<cudaStream_t>(stream), function);
    if (s == nullptr) return false;
    if (s->capture != nullptr) {
        if (!s->capture->invalidatedBy.empty()) {
            fail(cudaErrorStreamCaptureInvalidated, "%s: the stream's capture was invalidated by %s", function,
                 s->capture->invalidatedBy.c_str());
            return false;
        }
        if (computing()) s->capture->nodes.push_back(std::move(work));  // recorded, not run
        return true;
    }
    if (!computing()) return true;
    legacyOrdering(s);
    s->push(std::move(work));
    return true;
}

bool capturing(const Stream* s) { return s->capture != nullptr; }

// CUDA's rule (cudaThreadExchangeStreamCaptureMode): in the thread mode Global, a thread with a capture of
// its own not begun in Relaxed mode, or while any thread has a Global capture, may not make potentially
// unsafe calls (cudaMalloc, cudaFree, synchronisation); in ThreadLocal only its own captures count; Relaxed
// allows them. A prohibited call invalidates this thread's captures (the stand-in does not track which
// other thread's capture a call would disturb) and returns cudaErrorStreamCaptureUnsupported.
bool unsafeDuringCapture(const char* function) {
    if (threadMode == cudaStreamCaptureModeRelaxed) return false;
    bool own = false;
    int ownGlobal = 0;
    for (Stream* s : capturesHere) {
        own |= s->capture->mode != cudaStreamCaptureModeRelaxed;
        ownGlobal += s->capture->mode == cudaStreamCaptureModeGlobal;
    }
    bool others = threadMode == cudaStreamCaptureModeGlobal && globalCaptures.load() > ownGlobal;
    if (!own && !others) return false;
    invalidateCaptures(function);
    fail(cudaErrorStreamCaptureUnsupported, "%s: not permitted during stream capture (it is not queued on a stream, "
         "so a graph cannot record it); the capture is invalidated", function);
    return true;
}

void invalidateCaptures(const char* function) {
    for (Stream* s : capturesHere)
        if (s->capture->invalidatedBy.empty()) s->capture->invalidatedBy = function;
}

}  // namespace standin

using namespace standin;


// ---- events -----------------------------------------------------------------------------------------

struct CUevent_st {
    int device;
    unsigned flags;
    std::mutex mutex;
    std::condition_variable changed;
    unsigned long long recorded = 0, completed = 0;  // generations: cudaEventRecord bumps `recorded`
    bool recordedInCapture = false;  // last recorded on a capturing stream: a graph node, not a point in time
    std::chrono::steady_clock::time_point time;
};

namespace {
std::mutex eventMutex;
std::set<CUevent_st*> liveEvents;

CUevent_st* liveEvent(cudaEvent_t e, const char* function) {
    std::lock_guard<std::mutex> lock(eventMutex);
    if (liveEvents.count(e) == 0) {
        fail(cudaErrorInvalidResourceHandle, "%s: event %p is not a live event (destroyed, or never created)",
             function, (void*)e);
        return nullptr;
    }
    return e;
}
}  // namespace

extern "C" {

// ---- streams ----------------------------------------------------------------------------------------

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* pStream, unsigned int flags) {
    ENTER("cudaStreamCreateWithFlags");
    if (pStream == nullptr) return (cudaError_t)fail(cudaErrorInvalidValue, "cudaStreamCreateWithFlags: pStream is NULL");
    if (flags != cudaStreamDefault && flags != cudaStreamNonBlocking)
        return (cudaError_t)fail(cudaErrorInvalidValue, "cudaStreamCreateWithFlags: flags %u (cudaStreamDefault or "
                                 "cudaStreamNonBlocking)", flags);
    Stream* s = new Stream(currentDevice(), flags == cudaStreamDefault, false);
    std::lock_guard<std::mutex> lock(registryMutex);
    liveStreams.insert(s);
    *pStream = reinterpret_cast<cudaStream_t>(s);
    return cudaSuccess;
}

// "In case the device is still doing work in the stream when cudaStreamDestroy() is called, the function
// will return immediately and the resources associated with stream will be released automatically once
// the device has completed all work in stream." The worker drains the queue, then the stream is deleted.
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    ENTER("cudaStreamDestroy");
    if (stream == nullptr || stream == cudaStreamLegacy || stream == cudaStreamPerThread)
        return (cudaError_t)fail(cudaErrorInvalidResourceHandle, "cudaStreamDestroy: the default stream cannot be destroyed");
    Stream* s = resolveStream(stream, "cudaStreamDestroy");
    if (s == nullptr) return cudaErrorInvalidResourceHandle;
    {
        std::lock_guard<std::mutex> lock(registryMutex);
        liveStreams.erase(s);
    }
    {
        std::lock_guard<std::mutex> lock(s->mutex);
        s->destroyed = true;
        s->changed.notify_all();
    }
    std::thread([s] {
        s->worker.join();
        delete s;
    }).detach();
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
    ENTER("cudaStreamSynchronize");
    Stream* s = resolveStream(stream, "cudaStreamSynchronize");
    if (s == nullptr) return cudaErrorInvalidResourceHandle;
    if (s->capture != nullptr) {  // "necessarily conflicts" with capture, in every mode
        if (s->capture->invalidatedBy.empty()) s->capture->invalidatedBy = "cudaStreamSynchronize";
        return (cudaError_t)fail(cudaErrorStreamCaptureUnsupported, "cudaStreamSynchronize: the stream is capturing "
                                 "(its work is recorded, not run, so there is nothing to wait for); the capture is "
                                 "invalidated");
    }
    if (unsafeDuringCapture("cudaStreamSynchronize")) return cudaErrorStreamCaptureUnsupported;
    s->synchronize();
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
    ENTER("cudaDeviceSynchronize");
    if (unsafeDuringCapture("cudaDeviceSynchronize")) return cudaErrorStreamCaptureUnsupported;
    synchronizeDevice(currentDevice());
    return cudaSuccess;
}

// ---- copies and memsets -----------------------------------------------------------------------------

// cudaMemcpyAsync ("API synchronization behavior", Memcpy, Asynchronous): copies between device memory and
// page-locked host memory are fully asynchronous; from pageable host memory the data is staged before the
// call returns (so the caller may reuse its buffer at once); to pageable host memory the call returns only
// once the copy is done. Device-to-device copies are asynchronous. Every device range is bounds-checked.
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t stream) {
    ENTER("cudaMemcpyAsync");
    const char* fn = "cudaMemcpyAsync";
    if (count == 0) return cudaSuccess;
    int ignored;
    bool overrun = false;
    bool srcDevice = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    bool dstDevice = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    if (kind != cudaMemcpyHostToDevice && kind != cudaMemcpyDeviceToHost && kind != cudaMemcpyDeviceToDevice)
        return (cudaError_t)fail(cudaErrorInvalidMemcpyDirection,
                                 "cudaMemcpyAsync: kind %d (the stand-in supports HostToDevice, DeviceToHost, "
                                 "DeviceToDevice: the ones jdl uses)", (int)kind);
    if (srcDevice && spanAnyDevice(src, count, fn, "src", &ignored) == nullptr) return cudaErrorInvalidValue;
    if (dstDevice && spanAnyDevice(dst, count, fn, "dst", &ignored) == nullptr) return cudaErrorInvalidValue;
    const void* host = kind == cudaMemcpyHostToDevice ? src : kind == cudaMemcpyDeviceToHost ? dst : nullptr;
    bool pinned = host != nullptr && pinnedRange(host, count, &overrun);
    if (overrun)
        return (cudaError_t)fail(cudaErrorInvalidValue, "cudaMemcpyAsync: %zu bytes at host %p overrun its "
                                 "cudaMallocHost allocation", count, host);
    Stream* target = resolveStream(stream, fn);
    if (target == nullptr) return cudaErrorInvalidResourceHandle;
    if (host != nullptr && !pinned && capturing(target)) {
        // A copy from or to pageable memory is staged or waited for on the host: a graph cannot replay that.
        if (target->capture->invalidatedBy.empty()) target->capture->invalidatedBy = fn;
        return (cudaError_t)fail(cudaErrorStreamCaptureUnsupported, "cudaMemcpyAsync: %zu bytes %s pageable host "
                                 "memory %p on a capturing stream (only page-locked memory can be captured); the "
                                 "capture is invalidated", count, kind == cudaMemcpyHostToDevice ? "from" : "to", host);
    }
    if (host == nullptr || pinned) {
        if (!enqueue(stream, [dst, src, count] { std::memcpy(dst, src, count); }, fn)) return cudaErrorInvalidResourceHandle;
        return cudaSuccess;
    }
    if (kind == cudaMemcpyHostToDevice) {
        auto staged = std::make_shared<std::vector<char>>((const char*)src, (const char*)src + count);
        if (!enqueue(stream, [dst, staged, count] { std::memcpy(dst, staged->data(), count); }, fn))
            return cudaErrorInvalidResourceHandle;
        return cudaSuccess;
    }
    if (!enqueue(stream, [dst, src, count] { std::memcpy(dst, src, count); }, fn)) return cudaErrorInvalidResourceHandle;
    if (computing()) resolveStream(stream, fn)->synchronize();
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* devPtr, int value, size_t count, cudaStream_t stream) {
    ENTER("cudaMemsetAsync");
    int ignored;
    if (count == 0) return cudaSuccess;
    if (spanAnyDevice(devPtr, count, "cudaMemsetAsync", "devPtr", &ignored) == nullptr) return cudaErrorInvalidValue;
    if (!enqueue(stream, [devPtr, value, count] { std::memset(devPtr, value & 0xff, count); }, "cudaMemsetAsync"))
        return cudaErrorInvalidResourceHandle;
    return cudaSuccess;
}

// ---- events -----------------------------------------------------------------------------------------

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags) {
    ENTER("cudaEventCreateWithFlags");
    if (event == nullptr) return (cudaError_t)fail(cudaErrorInvalidValue, "cudaEventCreateWithFlags: event is NULL");
    if ((flags & ~(unsigned)(cudaEventBlockingSync | cudaEventDisableTiming | cudaEventInterprocess)) != 0)
        return (cudaError_t)fail(cudaErrorInvalidValue, "cudaEventCreateWithFlags: flags 0x%x", flags);
    CUevent_st* e = new CUevent_st();
    e->device = currentDevice();
    e->flags = flags;
    std::lock_guard<std::mutex> lock(eventMutex);
    liveEvents.insert(e);
    *event = e;
    return cudaSuccess;
}

// CUDA: "In case event has been recorded but has not yet been completed when cudaEventDestroy() is called,
// the function will return immediately and the resources associated with event will be released
// automatically once the device has completed event." The stand-in waits for that completion before it
// frees the event (the queued completion writes into it); the caller sees the same results, later.
cudaError_t cudaEventDestroy(cudaEvent_t event) {
    ENTER("cudaEventDestroy");
    if (liveEvent(event, "cudaEventDestroy") == nullptr) return cudaErrorInvalidResourceHandle;
    {
        std::lock_guard<std::mutex> lock(eventMutex);
        liveEvents.erase(event);
    }
    std::unique_lock<std::mutex> lock(event->mutex);
    event->changed.wait(lock, [event] { return event->completed >= event->recorded || !computing(); });
    lock.unlock();
    delete event;
    return cudaSuccess;
}

// "cudaEventRecord() can be called multiple times on the same event and will overwrite the previously
// captured state." The stream must belong to the event's device.
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
    ENTER("cudaEventRecord");
    if (liveEvent(event, "cudaEventRecord") == nullptr) return cudaErrorInvalidResourceHandle;
    Stream* s = resolveStream(stream, "cudaEventRecord");
    if (s == nullptr) return cudaErrorInvalidResourceHandle;
    if (s->device != event->device)
        return (cudaError_t)fail(cudaErrorInvalidResourceHandle, "cudaEventRecord: event of device %d, stream of device %d",
                                 event->device, s->device);
    if (capturing(s)) {  // becomes a node of the graph; completes when a replay reaches it
        {
            std::lock_guard<std::mutex> lock(event->mutex);
            event->recordedInCapture = true;
        }
        if (!enqueue(stream, [event] {
                std::lock_guard<std::mutex> lock(event->mutex);
                event->time = std::chrono::steady_clock::now();
            }, "cudaEventRecord"))
            return cudaErrorStreamCaptureInvalidated;
        return cudaSuccess;
    }
    unsigned long long generation;
    {
        std::lock_guard<std::mutex> lock(event->mutex);
        event->recordedInCapture = false;
        generation = ++event->recorded;
    }
    auto complete = [event, generation] {
        std::lock_guard<std::mutex> lock(event->mutex);
        event->completed = std::max(event->completed, generation);
        event->time = std::chrono::steady_clock::now();
        event->changed.notify_all();
    };
    if (!computing()) {  // nothing runs: the event completes at once
        complete();
        return cudaSuccess;
    }
    legacyOrdering(s);
    s->push(complete);
    return cudaSuccess;
}

// "Returns cudaSuccess if all captured work has been completed, or if cudaEventRecord() has not been called
// on event. Returns cudaErrorNotReady if captured work is incomplete."
cudaError_t cudaEventQuery(cudaEvent_t event) {
    ENTER("cudaEventQuery");
    if (liveEvent(event, "cudaEventQuery") == nullptr) return cudaErrorInvalidResourceHandle;
    std::lock_guard<std::mutex> lock(event->mutex);
    if (event->recordedInCapture)
        return (cudaError_t)fail(cudaErrorCapturedEvent, "cudaEventQuery: the event was last recorded in a capturing "
                                 "stream");
    return event->completed >= event->recorded ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
    ENTER("cudaEventSynchronize");
    if (liveEvent(event, "cudaEventSynchronize") == nullptr) return cudaErrorInvalidResourceHandle;
    if (unsafeDuringCapture("cudaEventSynchronize")) return cudaErrorStreamCaptureUnsupported;
    std::unique_lock<std::mutex> lock(event->mutex);
    if (event->recordedInCapture)
        return (cudaError_t)fail(cudaErrorCapturedEvent, "cudaEventSynchronize: the event was last recorded in a "
                                 "capturing stream");
    unsigned long long target = event->recorded;
    event->changed.wait(lock, [event, target] { return event->completed >= target; });
    return cudaSuccess;
}

// cudaEventElapsedTime: cudaErrorInvalidResourceHandle when either event was never recorded or was
// created with cudaEventDisableTiming; cudaErrorNotReady when either has not completed.
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
    ENTER("cudaEventElapsedTime");
    if (ms == nullptr) return (cudaError_t)fail(cudaErrorInvalidValue, "cudaEventElapsedTime: ms is NULL");
    if (liveEvent(start, "cudaEventElapsedTime") == nullptr || liveEvent(end, "cudaEventElapsedTime") == nullptr)
        return cudaErrorInvalidResourceHandle;
    std::scoped_lock lock(start->mutex, end->mutex);
    if ((start->flags | end->flags) & cudaEventDisableTiming)
        return (cudaError_t)fail(cudaErrorInvalidResourceHandle,
                                 "cudaEventElapsedTime: an event was created with cudaEventDisableTiming");
    if (start->recorded == 0 || end->recorded == 0)
        return (cudaError_t)fail(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: an event was never recorded");
    if (start->completed < start->recorded || end->completed < end->recorded) return cudaErrorNotReady;
    *ms = std::chrono::duration<float, std::milli>(end->time - start->time).count();
    return cudaSuccess;
}

// ---- stream capture ---------------------------------------------------------------------------------

// "Capture may not be initiated if stream is cudaStreamLegacy" (the legacy stream synchronises implicitly
// with others, which a graph cannot record); a stream already capturing cannot begin again.
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
    ENTER("cudaStreamBeginCapture");
    if (mode != cudaStreamCaptureModeGlobal && mode != cudaStreamCaptureModeThreadLocal &&
        mode != cudaStreamCaptureModeRelaxed)
        return (cudaError_t)fail(cudaErrorInvalidValue, "cudaStreamBeginCapture: mode %d", (int)mode);
    Stream* s = resolveStream(stream, "cudaStreamBeginCapture");
    if (s == nullptr) return cudaErrorInvalidResourceHandle;
    if (s->legacyDefault)
        return (cudaError_t)fail(cudaErrorStreamCaptureUnsupported, "cudaStreamBeginCapture: the legacy default "
                                 "stream cannot be captured; capture a stream made with cudaStreamCreateWithFlags");
    if (s->capture != nullptr)
        return (cudaError_t)fail(cudaErrorIllegalState, "cudaStreamBeginCapture: the stream is already capturing");
    s->capture = new Capture{mode, std::this_thread::get_id(), {}, {}};
    capturesHere.push_back(s);
    if (mode == cudaStreamCaptureModeGlobal) globalCaptures++;
    return cudaSuccess;
}

// Ends the capture in every case; returns the graph, or NULL and cudaErrorStreamCaptureInvalidated when a
// call invalidated it. A capture not begun in Relaxed mode must end on the thread that began it.
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* pGraph) {
    ENTER("cudaStreamEndCapture");
    if (pGraph == nullptr) return (cudaError_t)fail(cudaErrorInvalidValue, "cudaStreamEndCapture: pGraph is NULL");
    Stream* s = resolveStream(stream, "cudaStreamEndCapture");
    if (s == nullptr) return cudaErrorInvalidResourceHandle;
    Capture* c = s->capture;
    if (c == nullptr)
        return (cudaError_t)fail(cudaErrorIllegalState, "cudaStreamEndCapture: the stream is not capturing");
    if (c->mode != cudaStreamCaptureModeRelaxed && c->thread != std::this_thread::get_id())
        return (cudaError_t)fail(cudaErrorStreamCaptureWrongThread, "cudaStreamEndCapture: the capture was begun on "
                                 "another thread");
    s->capture = nullptr;
    std::erase(capturesHere, s);
    if (c->mode == cudaStreamCaptureModeGlobal) globalCaptures--;
    std::unique_ptr<Capture> ended(c);
    if (!c->invalidatedBy.empty()) {
        *pGraph = nullptr;
        return (cudaError_t)fail(cudaErrorStreamCaptureInvalidated, "cudaStreamEndCapture: the capture was "
                                 "invalidated by %s", c->invalidatedBy.c_str());
    }
    *pGraph = newGraph(s->device, std::move(c->nodes));
    return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* pCaptureStatus) {
    ENTER("cudaStreamIsCapturing");
    if (pCaptureStatus == nullptr)
        return (cudaError_t)fail(cudaErrorInvalidValue, "cudaStreamIsCapturing: pCaptureStatus is NULL");
    Stream* s = resolveStream(stream, "cudaStreamIsCapturing");
    if (s == nullptr) return cudaErrorInvalidResourceHandle;
    *pCaptureStatus = s->capture == nullptr ? cudaStreamCaptureStatusNone
                      : s->capture->invalidatedBy.empty() ? cudaStreamCaptureStatusActive
                                                          : cudaStreamCaptureStatusInvalidated;
    return cudaSuccess;
}

cudaError_t cudaThreadExchangeStreamCaptureMode(cudaStreamCaptureMode* mode) {
    ENTER("cudaThreadExchangeStreamCaptureMode");
    if (mode == nullptr) return (cudaError_t)fail(cudaErrorInvalidValue, "cudaThreadExchangeStreamCaptureMode: mode is NULL");
    if (*mode != cudaStreamCaptureModeGlobal && *mode != cudaStreamCaptureModeThreadLocal &&
        *mode != cudaStreamCaptureModeRelaxed)
        return (cudaError_t)fail(cudaErrorInvalidValue, "cudaThreadExchangeStreamCaptureMode: mode %d", (int)*mode);
    std::swap(threadMode, *mode);
    return cudaSuccess;
}

}  // extern "C"
