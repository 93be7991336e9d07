package io.jdl.backend.cuda;

import io.jdl.backend.FusedAttention;
import io.jdl.backend.MatrixBatch;
import io.jdl.backend.Storage;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cudnn.CudnnDataType;
import io.jdl.cudnn.FlashAttention;
import io.jdl.device.DType;
import java.util.function.Function;

/**
 * {@link CudaBackend}'s fused attention: the backend's {@link FusedAttention} and {@link MatrixBatch} operands
 * as cuDNN flash-attention configurations and operands, run through {@link CudnnLayers}. Owned by one backend
 * and used from one thread at a time.
 */
final class CudaFusedAttention {
    private final CudnnLayers layers;
    /** The device memory of a storage of this backend (checked). */
    private final Function<Storage, DeviceMemory> memory;

    CudaFusedAttention(CudnnLayers layers, Function<Storage, DeviceMemory> memory) {
        this.layers = layers;
        this.memory = memory;
    }

    /** cuDNN's data type for {@code dtype}, or null for a type its flash attention does not take. */
    private static CudnnDataType type(DType dtype) {
        return switch (dtype) {
            case BFLOAT16 -> CudnnDataType.BFLOAT16;
            case FLOAT16 -> CudnnDataType.HALF;
            default -> null;
        };
    }

    private static FlashAttention.Layout layout(MatrixBatch m) {
        return new FlashAttention.Layout(m.outerStride(), m.innerStride(), m.rowStride());
    }

    private static FlashAttention.Config config(CudnnDataType type, FusedAttention a, MatrixBatch q, MatrixBatch k,
                                                MatrixBatch v, MatrixBatch o) {
        return new FlashAttention.Config(type, a.batch(), a.heads(), a.seqQ(), a.seqKV(), a.headDim(), a.causal(), a.scale(),
                a.keyMask(), a.dropout(), layout(q), layout(k), layout(v), layout(o));
    }

    private FlashAttention.Operand operand(MatrixBatch m, DType dtype, String name) {
        if (m.storage().dtype() != dtype) {
            throw new IllegalArgumentException("fused attention: " + name + " is " + m.storage().dtype()
                    + ", expected " + dtype);
        }
        return new FlashAttention.Operand(memory.apply(m.storage()), m.offset());
    }

    private DeviceMemory floats(Storage s, String name) {
        if (s.dtype() != DType.FLOAT32) {
            throw new IllegalArgumentException("fused attention: " + name + " must be FLOAT32, got " + s.dtype());
        }
        return memory.apply(s);
    }

    private DeviceMemory keyMask(FusedAttention a, Storage keyMask) {
        if (a.keyMask() != (keyMask != null)) {
            throw new IllegalArgumentException("fused attention: keyMask() is " + a.keyMask() + " but the key mask"
                    + (keyMask == null ? " is null" : " was given"));
        }
        return keyMask == null ? null : floats(keyMask, "keyMask");
    }

    private DeviceMemory dropoutMask(FusedAttention a, Storage mask) {
        if (a.dropout() != (mask != null)) {
            throw new IllegalArgumentException("fused attention: dropout() is " + a.dropout() + " but the dropout mask"
                    + (mask == null ? " is null" : " was given"));
        }
        return mask == null ? null : floats(mask, "dropoutMask");
    }

    boolean forward(FusedAttention a, MatrixBatch q, MatrixBatch k, MatrixBatch v, Storage keyMask, Storage dropoutMask,
                    MatrixBatch o, Storage stats, boolean withBackward) {
        CudnnDataType type = type(a.dtype());
        if (type == null) {
            return false;
        }
        FlashAttention.Config c = config(type, a, q, k, v, o);
        if (!layers.flashAttentionRuns(c, withBackward)) {
            return false;
        }
        return layers.flashAttentionForward(c, withBackward, operand(q, a.dtype(), "q"), operand(k, a.dtype(), "k"),
                operand(v, a.dtype(), "v"), operand(o, a.dtype(), "o"), floats(stats, "stats"), keyMask(a, keyMask),
                dropoutMask(a, dropoutMask));
    }

    boolean backward(FusedAttention a, MatrixBatch q, MatrixBatch k, MatrixBatch v, Storage keyMask,
                     Storage dropoutMask, MatrixBatch o, MatrixBatch dO, Storage stats, MatrixBatch dq, MatrixBatch dk,
                     MatrixBatch dv) {
        CudnnDataType type = type(a.dtype());
        if (type == null) {
            return false;
        }
        return layers.flashAttentionBackward(config(type, a, q, k, v, o), operand(q, a.dtype(), "q"),
                operand(k, a.dtype(), "k"), operand(v, a.dtype(), "v"), operand(o, a.dtype(), "o"),
                operand(dO, a.dtype(), "dO"), floats(stats, "stats"), keyMask(a, keyMask), dropoutMask(a, dropoutMask),
                operand(dq, a.dtype(), "dq"),
                operand(dk, a.dtype(), "dk"), operand(dv, a.dtype(), "dv"));
    }
}
