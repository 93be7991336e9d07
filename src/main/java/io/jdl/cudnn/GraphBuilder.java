package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

import java.util.ArrayList;
import java.util.List;

/**
 * Builds one cuDNN backend operation graph: tensor descriptors (by unique id), operation descriptors in the
 * order they compute, then the finalized {@code OPERATIONGRAPH} descriptor. Keeps every descriptor it made, so
 * that {@link #close()} (or a failure half way) destroys them all. Package-private, single-threaded.
 *
 * <p>Layouts are 4-d, [batch, heads, rows, columns], with explicit strides (in elements), as cuDNN's attention
 * engines take them.
 */
final class GraphBuilder implements AutoCloseable {
    /** Virtual tensors get ids from here up; the graph's inputs and outputs use smaller, fixed ones. */
    private static final long FIRST_VIRTUAL_ID = 1000;

    /** A tensor of the graph: its descriptor and its dimensions and strides. */
    record Tensor(BackendDescriptor descriptor, long id, int dataType, long[] dims, long[] strides) {}

    private final List<BackendDescriptor> owned = new ArrayList<>();
    private final List<BackendDescriptor> operations = new ArrayList<>();
    private long nextVirtualId = FIRST_VIRTUAL_ID;

    private BackendDescriptor own(BackendDescriptor d) {
        owned.add(d);
        return d;
    }

    /** Takes ownership of a descriptor made for this graph (heuristics, engine configurations, plans). */
    BackendDescriptor adopt(BackendDescriptor d) {
        return own(d);
    }

    /** Packed (row-major) strides of {@code dims}. */
    static long[] packed(long... dims) {
        long[] strides = new long[dims.length];
        long n = 1;
        for (int i = dims.length - 1; i >= 0; i--) {
            strides[i] = n;
            n *= dims[i];
        }
        return strides;
    }

    /** The same tensor seen with its last two dimensions swapped (a transposed view of the same memory). */
    static long[] swapLast(long[] values) {
        long[] out = values.clone();
        int n = out.length;
        out[n - 1] = values[n - 2];
        out[n - 2] = values[n - 1];
        return out;
    }

    private Tensor tensor(long id, int dataType, long[] dims, long[] strides, boolean isVirtual, boolean byValue) {
        BackendDescriptor d = own(BackendDescriptor.create(CUDNN_BACKEND_TENSOR_DESCRIPTOR(), "tensor " + id));
        d.setLongs(CUDNN_ATTR_TENSOR_UNIQUE_ID(), "UNIQUE_ID", id)
                .setEnum(CUDNN_ATTR_TENSOR_DATA_TYPE(), CUDNN_TYPE_DATA_TYPE(), dataType, "DATA_TYPE")
                .setLongs(CUDNN_ATTR_TENSOR_DIMENSIONS(), "DIMENSIONS", dims)
                .setLongs(CUDNN_ATTR_TENSOR_STRIDES(), "STRIDES", strides)
                // 16 bytes, as the cuDNN frontend declares every SDPA tensor (device blocks are 256-byte aligned).
                .setLongs(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT(), "BYTE_ALIGNMENT", 16)
                .setBoolean(CUDNN_ATTR_TENSOR_IS_VIRTUAL(), isVirtual, "IS_VIRTUAL");
        if (byValue) {
            d.setBoolean(CUDNN_ATTR_TENSOR_IS_BY_VALUE(), true, "IS_BY_VALUE");
        }
        d.finalizeChecked();
        return new Tensor(d, id, dataType, dims.clone(), strides.clone());
    }

    /** A tensor in device memory, found through the variant pack under {@code id}. */
    Tensor input(long id, int dataType, long[] dims, long[] strides) {
        return tensor(id, dataType, dims, strides, false, false);
    }

    /** A float scalar passed by value (host memory) through the variant pack under {@code id}. */
    Tensor scalar(long id) {
        return tensor(id, CUDNN_DATA_FLOAT(), new long[] {1, 1, 1, 1}, new long[] {1, 1, 1, 1}, false, true);
    }

    /** An intermediate that lives only inside the fused kernel. */
    Tensor virtual(int dataType, long[] dims, long[] strides) {
        return tensor(nextVirtualId++, dataType, dims, strides, true, false);
    }

    Tensor virtual(int dataType, long... dims) {
        return virtual(dataType, dims, packed(dims));
    }

    /** c = a · b over the last two dimensions, batched over the first two, computed in float. */
    void matmul(Tensor a, Tensor b, Tensor c) {
        BackendDescriptor desc = own(BackendDescriptor.create(CUDNN_BACKEND_MATMUL_DESCRIPTOR(), "matmul"));
        desc.setEnum(CUDNN_ATTR_MATMUL_COMP_TYPE(), CUDNN_TYPE_DATA_TYPE(), CUDNN_DATA_FLOAT(), "COMP_TYPE")
                .finalizeChecked();
        BackendDescriptor op = own(BackendDescriptor.create(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR(), "matmul op"));
        op.setDescriptors(CUDNN_ATTR_OPERATION_MATMUL_ADESC(), "ADESC", a.descriptor())
                .setDescriptors(CUDNN_ATTR_OPERATION_MATMUL_BDESC(), "BDESC", b.descriptor())
                .setDescriptors(CUDNN_ATTR_OPERATION_MATMUL_CDESC(), "CDESC", c.descriptor())
                .setDescriptors(CUDNN_ATTR_OPERATION_MATMUL_DESC(), "DESC", desc)
                .finalizeChecked();
        operations.add(op);
    }

