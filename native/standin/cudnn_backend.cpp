// libcudnn.so.9 stand-in, part 5: the backend (graph) API's descriptors. cudnn_backend.h says which subset
// exists and how it computes; this file creates, sets, finalizes (with the checks cuDNN's API reference
// documents for each type: required attributes, consistent shapes, a graph whose virtual tensors are each
// produced once) and reads them, and offers the heuristics' one engine.
#include <algorithm>
#include <cstring>
#include <set>
#include <string>

#include "cudnn_backend.h"

using namespace standin::dnn;
using namespace standin::dnn::backend;

namespace {

// ---- what may be set: attribute -> (descriptor type, attribute type, element counts, required) ----

struct Spec {
    cudnnBackendDescriptorType_t owner;
    cudnnBackendAttributeName_t name;
    cudnnBackendAttributeType_t type;
    int64_t minCount, maxCount;
    bool required;
};

const Spec SPECS[] = {
    {CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, 1, true},
    {CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, 1, true},
    {CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 1, CUDNN_DIM_MAX, true},
    {CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 1, CUDNN_DIM_MAX, true},
    {CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, 1, true},
    {CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, 1, false},
    {CUDNN_BACKEND_TENSOR_DESCRIPTOR, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, 1, false},
    {CUDNN_BACKEND_MATMUL_DESCRIPTOR, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, 1, true},
    {CUDNN_BACKEND_POINTWISE_DESCRIPTOR, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, 1, true},
    {CUDNN_BACKEND_POINTWISE_DESCRIPTOR, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, 1, true},
    {CUDNN_BACKEND_POINTWISE_DESCRIPTOR, CUDNN_ATTR_POINTWISE_AXIS, CUDNN_TYPE_INT64, 1, 1, false},
    {CUDNN_BACKEND_REDUCTION_DESCRIPTOR, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, 1, true},
    {CUDNN_BACKEND_REDUCTION_DESCRIPTOR, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, 1, true},
    {CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, CUDNN_ATTR_OPERATION_MATMUL_ADESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, true},
    {CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, CUDNN_ATTR_OPERATION_MATMUL_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, true},
    {CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, CUDNN_ATTR_OPERATION_MATMUL_CDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, true},
    {CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, CUDNN_ATTR_OPERATION_MATMUL_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, true},
    {CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, true},
    {CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, true},
    {CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, false},
    {CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, CUDNN_ATTR_OPERATION_POINTWISE_TDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, false},
    {CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, true},
    {CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, true},
    {CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, true},
    {CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, CUDNN_ATTR_OPERATION_REDUCTION_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, true},
    {CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR, CUDNN_ATTR_OPERATION_RESHAPE_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, true},
    {CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR, CUDNN_ATTR_OPERATION_RESHAPE_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, true},
    {CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, 1, true},
    {CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 4096, true},
    {CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, true},
    {CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, 1, true},
    {CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, 1, true},
    {CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, 1, true},
    {CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 0, 4096, true},
    {CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 0, 4096, true},
    {CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, 1, true},
};

bool creatable(cudnnBackendDescriptorType_t t) {
    for (const Spec& s : SPECS) {
        if (s.owner == t) return true;
    }
    return t == CUDNN_BACKEND_ENGINECFG_DESCRIPTOR;  // filled by the heuristics, nothing to set
}

size_t elementBytes(cudnnBackendAttributeType_t t) {
    switch (t) {
        case CUDNN_TYPE_INT64: return 8;
        case CUDNN_TYPE_BOOLEAN: return sizeof(bool);
        case CUDNN_TYPE_HANDLE: case CUDNN_TYPE_BACKEND_DESCRIPTOR: case CUDNN_TYPE_VOID_PTR: return sizeof(void*);
        default: return 4;  // the enums (data type, modes) and FLOAT
    }
}

Status live(cudnnBackendDescriptor_t d, const char* fn, const char* arg, Descriptor*& out) {
    if (d == nullptr) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "%s: %s is NULL", fn, arg);
    }
    if (!isLive(d, Kind::Backend)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: %s (%p) is not a live backend descriptor", fn, arg, d);
    }
    out = static_cast<Descriptor*>(d);
    return CUDNN_STATUS_SUCCESS;
}

