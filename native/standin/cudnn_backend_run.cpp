// libcudnn.so.9 stand-in, part 6: cudnnBackendExecute's work. The variant pack is checked on the calling
// thread (every device tensor of the graph present, each pointer's range inside its allocation, by-value
// scalars copied, the workspace large enough); then the graph runs on the handle's stream by interpretation,
// in float32, as cudnn_backend.h describes.
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <string>

#include "cudnn_backend.h"

using namespace standin::dnn;
using namespace standin::dnn::backend;

namespace {

// Where a tensor's values live while the graph runs: device memory in its data type, or a host vector of floats
// (virtual tensors and by-value scalars).
struct Storage {
    void* device = nullptr;
    std::vector<float> host;
    cudnnDataType_t type = CUDNN_DATA_FLOAT;

    float read(int64_t offset) const {
        return device != nullptr ? load(device, type, offset) : host[static_cast<size_t>(offset)];
    }

    // Stores v as the tensor's data type holds it: rounded for a 16-bit type, also in a virtual tensor.
    void write(int64_t offset, float v) {
        if (device != nullptr) {
            storeAs(device, type, offset, v);
            return;
        }
        if (type == CUDNN_DATA_HALF || type == CUDNN_DATA_BFLOAT16) {
            v = type == CUDNN_DATA_HALF ? standin::half::fromF16(standin::half::toF16(v))
                                        : standin::half::fromBf16(standin::half::toBf16(v));
        }
        host[static_cast<size_t>(offset)] = v;
    }
};

using Memory = std::map<int64_t, Storage>;

size_t elementBytes(cudnnDataType_t t) {
    switch (t) {
        case CUDNN_DATA_HALF: case CUDNN_DATA_BFLOAT16: return 2;
        case CUDNN_DATA_FLOAT: return 4;
        default: return 0;  // not a type the stand-in reads from device memory
    }
}

// Element offset of coordinate c in t, with t's size-1 dimensions broadcast.
int64_t offsetIn(const TensorInfo& t, const int64_t* c) {
    int64_t o = 0;
    for (int d = 0; d < t.rank; d++) {
        if (t.dims[d] != 1) o += c[d] * t.strides[d];
    }
    return o;
}

// f(coordinates) for every element of t, the last dimension fastest.
template <class F>
void forEach(const TensorInfo& t, F&& f) {
    int64_t c[CUDNN_DIM_MAX] = {};
    int64_t total = 1;
    for (int d = 0; d < t.rank; d++) total *= t.dims[d];
    for (int64_t i = 0; i < total; i++) {
        f(static_cast<const int64_t*>(c));
        for (int d = t.rank - 1; d >= 0; d--) {
            if (++c[d] < t.dims[d]) break;
            c[d] = 0;
        }
    }
}

float pointwise(cudnnPointwiseMode_t m, float x, float b, float t) {
    switch (m) {
        case CUDNN_POINTWISE_ADD: return x + b;
        case CUDNN_POINTWISE_SUB: return x - b;
        case CUDNN_POINTWISE_MUL: return x * b;
        case CUDNN_POINTWISE_DIV: return x / b;
        case CUDNN_POINTWISE_MAX: return std::max(x, b);
        case CUDNN_POINTWISE_MIN: return std::min(x, b);
        case CUDNN_POINTWISE_EXP: return std::exp(x);
        case CUDNN_POINTWISE_LOG: return std::log(x);
        case CUDNN_POINTWISE_NEG: return -x;
        case CUDNN_POINTWISE_RECIPROCAL: return 1.0f / x;
        case CUDNN_POINTWISE_IDENTITY: return x;
        case CUDNN_POINTWISE_CMP_GE: return x >= b ? 1.0f : 0.0f;
        case CUDNN_POINTWISE_CMP_GT: return x > b ? 1.0f : 0.0f;
        case CUDNN_POINTWISE_CMP_LE: return x <= b ? 1.0f : 0.0f;
        case CUDNN_POINTWISE_CMP_LT: return x < b ? 1.0f : 0.0f;
        case CUDNN_POINTWISE_CMP_EQ: return x == b ? 1.0f : 0.0f;
        case CUDNN_POINTWISE_LOGICAL_AND: return (x != 0 && b != 0) ? 1.0f : 0.0f;
        // cuDNN's BINARY_SELECT: y = t ? x : b (the frontend keeps the score where the mask is true).
        case CUDNN_POINTWISE_BINARY_SELECT: return t != 0 ? x : b;
        default: return std::numeric_limits<float>::quiet_NaN();  // rejected when finalized
    }
}

void run(const Operation& op, Memory& memory) {
    Storage& out = memory.at(op.output.uid);
    const TensorInfo& y = op.output;
    switch (op.kind) {
        case OpKind::Pointwise: {
            const Storage* in[3] = {};
            for (size_t i = 0; i < op.inputs.size(); i++) in[i] = &memory.at(op.inputs[i].uid);
            forEach(y, [&](const int64_t* c) {
                float v[3] = {0, 0, 0};
                for (size_t i = 0; i < op.inputs.size(); i++) v[i] = in[i]->read(offsetIn(op.inputs[i], c));
                float r = op.pointwise == CUDNN_POINTWISE_GEN_INDEX ? static_cast<float>(c[op.axis])
                                                                    : pointwise(op.pointwise, v[0], v[1], v[2]);
                out.write(offsetIn(y, c), r);
            });
            break;
        }
        case OpKind::Reduction: {
            const TensorInfo& x = op.inputs[0];
            const Storage& in = memory.at(x.uid);
            bool max = op.reduction == CUDNN_REDUCE_TENSOR_MAX;
            std::vector<float> acc(static_cast<size_t>(y.span()), max ? -std::numeric_limits<float>::infinity() : 0.0f);
            forEach(x, [&](const int64_t* c) {
                float v = in.read(offsetIn(x, c));
                float& a = acc[static_cast<size_t>(offsetIn(y, c))];
                a = max ? std::max(a, v) : a + v;
            });
            forEach(y, [&](const int64_t* c) { out.write(offsetIn(y, c), acc[static_cast<size_t>(offsetIn(y, c))]); });
            break;
        }
        case OpKind::Reshape: {
            // A view of the same memory (checked when finalized): element at offset o stays at offset o.
            const Storage& in = memory.at(op.inputs[0].uid);
            for (int64_t o = 0; o < y.span(); o++) out.write(o, in.read(o));
            break;
        }
        case OpKind::Matmul: {
            const TensorInfo &a = op.inputs[0], &b = op.inputs[1];
            const Storage &sa = memory.at(a.uid), &sb = memory.at(b.uid);
            int r = y.rank;
            int64_t m = y.dims[r - 2], n = y.dims[r - 1], k = a.dims[r - 1];
            TensorInfo batch = y;
            batch.dims[r - 2] = batch.dims[r - 1] = 1;
            forEach(batch, [&](const int64_t* c) {
                int64_t cc[CUDNN_DIM_MAX];
                std::memcpy(cc, c, sizeof cc);
                for (int64_t i = 0; i < m; i++) {
                    for (int64_t j = 0; j < n; j++) {
                        float sum = 0;  // the matmul's compute type
                        for (int64_t p = 0; p < k; p++) {
                            cc[r - 2] = i, cc[r - 1] = p;
                            float av = sa.read(offsetIn(a, cc));
                            cc[r - 2] = p, cc[r - 1] = j;
                            sum += av * sb.read(offsetIn(b, cc));
                        }
                        cc[r - 2] = i, cc[r - 1] = j;
                        out.write(offsetIn(y, cc), sum);
                    }
                }
            });
            break;
        }
    }
}

}  // namespace

