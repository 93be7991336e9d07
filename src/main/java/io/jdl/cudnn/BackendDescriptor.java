package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

import io.jdl.cuda.NativeResource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One descriptor of cuDNN's backend (graph) API ({@code cudnnBackendCreateDescriptor}): attributes set one by one,
 * then finalized, then read-only; destroyed exactly once on {@link #close()}. Package-private: jdl's graphs
 * ({@link FlashAttention}) build and own them. Not thread-safe.
 *
 * <p>Every setter and {@link #finalizeChecked} throws {@link CudnnException} naming the descriptor type and
 * attribute; {@link #tryFinalize} returns the status instead, for the calls whose NOT_SUPPORTED answers are
 * expected (a graph or engine configuration this cuDNN or GPU does not run).
 */
final class BackendDescriptor extends NativeResource {
    private final MemorySegment handle;
    private final String name;

    private BackendDescriptor(MemorySegment handle, String name) {
        this.handle = handle;
        this.name = name;
    }

    /** A new descriptor of {@code type} (a {@code CUDNN_BACKEND_*_DESCRIPTOR}); {@code name} is for messages. */
    static BackendDescriptor create(int type, String name) {
        Cudnn.ensureLoaded();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            Cudnn.check(cudnnBackendCreateDescriptor(type, out), "cudnnBackendCreateDescriptor(" + name + ")");
            return new BackendDescriptor(out.get(ValueLayout.ADDRESS, 0), name);
        }
    }

    MemorySegment handle() {
        checkOpen();
        return handle;
    }

    private void set(int attribute, int attributeType, long count, MemorySegment values, String what) {
        Cudnn.check(cudnnBackendSetAttribute(handle(), attribute, attributeType, count, values),
                "cudnnBackendSetAttribute(" + name + ", " + what + ")");
    }

    BackendDescriptor setLongs(int attribute, String what, long... values) {
        try (Arena arena = Arena.ofConfined()) {
            set(attribute, CUDNN_TYPE_INT64(), values.length, arena.allocateFrom(ValueLayout.JAVA_LONG, values), what);
        }
        return this;
    }

    /** One value of an enum-typed attribute ({@code CUDNN_TYPE_DATA_TYPE}, {@code CUDNN_TYPE_POINTWISE_MODE}, ...). */
    BackendDescriptor setEnum(int attribute, int attributeType, int value, String what) {
        try (Arena arena = Arena.ofConfined()) {
            set(attribute, attributeType, 1, arena.allocateFrom(ValueLayout.JAVA_INT, value), what);
        }
        return this;
    }

    BackendDescriptor setBoolean(int attribute, boolean value, String what) {
        try (Arena arena = Arena.ofConfined()) {
            // cudnnBackendAttributeType_t's BOOLEAN is C's bool: one byte.
            set(attribute, CUDNN_TYPE_BOOLEAN(), 1, arena.allocateFrom(ValueLayout.JAVA_BYTE, (byte) (value ? 1 : 0)),
                    what);
        }
        return this;
    }

    BackendDescriptor setDescriptors(int attribute, String what, BackendDescriptor... values) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment array = arena.allocate(ValueLayout.ADDRESS, values.length);
            for (int i = 0; i < values.length; i++) {
                array.setAtIndex(ValueLayout.ADDRESS, i, values[i].handle());
            }
            set(attribute, CUDNN_TYPE_BACKEND_DESCRIPTOR(), values.length, array, what);
        }
        return this;
    }

    BackendDescriptor setPointers(int attribute, String what, MemorySegment... values) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment array = arena.allocate(ValueLayout.ADDRESS, values.length);
            for (int i = 0; i < values.length; i++) {
                array.setAtIndex(ValueLayout.ADDRESS, i, values[i]);
            }
            set(attribute, CUDNN_TYPE_VOID_PTR(), values.length, array, what);
        }
        return this;
    }

    BackendDescriptor setHandle(int attribute, Cudnn cudnn, String what) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment array = arena.allocate(ValueLayout.ADDRESS);
            array.set(ValueLayout.ADDRESS, 0, cudnn.handle());
            set(attribute, CUDNN_TYPE_HANDLE(), 1, array, what);
        }
        return this;
    }

    /** Finalizes; returns cuDNN's status (SUCCESS or why not) without throwing. */
    int tryFinalize() {
        int status = cudnnBackendFinalize(handle());
        io.jdl.cuda.NativeCounters.countCall();
        return status;
    }

    BackendDescriptor finalizeChecked() {
        Cudnn.check(cudnnBackendFinalize(handle()), "cudnnBackendFinalize(" + name + ")");
        return this;
    }

    /** A one-element INT64 attribute of a finalized descriptor. */
    long getLong(int attribute, String what) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(ValueLayout.JAVA_LONG);
            MemorySegment value = arena.allocate(ValueLayout.JAVA_LONG);
            Cudnn.check(cudnnBackendGetAttribute(handle(), attribute, CUDNN_TYPE_INT64(), 1, count, value),
                    "cudnnBackendGetAttribute(" + name + ", " + what + ")");
            return value.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    /**
     * Reads up to {@code into.length} descriptors of a BACKEND_DESCRIPTOR attribute into the descriptors given
     * (cuDNN fills caller-created ones); returns how many it filled.
     */
    int getDescriptors(int attribute, String what, BackendDescriptor... into) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(ValueLayout.JAVA_LONG);
            MemorySegment array = arena.allocate(ValueLayout.ADDRESS, into.length);
            for (int i = 0; i < into.length; i++) {
                array.setAtIndex(ValueLayout.ADDRESS, i, into[i].handle());
            }
            Cudnn.check(cudnnBackendGetAttribute(handle(), attribute, CUDNN_TYPE_BACKEND_DESCRIPTOR(), into.length, count,
                    array), "cudnnBackendGetAttribute(" + name + ", " + what + ")");
            return (int) Math.min(into.length, count.get(ValueLayout.JAVA_LONG, 0));
        }
    }

    @Override
    protected void release() {
        Cudnn.check(cudnnBackendDestroyDescriptor(handle), "cudnnBackendDestroyDescriptor(" + name + ")");
    }

    @Override
    protected String describe() {
        return "cuDNN backend descriptor " + name;
    }
}