template <class T>
T value(const Descriptor& d, int name, int64_t i = 0) {
    T v;
    std::memcpy(&v, d.attributes.at(name).bytes.data() + i * sizeof(T), sizeof(T));
    return v;
}

bool has(const Descriptor& d, int name) { return d.attributes.count(name) != 0; }

// The finalized descriptor an attribute of `d` points to, of the expected type.
Status referenced(const Descriptor& d, int name, cudnnBackendDescriptorType_t type, const char* fn, const char* what,
                  Descriptor*& out) {
    return finalizedOf(value<cudnnBackendDescriptor_t>(d, name), type, fn, what, out);
}

Status tensorOf(const Descriptor& d, int name, const char* fn, const char* what, TensorInfo& out) {
    Descriptor* t = nullptr;
    DNN_TRY(referenced(d, name, CUDNN_BACKEND_TENSOR_DESCRIPTOR, fn, what, t));
    out = t->tensor;
    return CUDNN_STATUS_SUCCESS;
}

std::string shape(const TensorInfo& t) {
    std::string s = "[";
    for (int i = 0; i < t.rank; i++) s += (i ? ", " : "") + std::to_string(t.dims[i]);
    return s + "] (uid " + std::to_string(t.uid) + ")";
}

// ---- finalize, per descriptor type ----

Status finalizeTensor(Descriptor& d, const char* fn) {
    TensorInfo& t = d.tensor;
    const Attribute& dims = d.attributes.at(CUDNN_ATTR_TENSOR_DIMENSIONS);
    const Attribute& strides = d.attributes.at(CUDNN_ATTR_TENSOR_STRIDES);
    if (dims.count != strides.count) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: tensor has %lld dimensions but %lld strides", fn,
                        (long long)dims.count, (long long)strides.count);
    }
    t.uid = value<int64_t>(d, CUDNN_ATTR_TENSOR_UNIQUE_ID);
    t.type = value<cudnnDataType_t>(d, CUDNN_ATTR_TENSOR_DATA_TYPE);
    t.rank = static_cast<int>(dims.count);
    for (int i = 0; i < t.rank; i++) {
        t.dims[i] = value<int64_t>(d, CUDNN_ATTR_TENSOR_DIMENSIONS, i);
        t.strides[i] = value<int64_t>(d, CUDNN_ATTR_TENSOR_STRIDES, i);
        if (t.dims[i] <= 0 || t.strides[i] <= 0) {
            return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: tensor uid %lld: dimension %d is %lld with stride %lld; both "
                            "must be positive", fn, (long long)t.uid, i, (long long)t.dims[i], (long long)t.strides[i]);
        }
    }
    if (value<int64_t>(d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT) <= 0) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: tensor uid %lld: BYTE_ALIGNMENT must be positive", fn,
                        (long long)t.uid);
    }
    t.isVirtual = has(d, CUDNN_ATTR_TENSOR_IS_VIRTUAL) && value<bool>(d, CUDNN_ATTR_TENSOR_IS_VIRTUAL);
    t.byValue = has(d, CUDNN_ATTR_TENSOR_IS_BY_VALUE) && value<bool>(d, CUDNN_ATTR_TENSOR_IS_BY_VALUE);
    if (t.isVirtual && t.byValue) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: tensor uid %lld is both virtual and by value", fn, (long long)t.uid);
    }
    return CUDNN_STATUS_SUCCESS;
}

// Whether `in` broadcasts to `out`: same rank, each dimension equal or 1.
bool broadcasts(const TensorInfo& in, const TensorInfo& out) {
    if (in.rank != out.rank) return false;
    for (int i = 0; i < in.rank; i++) {
        if (in.dims[i] != out.dims[i] && in.dims[i] != 1) return false;
    }
    return true;
}

