// The cuDNN stand-in's backend (graph) API: the subset jdl builds for fused flash attention
// (io.jdl.cudnn.FlashAttention). Shared by cudnn_backend.cpp (descriptors, attributes, finalize validation,
// heuristics) and cudnn_backend_run.cpp (the variant pack check and the graph's execution).
//
// What exists: descriptors of type TENSOR, MATMUL, POINTWISE, REDUCTION, OPERATION_MATMUL,
// OPERATION_POINTWISE, OPERATION_REDUCTION, OPERATION_RESHAPE, OPERATIONGRAPH, ENGINEHEUR, ENGINECFG,
// EXECUTION_PLAN and VARIANT_PACK, with the attributes jdl sets (others: CUDNN_STATUS_NOT_SUPPORTED, named).
// The operation graph is executed by interpretation, one operation after the other in dependency order, every
// value in float32: virtual tensors live in host vectors and are rounded to their declared data type when
// stored (a virtual bf16 P is bf16), device tensors are read and written in their data type. Real cuDNN fuses
// the graph into one kernel whose summation order differs; results agree up to float rounding.
//
// The one "engine" the heuristics offer accepts a graph when each matmul reading two device tensors (Q·Kᵀ,
// dO·Vᵀ: the head dimension is their k) has 16-bit operands and k a multiple of 8 and at most 256, the limits
// NVIDIA documents for its fp16/bf16 SDPA engines on Hopper (on Ampere, and with cuDNN before 9.10, k <= 128;
// the stand-in cannot know the GPU it pretends to be), whose 16-bit device operands have a unit stride on the
// head dimension, and whose score bias (an ADD of a device tensor to the scores) is 16-bit [B or 1, H or 1, Sq,
// Skv]. Otherwise it offers no engine, as cuDNN does for a graph it cannot fuse, and a caller falls back.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "cudnn_internal.h"

#pragma GCC visibility push(hidden)
namespace standin::dnn::backend {

// One attribute as set: its type, element count and raw bytes.
struct Attribute {
    cudnnBackendAttributeType_t type;
    int64_t count = 0;
    std::vector<unsigned char> bytes;
};

struct TensorInfo {
    int64_t uid = 0;
    cudnnDataType_t type = CUDNN_DATA_FLOAT;
    int rank = 0;
    int64_t dims[CUDNN_DIM_MAX] = {};
    int64_t strides[CUDNN_DIM_MAX] = {};
    bool isVirtual = false, byValue = false;
    int64_t span() const;  // elements from the first to one past the last the strides reach
};

enum class OpKind { Matmul, Pointwise, Reduction, Reshape };

// A finalized operation: its kind, parameters, and tensors (inputs in order, then the output).
struct Operation {
    OpKind kind;
    cudnnPointwiseMode_t pointwise = CUDNN_POINTWISE_ADD;
    cudnnReduceTensorOp_t reduction = CUDNN_REDUCE_TENSOR_ADD;
    int axis = -1;
    std::vector<TensorInfo> inputs;
    TensorInfo output;
};

struct Descriptor {
    cudnnBackendDescriptorType_t type;
    bool finalized = false;
    std::map<int, Attribute> attributes;
    // Filled by finalize, by type:
    TensorInfo tensor;                          // TENSOR
    std::shared_ptr<Operation> operation;       // OPERATION_*
    std::shared_ptr<std::vector<Operation>> graph;  // OPERATIONGRAPH (in execution order), ENGINECFG, EXECUTION_PLAN
    cudnnHandle_t handle = nullptr;             // OPERATIONGRAPH, EXECUTION_PLAN
    int engines = 0;                            // ENGINEHEUR: configurations offered (0 or 1)
    int64_t workspace = 0;                      // EXECUTION_PLAN
    std::vector<int64_t> uids;                  // VARIANT_PACK
    std::vector<void*> pointers;                // VARIANT_PACK
    void* workspacePointer = nullptr;           // VARIANT_PACK
};

// The workspace the stand-in's engine asks for, so that callers must pass one (checked at execution).
constexpr int64_t ENGINE_WORKSPACE = 1024;

// A live, finalized descriptor of `type` (or a failure naming what is wrong).
Status finalizedOf(cudnnBackendDescriptor_t d, cudnnBackendDescriptorType_t type, const char* fn, const char* what,
                   Descriptor*& out);

// Runs `graph` with the variant pack's pointers (checked here, before enqueueing) on the handle's stream.
Status execute(cudnnHandle_t handle, const Descriptor& plan, const Descriptor& pack, const char* fn);

}  // namespace standin::dnn::backend
#pragma GCC visibility pop