namespace standin::dnn::backend {

Status execute(cudnnHandle_t handle, const Descriptor& plan, const Descriptor& pack, const char* fn) {
    if (plan.handle != handle) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: the execution plan was finalized for another handle", fn);
    }
    std::map<int64_t, void*> given;
    for (size_t i = 0; i < pack.uids.size(); i++) given[pack.uids[i]] = pack.pointers[i];
    Memory memory;
    for (const Operation& op : *plan.graph) {
        std::vector<TensorInfo> all = op.inputs;
        all.push_back(op.output);
        for (const TensorInfo& t : all) {
            if (memory.count(t.uid)) continue;
            Storage s;
            s.type = t.type;
            if (t.isVirtual) {
                s.host.assign(static_cast<size_t>(t.span()), 0.0f);
            } else {
                auto it = given.find(t.uid);
                if (it == given.end() || it->second == nullptr) {
                    return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: the variant pack has no data pointer for tensor uid "
                                    "%lld", fn, (long long)t.uid);
                }
                if (t.byValue) {
                    if (t.type != CUDNN_DATA_FLOAT) {
                        return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED, "%s: the stand-in takes float by-value tensors only",
                                        fn);
                    }
                    float v;
                    std::memcpy(&v, it->second, sizeof v);  // host memory, read now as cuDNN does
                    s.host.assign(1, v);
                } else {
                    size_t bytes = static_cast<size_t>(t.span()) * elementBytes(t.type);
                    if (bytes == 0) {
                        return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE, "%s: tensor uid %lld: the stand-in reads "
                                        "device tensors of float, half and bfloat16 only", fn, (long long)t.uid);
                    }
                    std::string arg = "tensor uid " + std::to_string(t.uid);
                    float* p = nullptr;
                    DNN_TRY(deviceRange(it->second, bytes, fn, arg.c_str(), p));
                    s.device = p;
                }
            }
            memory.emplace(t.uid, std::move(s));
        }
    }
    if (pack.workspacePointer == nullptr && plan.workspace > 0) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: the plan needs a %lld-byte workspace but the variant pack's is NULL",
                        fn, (long long)plan.workspace);
    }
    float* ws = nullptr;
    DNN_TRY(deviceRange(pack.workspacePointer, static_cast<size_t>(plan.workspace), fn, "workspace", ws));
    std::shared_ptr<std::vector<Operation>> graph = plan.graph;
    return launch(handle, [graph, memory]() mutable {
        for (const Operation& op : *graph) run(op, memory);
    }, fn);
}

}  // namespace standin::dnn::backend
