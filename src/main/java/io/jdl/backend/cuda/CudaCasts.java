package io.jdl.backend.cuda;

import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.MixedPrecisionKernels.Element;
import io.jdl.cuda.NativeKernels;
import io.jdl.cuda.Stream;
import io.jdl.device.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The dtype-generic part of the CUDA backend: conversions between any two dtypes (jdl's {@code jdl_cast} kernel,
 * the rules of {@link DType}), plain copies of any dtype, and downloads of raw bytes. Stateless.
 */
final class CudaCasts {
    private CudaCasts() {
    }

    /** Elements of {@code dtype} in {@code littleEndian}; throws when the length is not a whole number of them. */
    static long elements(byte[] littleEndian, DType dtype) {
        if (littleEndian.length % dtype.bytes() != 0) {
            throw new IllegalArgumentException(littleEndian.length + " bytes is not a whole number of " + dtype
                    + " elements");
        }
        return littleEndian.length / dtype.bytes();
    }

    /** dst = src converted from {@code from} to {@code to} for {@code n} elements, queued on {@code stream}. */
    static void cast(Stream stream, DeviceMemory src, DType from, DeviceMemory dst, DType to, long n) {
        if (n == 0) {
            return;
        }
        if (from == to) {
            stream.copyOnDevice(src, 0, dst, 0, n * from.bytes());
        } else {
            NativeKernels.get().mixedPrecision().cast(stream, src, element(from), dst, element(to), n);
        }
    }

    /** The first {@code bytes} bytes of {@code src}, after the queued work on it. */
    static byte[] download(Stream stream, DeviceMemory src, long bytes) {
        if (bytes == 0) {
            return new byte[0];
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(bytes, 8);
            stream.copyToHost(src, 0, host, 0, bytes);
            stream.synchronize();
            return host.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** The kernels' element code of a dtype. */
    static Element element(DType t) {
        return switch (t) {
            case FLOAT32 -> Element.F32;
            case BFLOAT16 -> Element.BF16;
            case FLOAT16 -> Element.F16;
            case INT32 -> Element.I32;
            case INT64 -> Element.I64;
            case UINT8 -> Element.U8;
            case BOOL -> Element.BOOL;
        };
    }
}