Status finalizeMatmul(Descriptor& d, const char* fn) {
    Descriptor* desc = nullptr;
    DNN_TRY(referenced(d, CUDNN_ATTR_OPERATION_MATMUL_DESC, CUDNN_BACKEND_MATMUL_DESCRIPTOR, fn, "DESC", desc));
    auto op = std::make_shared<Operation>();
    op->kind = OpKind::Matmul;
    TensorInfo a, b, c;
    DNN_TRY(tensorOf(d, CUDNN_ATTR_OPERATION_MATMUL_ADESC, fn, "ADESC", a));
    DNN_TRY(tensorOf(d, CUDNN_ATTR_OPERATION_MATMUL_BDESC, fn, "BDESC", b));
    DNN_TRY(tensorOf(d, CUDNN_ATTR_OPERATION_MATMUL_CDESC, fn, "CDESC", c));
    int r = c.rank;
    bool ok = r >= 2 && a.rank == r && b.rank == r && a.dims[r - 2] == c.dims[r - 2] && b.dims[r - 1] == c.dims[r - 1] &&
              a.dims[r - 1] == b.dims[r - 2];
    for (int i = 0; ok && i < r - 2; i++) {
        ok = (a.dims[i] == c.dims[i] || a.dims[i] == 1) && (b.dims[i] == c.dims[i] || b.dims[i] == 1);
    }
    if (!ok) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH, "%s: matmul A %s, B %s, C %s: need [.., m, k] x [.., k, n] "
                        "-> [.., m, n] with batch dimensions equal or 1", fn, shape(a).c_str(), shape(b).c_str(),
                        shape(c).c_str());
    }
    op->inputs = {a, b};
    op->output = c;
    d.operation = op;
    return CUDNN_STATUS_SUCCESS;
}

int arity(cudnnPointwiseMode_t m) {
    switch (m) {
        case CUDNN_POINTWISE_EXP: case CUDNN_POINTWISE_LOG: case CUDNN_POINTWISE_IDENTITY: case CUDNN_POINTWISE_NEG:
        case CUDNN_POINTWISE_RECIPROCAL: case CUDNN_POINTWISE_GEN_INDEX: return 1;
        case CUDNN_POINTWISE_ADD: case CUDNN_POINTWISE_SUB: case CUDNN_POINTWISE_MUL: case CUDNN_POINTWISE_DIV:
        case CUDNN_POINTWISE_MAX: case CUDNN_POINTWISE_MIN: case CUDNN_POINTWISE_CMP_GE: case CUDNN_POINTWISE_CMP_GT:
        case CUDNN_POINTWISE_CMP_LE: case CUDNN_POINTWISE_CMP_LT: case CUDNN_POINTWISE_CMP_EQ:
        case CUDNN_POINTWISE_LOGICAL_AND: return 2;
        case CUDNN_POINTWISE_BINARY_SELECT: return 3;
        default: return 0;  // not implemented by the stand-in
    }
}

Status finalizePointwise(Descriptor& d, const char* fn) {
    Descriptor* desc = nullptr;
    DNN_TRY(referenced(d, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_BACKEND_POINTWISE_DESCRIPTOR, fn,
                       "PW_DESCRIPTOR", desc));
    auto op = std::make_shared<Operation>();
    op->kind = OpKind::Pointwise;
    op->pointwise = value<cudnnPointwiseMode_t>(*desc, CUDNN_ATTR_POINTWISE_MODE);
    op->axis = has(*desc, CUDNN_ATTR_POINTWISE_AXIS) ? static_cast<int>(value<int64_t>(*desc, CUDNN_ATTR_POINTWISE_AXIS)) : -1;
    int n = arity(op->pointwise);
    const int names[] = {CUDNN_ATTR_OPERATION_POINTWISE_XDESC, CUDNN_ATTR_OPERATION_POINTWISE_BDESC,
                         CUDNN_ATTR_OPERATION_POINTWISE_TDESC};
    const char* labels[] = {"XDESC", "BDESC", "TDESC"};
    for (int i = 0; i < 3; i++) {
        if (i < n && !has(d, names[i])) {
            return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: pointwise mode %d needs %s", fn, op->pointwise, labels[i]);
        }
        if (i >= n && has(d, names[i])) {
            return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: pointwise mode %d takes %d inputs but %s is set", fn,
                            op->pointwise, n, labels[i]);
        }
    }
    DNN_TRY(tensorOf(d, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, fn, "YDESC", op->output));
    for (int i = 0; i < n; i++) {
        TensorInfo in;
        DNN_TRY(tensorOf(d, names[i], fn, labels[i], in));
        if (!broadcasts(in, op->output)) {
            return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH, "%s: pointwise %s %s does not broadcast to Y %s", fn,
                            labels[i], shape(in).c_str(), shape(op->output).c_str());
        }
        op->inputs.push_back(in);
    }
    if (op->pointwise == CUDNN_POINTWISE_GEN_INDEX && (op->axis < 0 || op->axis >= op->output.rank)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: GEN_INDEX needs an AXIS below the rank %d, got %d", fn,
                        op->output.rank, op->axis);
    }
    d.operation = op;
    return CUDNN_STATUS_SUCCESS;
}

