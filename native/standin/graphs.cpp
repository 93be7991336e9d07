// The host stand-in's CUDA runtime, part 4: CUDA graphs made by stream capture (streams.cpp records the work),
// instantiated and launched.
//
// A graph is the captured work in capture order (jdl captures one stream, so the graph is a chain); an
// executable graph shares it, and cudaGraphLaunch queues it as one piece of work on the stream, so that a
// replay runs every node in order after what the stream held before, and the host does nothing per node.
#include <atomic>
#include <memory>
#include <mutex>
#include <set>

#include "internal.h"

struct CUgraph_st {
    int device;
    std::shared_ptr<const std::vector<std::function<void()>>> nodes;
};

struct CUgraphExec_st {
    int device;
    std::shared_ptr<const std::vector<std::function<void()>>> nodes;
};

namespace {
std::mutex graphMutex;
std::set<CUgraph_st*> liveGraphs;
std::set<CUgraphExec_st*> liveExecs;
std::atomic<long long> graphLaunches{0};
}  // namespace

namespace standin {
cudaGraph_t newGraph(int device, std::vector<std::function<void()>> nodes) {
    auto* g = new CUgraph_st{device, std::make_shared<const std::vector<std::function<void()>>>(std::move(nodes))};
    std::lock_guard<std::mutex> lock(graphMutex);
    liveGraphs.insert(g);
    return g;
}
}  // namespace standin

using namespace standin;

extern "C" {

// Flags: the stand-in supports 0 (jdl passes no flag); the others change memory-node and priority behaviour
// that a chain of captured kernels does not have.
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* pGraphExec, cudaGraph_t graph, unsigned long long flags) {
    ENTER("cudaGraphInstantiate");
    if (pGraphExec == nullptr) return (cudaError_t)fail(cudaErrorInvalidValue, "cudaGraphInstantiate: pGraphExec is NULL");
    std::lock_guard<std::mutex> lock(graphMutex);
    if (liveGraphs.count(graph) == 0)
        return (cudaError_t)fail(cudaErrorInvalidValue, "cudaGraphInstantiate: graph %p is not a live graph", (void*)graph);
    if (flags != 0)
        return (cudaError_t)fail(cudaErrorInvalidValue, "cudaGraphInstantiate: flags 0x%llx (the stand-in supports 0)",
                                 flags);
    auto* e = new CUgraphExec_st{graph->device, graph->nodes};
    liveExecs.insert(e);
    *pGraphExec = e;
    return cudaSuccess;
}

// Queues the whole graph as one piece of work on `stream` (of the graph's device). Launching into a capturing
// stream would nest the graph as a child node on a GPU; jdl never does, and the stand-in refuses it by name.
cudaError_t cudaGraphLaunch(cudaGraphExec_t graphExec, cudaStream_t stream) {
    ENTER("cudaGraphLaunch");
    std::shared_ptr<const std::vector<std::function<void()>>> nodes;
    int device;
    {
        std::lock_guard<std::mutex> lock(graphMutex);
        if (liveExecs.count(graphExec) == 0)
            return (cudaError_t)fail(cudaErrorInvalidValue, "cudaGraphLaunch: %p is not a live executable graph",
                                     (void*)graphExec);
        nodes = graphExec->nodes;
        device = graphExec->device;
    }
    Stream* s = resolveStream(stream, "cudaGraphLaunch");
    if (s == nullptr) return cudaErrorInvalidResourceHandle;
    if (streamDevice(s) != device)
        return (cudaError_t)fail(cudaErrorInvalidValue, "cudaGraphLaunch: the graph belongs to device %d, the stream "
                                 "to device %d", device, streamDevice(s));
    if (capturing(s))
        return (cudaError_t)fail(cudaErrorStreamCaptureUnsupported, "cudaGraphLaunch: launching a graph into a "
                                 "capturing stream (a child graph) is not supported by the stand-in");
    if (!enqueue(stream, [nodes] {
            for (const auto& node : *nodes) node();
        }, "cudaGraphLaunch"))
        return cudaErrorInvalidResourceHandle;
    graphLaunches++;
    return cudaSuccess;
}

// "Destroys the executable graph ... Any launches of this graph still in flight complete": they hold the nodes.
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t graphExec) {
    ENTER("cudaGraphExecDestroy");
    std::lock_guard<std::mutex> lock(graphMutex);
    if (liveExecs.erase(graphExec) == 0)
        return (cudaError_t)fail(cudaErrorInvalidValue, "cudaGraphExecDestroy: %p is not a live executable graph",
                                 (void*)graphExec);
    delete graphExec;
    return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
    ENTER("cudaGraphDestroy");
    std::lock_guard<std::mutex> lock(graphMutex);
    if (liveGraphs.erase(graph) == 0)
        return (cudaError_t)fail(cudaErrorInvalidValue, "cudaGraphDestroy: %p is not a live graph", (void*)graph);
    delete graph;
    return cudaSuccess;
}

// Stand-in exports for jdl's tests: graph launches so far, and graphs / executable graphs not yet destroyed.
long long standinGraphLaunchCount(void) { return graphLaunches.load(); }
long long standinLiveGraphs(void) {
    std::lock_guard<std::mutex> lock(graphMutex);
    return (long long)(liveGraphs.size() + liveExecs.size());
}

}  // extern "C"
