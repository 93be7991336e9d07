package io.jdl.backend;

import java.util.Objects;

/**
 * Where the row-major matrices of a two-level batch [outer, inner] lie inside one storage, for
 * {@link Backend#matmul(boolean, boolean, int, int, int, int, int, MatrixBatch, MatrixBatch, MatrixBatch)}:
 * matrix (o, i) starts {@code offset + o·outerStride + i·innerStride} floats into {@code storage}, and its
 * rows are {@code rowStride} floats apart (at least the row length). Strides of 0 repeat one matrix (a
 * broadcast). This is how attention reads the heads of q, k, v in place: in a fused projection [B, T, 3, H, D],
 * head h of k for batch b starts at H·D + b·T·3HD + h·D, with rows 3HD apart.
 */
public record MatrixBatch(Storage storage, long offset, int rowStride, long outerStride, long innerStride) {
    public MatrixBatch {
        Objects.requireNonNull(storage, "storage");
        if (offset < 0 || rowStride < 1 || outerStride < 0 || innerStride < 0) {
            throw new IllegalArgumentException("matrix batch: offset " + offset + ", row stride " + rowStride
                    + ", outer stride " + outerStride + " and inner stride " + innerStride
                    + " must be >= 0 (row stride >= 1)");
        }
    }

    /** {@code outer·inner} matrices of rows × cols packed one after another from the start of {@code storage}. */
    public static MatrixBatch packed(Storage storage, int inner, int rows, int cols) {
        long one = (long) rows * cols;
        return new MatrixBatch(storage, 0, Math.max(1, cols), one * inner, one);
    }

    /**
     * One past the last float any matrix touches, for matrices of {@code rows} × {@code cols} (as stored):
     * callers check it against the storage's size before a backend call.
     */
    public long end(int outer, int inner, int rows, int cols) {
        if ((long) outer * inner * rows * cols == 0) {
            return offset;
        }
        return offset + (outer - 1) * outerStride + (inner - 1) * innerStride + (long) (rows - 1) * rowStride + cols;
    }
}