Status finalizeReduction(Descriptor& d, const char* fn) {
    Descriptor* desc = nullptr;
    DNN_TRY(referenced(d, CUDNN_ATTR_OPERATION_REDUCTION_DESC, CUDNN_BACKEND_REDUCTION_DESCRIPTOR, fn, "DESC", desc));
    auto op = std::make_shared<Operation>();
    op->kind = OpKind::Reduction;
    op->reduction = value<cudnnReduceTensorOp_t>(*desc, CUDNN_ATTR_REDUCTION_OPERATOR);
    TensorInfo x;
    DNN_TRY(tensorOf(d, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, fn, "XDESC", x));
    DNN_TRY(tensorOf(d, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, fn, "YDESC", op->output));
    if (!broadcasts(op->output, x)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH, "%s: reduction Y %s must have X %s's dimensions or 1s",
                        fn, shape(op->output).c_str(), shape(x).c_str());
    }
    op->inputs = {x};
    d.operation = op;
    return CUDNN_STATUS_SUCCESS;
}

Status finalizeReshape(Descriptor& d, const char* fn) {
    auto op = std::make_shared<Operation>();
    op->kind = OpKind::Reshape;
    TensorInfo x;
    DNN_TRY(tensorOf(d, CUDNN_ATTR_OPERATION_RESHAPE_XDESC, fn, "XDESC", x));
    DNN_TRY(tensorOf(d, CUDNN_ATTR_OPERATION_RESHAPE_YDESC, fn, "YDESC", op->output));
    long long nx = 1, ny = 1;
    for (int i = 0; i < x.rank; i++) nx *= x.dims[i];
    for (int i = 0; i < op->output.rank; i++) ny *= op->output.dims[i];
    // The stand-in implements the view a transpose needs: the same elements at the same offsets, i.e. Y's
    // (dimension, stride) pairs are X's in another order (X dense, or strided inside a fused projection).
    std::vector<std::pair<int64_t, int64_t>> px, py;
    for (int i = 0; i < x.rank; i++) px.emplace_back(x.dims[i], x.strides[i]);
    for (int i = 0; i < op->output.rank; i++) py.emplace_back(op->output.dims[i], op->output.strides[i]);
    std::sort(px.begin(), px.end());
    std::sort(py.begin(), py.end());
    if (nx != ny || px != py) {
        return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED, "%s: the stand-in reshapes only between views of the same memory "
                        "(the same dimensions and strides, reordered); X %s, Y %s", fn, shape(x).c_str(),
                        shape(op->output).c_str());
    }
    op->inputs = {x};
    d.operation = op;
    return CUDNN_STATUS_SUCCESS;
}

bool isOperation(cudnnBackendDescriptorType_t t) {
    return t == CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR || t == CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR ||
           t == CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR || t == CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR;
}

bool sameTensor(const TensorInfo& a, const TensorInfo& b) {
    if (a.type != b.type || a.rank != b.rank || a.isVirtual != b.isVirtual || a.byValue != b.byValue) return false;
    for (int i = 0; i < a.rank; i++) {
        if (a.dims[i] != b.dims[i] || a.strides[i] != b.strides[i]) return false;
    }
    return true;
}

