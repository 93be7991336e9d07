package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

/**
 * The element types jdl hands cuDNN: float32, and the two 16-bit formats of mixed precision (bit patterns as
 * {@code io.jdl.backend.HalfPrecision} defines them). Whatever the data type, jdl asks cuDNN to compute in
 * float32 (cuDNN's FLOAT_CONFIG, PSEUDO_HALF_CONFIG and PSEUDO_BFLOAT16_CONFIG): half inputs, float
 * accumulation, outputs rounded to the data type.
 */
public enum CudnnDataType {
    FLOAT(4),
    HALF(2),
    BFLOAT16(2);

    private final int bytes;

    CudnnDataType(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    /** The {@code cudnnDataType_t} value. */
    int code() {
        return switch (this) {
            case FLOAT -> CUDNN_DATA_FLOAT();
            case HALF -> CUDNN_DATA_HALF();
            case BFLOAT16 -> CUDNN_DATA_BFLOAT16();
        };
    }
}