    /**
     * y = mode(x[, b[, t]]) elementwise in float, the inputs broadcast over y's dimensions (size-1 dimensions);
     * {@code axis} only for GEN_INDEX (the dimension whose index it writes), else -1.
     */
    void pointwise(int mode, String name, Tensor y, int axis, Tensor... inputs) {
        BackendDescriptor desc = own(BackendDescriptor.create(CUDNN_BACKEND_POINTWISE_DESCRIPTOR(), "pointwise " + name));
        desc.setEnum(CUDNN_ATTR_POINTWISE_MODE(), CUDNN_TYPE_POINTWISE_MODE(), mode, "MODE")
                .setEnum(CUDNN_ATTR_POINTWISE_MATH_PREC(), CUDNN_TYPE_DATA_TYPE(), CUDNN_DATA_FLOAT(), "MATH_PREC");
        if (axis >= 0) {
            desc.setLongs(CUDNN_ATTR_POINTWISE_AXIS(), "AXIS", axis);
        }
        desc.finalizeChecked();
        BackendDescriptor op = own(BackendDescriptor.create(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR(),
                "pointwise op " + name));
        op.setDescriptors(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR(), "PW_DESCRIPTOR", desc)
                .setDescriptors(CUDNN_ATTR_OPERATION_POINTWISE_XDESC(), "XDESC", inputs[0].descriptor());
        if (inputs.length > 1) {
            op.setDescriptors(CUDNN_ATTR_OPERATION_POINTWISE_BDESC(), "BDESC", inputs[1].descriptor());
        }
        if (inputs.length > 2) {
            op.setDescriptors(CUDNN_ATTR_OPERATION_POINTWISE_TDESC(), "TDESC", inputs[2].descriptor());
        }
        op.setDescriptors(CUDNN_ATTR_OPERATION_POINTWISE_YDESC(), "YDESC", y.descriptor()).finalizeChecked();
        operations.add(op);
    }

    /** y = reduce(x) over the dimensions where y has size 1 and x does not; {@code op} a CUDNN_REDUCE_TENSOR_*. */
    void reduction(int op, String name, Tensor x, Tensor y) {
        BackendDescriptor desc = own(BackendDescriptor.create(CUDNN_BACKEND_REDUCTION_DESCRIPTOR(), "reduction " + name));
        desc.setEnum(CUDNN_ATTR_REDUCTION_OPERATOR(), CUDNN_TYPE_REDUCTION_OPERATOR_TYPE(), op, "OPERATOR")
                .setEnum(CUDNN_ATTR_REDUCTION_COMP_TYPE(), CUDNN_TYPE_DATA_TYPE(), CUDNN_DATA_FLOAT(), "COMP_TYPE")
                .finalizeChecked();
        BackendDescriptor operation = own(BackendDescriptor.create(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR(),
                "reduction op " + name));
        operation.setDescriptors(CUDNN_ATTR_OPERATION_REDUCTION_XDESC(), "XDESC", x.descriptor())
                .setDescriptors(CUDNN_ATTR_OPERATION_REDUCTION_YDESC(), "YDESC", y.descriptor())
                .setDescriptors(CUDNN_ATTR_OPERATION_REDUCTION_DESC(), "DESC", desc)
                .finalizeChecked();
        operations.add(operation);
    }

    /** y: the same memory as x seen through y's dimensions and strides (a transpose, here). */
    void reshape(Tensor x, Tensor y) {
        BackendDescriptor op = own(BackendDescriptor.create(CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR(), "reshape op"));
        op.setDescriptors(CUDNN_ATTR_OPERATION_RESHAPE_XDESC(), "XDESC", x.descriptor())
                .setDescriptors(CUDNN_ATTR_OPERATION_RESHAPE_YDESC(), "YDESC", y.descriptor())
                .finalizeChecked();
        operations.add(op);
    }

    /** The operation graph of everything added so far, finalized for {@code cudnn}'s handle. */
    BackendDescriptor finish(Cudnn cudnn) {
        BackendDescriptor graph = own(BackendDescriptor.create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR(), "operation graph"));
        graph.setHandle(CUDNN_ATTR_OPERATIONGRAPH_HANDLE(), cudnn, "HANDLE")
                .setDescriptors(CUDNN_ATTR_OPERATIONGRAPH_OPS(), "OPS", operations.toArray(BackendDescriptor[]::new));
        return graph;
    }

    int operationCount() {
        return operations.size();
    }

    /** Destroys every descriptor made, newest first. */
    @Override
    public void close() {
        RuntimeException first = null;
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        owned.clear();
        if (first != null) {
            throw first;
        }
    }
}