// Orders the operations so that each runs after whatever produces its inputs; every uid names one tensor,
// every tensor is produced at most once, every virtual input is produced.
Status finalizeGraph(Descriptor& d, const char* fn) {
    DNN_TRY(object(value<cudnnHandle_t>(d, CUDNN_ATTR_OPERATIONGRAPH_HANDLE), fn, "HANDLE"));
    d.handle = value<cudnnHandle_t>(d, CUDNN_ATTR_OPERATIONGRAPH_HANDLE);
    const Attribute& ops = d.attributes.at(CUDNN_ATTR_OPERATIONGRAPH_OPS);
    std::vector<Operation> pending;
    for (int64_t i = 0; i < ops.count; i++) {
        Descriptor* op = nullptr;
        DNN_TRY(live(value<cudnnBackendDescriptor_t>(d, CUDNN_ATTR_OPERATIONGRAPH_OPS, i), fn, "OPS", op));
        if (!isOperation(op->type) || !op->finalized) {
            return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: OPS[%lld] is not a finalized operation descriptor", fn,
                            (long long)i);
        }
        pending.push_back(*op->operation);
    }
    std::map<int64_t, TensorInfo> tensors;
    std::set<int64_t> produced;
    for (const Operation& op : pending) {
        std::vector<TensorInfo> all = op.inputs;
        all.push_back(op.output);
        for (const TensorInfo& t : all) {
            auto [it, fresh] = tensors.emplace(t.uid, t);
            if (!fresh && !sameTensor(it->second, t)) {
                return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: uid %lld names two different tensors", fn, (long long)t.uid);
            }
        }
        if (!produced.insert(op.output.uid).second) {
            return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: tensor uid %lld is the output of two operations", fn,
                            (long long)op.output.uid);
        }
        if (op.output.byValue) {
            return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: by-value tensor uid %lld is an output", fn,
                            (long long)op.output.uid);
        }
    }
    auto ordered = std::make_shared<std::vector<Operation>>();
    std::set<int64_t> ready;
    for (auto& [uid, t] : tensors) {
        if (!produced.count(uid)) {
            if (t.isVirtual) {
                return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: virtual tensor uid %lld is read but never produced", fn,
                                (long long)uid);
            }
            ready.insert(uid);
        }
    }
    while (!pending.empty()) {
        auto next = std::find_if(pending.begin(), pending.end(), [&](const Operation& op) {
            return std::all_of(op.inputs.begin(), op.inputs.end(), [&](const TensorInfo& t) { return ready.count(t.uid); });
        });
        if (next == pending.end()) {
            return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: the operations form a cycle", fn);
        }
        ready.insert(next->output.uid);
        ordered->push_back(*next);
        pending.erase(next);
    }
    d.graph = ordered;
    return CUDNN_STATUS_SUCCESS;
}

