package io.jdl.tensor;

/**
 * Element types. Only float32 is implemented; bf16/fp16 come with mixed precision and will slot in
 * here with their byte sizes.
 */
public enum DType {
    FLOAT32(4);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }
}
