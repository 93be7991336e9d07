package io.jdl.cudnn;

import io.jdl.cuda.CachingAllocator;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.StandIn;
import io.jdl.cuda.Stream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/** Test helpers: 16-bit and float arrays to and from device memory, and the stand-in's live cuDNN objects. */
final class DeviceBuffers {
    private DeviceBuffers() {}

    /** A new device block holding {@code values} (16-bit patterns). */
    static DeviceMemory upload(Stream stream, CachingAllocator alloc, Arena arena, short[] values) {
        DeviceMemory m = alloc.allocate(values.length * 2L);
        stream.copyToDevice(arena.allocateFrom(ValueLayout.JAVA_SHORT, values), 0, m, 0, values.length * 2L);
        return m;
    }

    /** The first n 16-bit patterns of m, after the stream has run. */
    static short[] shorts(Stream stream, DeviceMemory m, int n, Arena arena) {
        MemorySegment out = arena.allocate(n * 2L);
        stream.copyToHost(m, 0, out, 0, n * 2L);
        stream.synchronize();
        return out.toArray(ValueLayout.JAVA_SHORT);
    }

    /** The first n floats of m, after the stream has run. */
    static float[] floats(Stream stream, DeviceMemory m, int n, Arena arena) {
        MemorySegment out = arena.allocate(n * 4L);
        stream.copyToHost(m, 0, out, 0, n * 4L);
        stream.synchronize();
        return out.toArray(ValueLayout.JAVA_FLOAT);
    }

    /** cuDNN handles and descriptors (legacy and backend) alive in the stand-in; needs it loaded. */
    static long liveCudnnObjects() {
        if (!StandIn.isLoaded()) {
            throw new IllegalStateException("live cuDNN objects are counted by the host stand-in only");
        }
        MemorySegment f = SymbolLookup.loaderLookup().find("standinCudnnLiveObjects").orElseThrow();
        MethodHandle h = Linker.nativeLinker().downcallHandle(f, FunctionDescriptor.of(ValueLayout.JAVA_LONG));
        try {
            return (long) h.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