// The stand-in's one engine (see cudnn_backend.h): 16-bit Q·Kᵀ-like products with a head dimension it fuses.
bool engineRuns(const std::vector<Operation>& graph) {
    for (const Operation& op : graph) {
        if (op.kind != OpKind::Matmul) continue;
        const TensorInfo &a = op.inputs[0], &b = op.inputs[1];
        for (const TensorInfo* t : {&a, &b}) {
            if (!t->isVirtual && t->type != CUDNN_DATA_HALF && t->type != CUDNN_DATA_BFLOAT16) {
                standin::fail(CUDNN_STATUS_NOT_SUPPORTED, "engine heuristics: the fused attention engine needs "
                              "fp16/bf16 matmul operands; uid %lld is data type %d", (long long)t->uid, t->type);
                return false;
            }
        }
        int64_t k = a.dims[a.rank - 1];
        if (!a.isVirtual && !b.isVirtual && (k % 8 != 0 || k > 256)) {
            standin::fail(CUDNN_STATUS_NOT_SUPPORTED, "engine heuristics: head dimension %lld is not a multiple of 8 "
                          "at most 256", (long long)k);
            return false;
        }
    }
    // Q, K, V, O and their gradients: the head dimension contiguous (NVIDIA: BHSD, BSHD and interleaved
    // layouts, each with a unit stride on the hidden dimension; K and V also read transposed).
    for (const Operation& op : graph) {
        if (op.kind != OpKind::Matmul) continue;
        for (const TensorInfo* t : {&op.inputs[0], &op.inputs[1], &op.output}) {
            if (t->isVirtual || t->type == CUDNN_DATA_FLOAT) continue;
            if (t->strides[t->rank - 1] != 1 && t->strides[t->rank - 2] != 1) {
                standin::fail(CUDNN_STATUS_NOT_SUPPORTED, "engine heuristics: tensor uid %lld has no unit stride on "
                              "its head dimension", (long long)t->uid);
                return false;
            }
        }
    }
    // An additive bias on the scores (the frontend's set_bias): a device tensor added to a [B, H, Sq, Skv]
    // score tensor, 16-bit, [B or 1, H or 1, Sq, Skv] (NVIDIA's bias layouts: no broadcast over the queries or
    // keys), keys contiguous.
    for (const Operation& op : graph) {
        if (op.kind != OpKind::Pointwise || op.pointwise != CUDNN_POINTWISE_ADD || op.inputs.size() != 2) continue;
        const TensorInfo &x = op.inputs[0], &bias = op.inputs[1];
        if (bias.isVirtual || bias.byValue || x.rank != 4 || x.dims[2] == 1) continue;  // not a score bias
        bool fits = bias.rank == 4 && (bias.dims[0] == x.dims[0] || bias.dims[0] == 1) &&
                    (bias.dims[1] == x.dims[1] || bias.dims[1] == 1) && bias.dims[2] == x.dims[2] &&
                    bias.dims[3] == x.dims[3] && bias.strides[3] == 1;
        if (!fits || (bias.type != CUDNN_DATA_HALF && bias.type != CUDNN_DATA_BFLOAT16)) {
            standin::fail(CUDNN_STATUS_NOT_SUPPORTED, "engine heuristics: the score bias uid %lld must be 16-bit "
                          "[B or 1, H or 1, Sq, Skv] with contiguous keys; it is %s of data type %d",
                          (long long)bias.uid, shape(bias).c_str(), bias.type);
            return false;
        }
    }
    return true;
}

Status finalize(Descriptor& d, const char* fn) {
    for (const Spec& s : SPECS) {
        if (s.owner == d.type && s.required && !has(d, s.name)) {
            return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: required attribute %d of descriptor type %d is not set", fn,
                            s.name, d.type);
        }
    }
    switch (d.type) {
        case CUDNN_BACKEND_TENSOR_DESCRIPTOR: return finalizeTensor(d, fn);
        case CUDNN_BACKEND_POINTWISE_DESCRIPTOR: {
            cudnnPointwiseMode_t m = value<cudnnPointwiseMode_t>(d, CUDNN_ATTR_POINTWISE_MODE);
            if (arity(m) == 0) {
                return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED, "%s: the stand-in does not implement pointwise mode %d", fn, m);
            }
            return CUDNN_STATUS_SUCCESS;
        }
        case CUDNN_BACKEND_REDUCTION_DESCRIPTOR: {
            auto op = value<cudnnReduceTensorOp_t>(d, CUDNN_ATTR_REDUCTION_OPERATOR);
            if (op != CUDNN_REDUCE_TENSOR_ADD && op != CUDNN_REDUCE_TENSOR_MAX) {
                return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED, "%s: the stand-in reduces with ADD and MAX only", fn);
            }
            return CUDNN_STATUS_SUCCESS;
        }
        case CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR: return finalizeMatmul(d, fn);
        case CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR: return finalizePointwise(d, fn);
        case CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR: return finalizeReduction(d, fn);
        case CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR: return finalizeReshape(d, fn);
        case CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR: return finalizeGraph(d, fn);
        case CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR: {
            Descriptor* graph = nullptr;
            DNN_TRY(referenced(d, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, fn,
                               "OPERATION_GRAPH", graph));
            d.graph = graph->graph;
            d.handle = graph->handle;
            d.engines = engineRuns(*d.graph) ? 1 : 0;
            return CUDNN_STATUS_SUCCESS;
        }
        case CUDNN_BACKEND_ENGINECFG_DESCRIPTOR:
            return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED, "%s: the stand-in's engine configurations come only from "
                            "CUDNN_ATTR_ENGINEHEUR_RESULTS", fn);
        case CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR: {
            DNN_TRY(object(value<cudnnHandle_t>(d, CUDNN_ATTR_EXECUTION_PLAN_HANDLE), fn, "HANDLE"));
            Descriptor* config = nullptr;
            DNN_TRY(referenced(d, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, fn,
                               "ENGINE_CONFIG", config));
            d.graph = config->graph;
            d.handle = value<cudnnHandle_t>(d, CUDNN_ATTR_EXECUTION_PLAN_HANDLE);
            d.workspace = ENGINE_WORKSPACE;
            return CUDNN_STATUS_SUCCESS;
        }
        case CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR: {
            const Attribute &ids = d.attributes.at(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS),
                            &ptrs = d.attributes.at(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS);
            if (ids.count != ptrs.count) {
                return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: %lld unique ids but %lld data pointers", fn,
                                (long long)ids.count, (long long)ptrs.count);
            }
            for (int64_t i = 0; i < ids.count; i++) {
                d.uids.push_back(value<int64_t>(d, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, i));
                d.pointers.push_back(value<void*>(d, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, i));
            }
            d.workspacePointer = value<void*>(d, CUDNN_ATTR_VARIANT_PACK_WORKSPACE);
            return CUDNN_STATUS_SUCCESS;
        }
        default:  // only creatable types reach here
            return CUDNN_STATUS_SUCCESS;
    }
}

}  // namespace

