package io.jdl.backend.cuda;

import io.jdl.backend.PoolShape;
import io.jdl.cuda.NativeResource;
import io.jdl.cudnn.PoolingDescriptor;
import io.jdl.cudnn.TensorDescriptor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * cuDNN descriptors kept per shape, so that a training step, which repeats the same shapes, creates and
 * sets none after its first run: tensor descriptors (packed or strided) and pooling descriptors.
 *
 * <p>Bounded: at most {@link #CAPACITY} entries, the least recently used destroyed first. Destroying one
 * is safe at any time after the calls that used it returned: cuDNN reads a descriptor only while a call
 * is being queued. Owned by one backend and used from one thread at a time, like its cuDNN handle; the
 * backend lives as long as the process, and so do the cached descriptors (a few hundred bytes each).
 */
final class DescriptorCache {
    /** Far more shapes than one model's step uses; a shape-changing workload recycles the oldest. */
    static final int CAPACITY = 512;

    /** A descriptor's identity: its kind and the ints that configure it. */
    private record Key(char kind, int[] values) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.kind == kind && Arrays.equals(k.values, values);
        }

        @Override
        public int hashCode() {
            return 31 * kind + Arrays.hashCode(values);
        }
    }

    private final Map<Key, NativeResource> entries = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, NativeResource> eldest) {
            if (size() > CAPACITY) {
                eldest.getValue().close();
                return true;
            }
            return false;
        }
    };

    /** A packed float32 tensor of these dimensions (outermost first). */
    TensorDescriptor tensor(int... dims) {
        return (TensorDescriptor) get(new Key('t', dims.clone()), () -> TensorDescriptor.of(dims));
    }

    /** A float32 tensor of these dimensions seen through these strides (in elements). */
    TensorDescriptor strided(int[] dims, int[] strides) {
        int[] key = Arrays.copyOf(dims, dims.length * 2);
        System.arraycopy(strides, 0, key, dims.length, strides.length);
        return (TensorDescriptor) get(new Key('s', key), () -> TensorDescriptor.strided(dims, strides));
    }

    /** The pooling window of {@code s} (its batch and image sizes are not part of it). */
    PoolingDescriptor pooling(PoolShape s) {
        int[] key = {s.max() ? 1 : 0, s.kh(), s.kw(), s.padH(), s.padW(), s.strideH(), s.strideW()};
        return (PoolingDescriptor) get(new Key('p', key), () -> new PoolingDescriptor(
                s.max() ? PoolingDescriptor.Mode.MAX : PoolingDescriptor.Mode.AVERAGE_INCLUDE_PADDING,
                s.kh(), s.kw(), s.padH(), s.padW(), s.strideH(), s.strideW()));
    }

    private NativeResource get(Key key, Supplier<NativeResource> create) {
        NativeResource d = entries.get(key);
        if (d == null) {
            d = create.get();
            entries.put(key, d);
        }
        return d;
    }

    int size() {
        return entries.size();
    }
}
