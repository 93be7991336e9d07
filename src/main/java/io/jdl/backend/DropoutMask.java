package io.jdl.backend;

/**
 * The dropout mask of every backend: whether element {@code index} survives for ({@code seed}, {@code p}).
 * The CPU backend calls it; the CUDA kernel in {@code native/jdl_kernels.cu} computes the same hash, so a
 * mask is identical, bit for bit, on every device.
 */
public final class DropoutMask {
    private DropoutMask() {
    }

    /**
     * Whether dropout with probability {@code p} keeps element {@code index} for {@code seed}: the
     * counter-based hash that native/jdl_kernels.cu writes the same way:
     * <pre>
     * h    = splitmix64(seed ^ (index * 0x9E3779B97F4A7C15))
     * u    = h &gt;&gt;&gt; 40                  (top 24 bits, 0 &lt;= u &lt; 2^24)
     * keep = u &gt;= (int) (p * 2^24)      (p * 2^24 is exact in float; the cast truncates)
     * </pre>
     * Pure Java, needs no GPU. {@code p == 0} keeps every index, {@code p == 1} none.
     *
     * @throws IllegalArgumentException unless {@code 0 <= p <= 1}
     */
    public static boolean keep(long seed, long index, float p) {
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException("dropout probability must lie in [0, 1], got " + p);
        }
        long h = splitmix64(seed ^ (index * 0x9E3779B97F4A7C15L));
        int u = (int) (h >>> 40);
        int threshold = (int) (p * 16777216.0f);
        return u >= threshold;
    }

    /** Steele, Lea and Flood's SplitMix64 finaliser applied to {@code x + golden gamma}. */
    public static long splitmix64(long x) {
        long z = x + 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