namespace standin::dnn::backend {

int64_t TensorInfo::span() const {
    int64_t s = 1;
    for (int i = 0; i < rank; i++) s += (dims[i] - 1) * strides[i];
    return s;
}

Status finalizedOf(cudnnBackendDescriptor_t d, cudnnBackendDescriptorType_t type, const char* fn, const char* what,
                   Descriptor*& out) {
    DNN_TRY(live(d, fn, what, out));
    if (out->type != type) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: %s is a descriptor of type %d, not %d", fn, what, out->type, type);
    }
    if (!out->finalized) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED, "%s: %s is not finalized", fn, what);
    }
    return CUDNN_STATUS_SUCCESS;
}

}  // namespace standin::dnn::backend

extern "C" {

cudnnStatus_t cudnnBackendCreateDescriptor(cudnnBackendDescriptorType_t descriptorType,
                                           cudnnBackendDescriptor_t* descriptor) {
    DNN_ENTRY("cudnnBackendCreateDescriptor");
    if (descriptor == nullptr) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "%s: descriptor is NULL", fn);
    }
    if (!creatable(descriptorType)) {
        return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED, "%s: the stand-in implements only the backend descriptors jdl's "
                        "flash attention builds, not type %d", fn, descriptorType);
    }
    auto* d = new Descriptor{};
    d->type = descriptorType;
    track(d, Kind::Backend);
    *descriptor = d;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBackendDestroyDescriptor(cudnnBackendDescriptor_t descriptor) {
    DNN_ENTRY("cudnnBackendDestroyDescriptor");
    if (!untrack(descriptor, Kind::Backend)) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: %p is not a live backend descriptor", fn, descriptor);
    }
    delete static_cast<Descriptor*>(descriptor);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBackendSetAttribute(cudnnBackendDescriptor_t descriptor, cudnnBackendAttributeName_t attributeName,
                                       cudnnBackendAttributeType_t attributeType, int64_t elementCount,
                                       const void* arrayOfElements) {
    DNN_ENTRY("cudnnBackendSetAttribute");
    Descriptor* d = nullptr;
    DNN_TRY(live(descriptor, fn, "descriptor", d));
    if (d->finalized) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: the descriptor is finalized; attribute %d cannot change", fn,
                        attributeName);
    }
    const Spec* spec = nullptr;
    for (const Spec& s : SPECS) {
        if (s.owner == d->type && s.name == attributeName) spec = &s;
    }
    if (spec == nullptr) {
        return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED, "%s: the stand-in does not implement attribute %d of descriptor "
                        "type %d", fn, attributeName, d->type);
    }
    if (attributeType != spec->type) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: attribute %d takes attribute type %d, got %d", fn, attributeName,
                        spec->type, attributeType);
    }
    if (elementCount < spec->minCount || elementCount > spec->maxCount) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: attribute %d takes %lld to %lld elements, got %lld", fn,
                        attributeName, (long long)spec->minCount, (long long)spec->maxCount, (long long)elementCount);
    }
    if (arrayOfElements == nullptr && elementCount > 0) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_NULL_POINTER, "%s: arrayOfElements is NULL", fn);
    }
    Attribute a{attributeType, elementCount, {}};
    const auto* p = static_cast<const unsigned char*>(arrayOfElements);
    a.bytes.assign(p, p + elementCount * elementBytes(attributeType));
    d->attributes[attributeName] = std::move(a);
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBackendFinalize(cudnnBackendDescriptor_t descriptor) {
    DNN_ENTRY("cudnnBackendFinalize");
    Descriptor* d = nullptr;
    DNN_TRY(live(descriptor, fn, "descriptor", d));
    if (d->finalized) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: the descriptor is already finalized", fn);
    }
    DNN_TRY(finalize(*d, fn));
    d->finalized = true;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBackendGetAttribute(cudnnBackendDescriptor_t const descriptor,
                                       cudnnBackendAttributeName_t attributeName,
                                       cudnnBackendAttributeType_t attributeType, int64_t requestedElementCount,
                                       int64_t* elementCount, void* arrayOfElements) {
    DNN_ENTRY("cudnnBackendGetAttribute");
    Descriptor* d = nullptr;
    DNN_TRY(live(descriptor, fn, "descriptor", d));
    if (!d->finalized) {
        return DNN_FAIL(CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED, "%s: the descriptor is not finalized", fn);
    }
    if (d->type == CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR && attributeName == CUDNN_ATTR_ENGINEHEUR_RESULTS &&
        attributeType == CUDNN_TYPE_BACKEND_DESCRIPTOR) {
        int64_t n = std::min<int64_t>(requestedElementCount, d->engines);
        for (int64_t i = 0; i < n; i++) {
            Descriptor* config = nullptr;
            DNN_TRY(live(static_cast<cudnnBackendDescriptor_t*>(arrayOfElements)[i], fn, "arrayOfElements[i]", config));
            if (config->type != CUDNN_BACKEND_ENGINECFG_DESCRIPTOR) {
                return DNN_FAIL(CUDNN_STATUS_BAD_PARAM, "%s: RESULTS are read into ENGINECFG descriptors", fn);
            }
            config->graph = d->graph;
            config->handle = d->handle;
            config->finalized = true;
        }
        if (elementCount != nullptr) *elementCount = d->engines;
        return CUDNN_STATUS_SUCCESS;
    }
    if (d->type == CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR && attributeName == CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE &&
        attributeType == CUDNN_TYPE_INT64 && requestedElementCount >= 1 && arrayOfElements != nullptr) {
        std::memcpy(arrayOfElements, &d->workspace, sizeof d->workspace);
        if (elementCount != nullptr) *elementCount = 1;
        return CUDNN_STATUS_SUCCESS;
    }
    auto it = d->attributes.find(attributeName);
    if (it == d->attributes.end() || it->second.type != attributeType) {
        return DNN_FAIL(CUDNN_STATUS_NOT_SUPPORTED, "%s: the stand-in cannot read attribute %d as type %d here", fn,
                        attributeName, attributeType);
    }
    int64_t n = std::min(requestedElementCount, it->second.count);
    if (n > 0 && arrayOfElements != nullptr) {
        std::memcpy(arrayOfElements, it->second.bytes.data(), n * elementBytes(attributeType));
    }
    if (elementCount != nullptr) *elementCount = it->second.count;
    return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnBackendExecute(cudnnHandle_t handle, cudnnBackendDescriptor_t executionPlan,
                                  cudnnBackendDescriptor_t variantPack) {
    DNN_ENTRY("cudnnBackendExecute");
    DNN_TRY(object(handle, fn, "handle"));
    Descriptor *plan = nullptr, *pack = nullptr;
    DNN_TRY(finalizedOf(executionPlan, CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, fn, "executionPlan", plan));
    DNN_TRY(finalizedOf(variantPack, CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, fn, "variantPack", pack));
    return execute(handle, *plan, *pack, fn);
}

}  // extern "C"
