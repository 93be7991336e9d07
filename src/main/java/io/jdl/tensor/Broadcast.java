package io.jdl.tensor;

import java.util.Arrays;

/** NumPy's broadcasting rule, shared by the pointwise ops, expand and matmul's batch dimensions. */
final class Broadcast {
    private Broadcast() {
    }

    /**
     * The shape both {@code a} and {@code b} broadcast to: aligned from the last dimension, each pair of sizes
     * must be equal or one of them 1 (a missing dimension counts as 1).
     *
     * @param what names the operands in the error message
     */
    static int[] shape(String what, int[] a, int[] b) {
        int rank = Math.max(a.length, b.length);
        int[] out = new int[rank];
        for (int i = 1; i <= rank; i++) {
            int da = i <= a.length ? a[a.length - i] : 1, db = i <= b.length ? b[b.length - i] : 1;
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException(what + " do not broadcast: " + Arrays.toString(a) + " and "
                        + Arrays.toString(b) + " differ in dimension " + (rank - i) + " of the result (" + da + " vs "
                        + db + "; sizes must be equal or 1)");
            }
            out[rank - i] = da == 1 ? db : da;
        }
        return out;
    }
}
