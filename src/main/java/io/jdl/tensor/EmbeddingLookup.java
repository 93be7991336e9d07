package io.jdl.tensor;

import static io.jdl.tensor.Graph.accumulate;
import static io.jdl.tensor.Graph.record;

import java.util.Arrays;

/** Row lookup in an embedding table, with its scatter-add backward. */
final class EmbeddingLookup {
    private EmbeddingLookup() {
    }

    /**
     * Rows of weight [vocab, dim]: returns shape {@code idsShape} + [dim] with row i equal to
     * {@code weight[ids[i]]}. Backward scatter-adds into the weight (repeated ids accumulate).
     *
     * @throws IllegalArgumentException naming the id and the vocabulary size when an id lies outside [0, vocab)
     */
    static Tensor embedding(Tensor w, int[] ids, int... idsShape) {
        w.checkOpen();
        Shape shape = w.shape;
        if (shape.rank() != 2) {
            throw new IllegalArgumentException("embedding: the weight must be [vocab, dim], got shape " + shape);
        }
        int vocab = shape.dim(0), dim = shape.dim(1);
        Checks.notNull("embedding", "ids", ids);
        Checks.notNull("embedding", "idsShape", idsShape);
        int[] outDims = Arrays.copyOf(idsShape.length == 0 ? new int[] {ids.length} : idsShape,
                (idsShape.length == 0 ? 1 : idsShape.length) + 1);
        outDims[outDims.length - 1] = dim;
        Shape out = Shape.of(outDims);
        if (out.numel() != (long) ids.length * dim) {
            throw new IllegalArgumentException("embedding: " + ids.length + " ids do not fill shape "
                    + Arrays.toString(idsShape));
        }
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new IllegalArgumentException("embedding: token id " + ids[i] + " at position " + i
                        + " is outside the vocabulary [0, " + vocab + ") (vocabulary size " + vocab + ", weight "
                        + shape + ")");
            }
        }
        int[] idsCopy = ids.clone();
        Tensor y = w.empty(out);
        w.backend.embedding(w.dense(), idsCopy, y.dense(), dim);
        return record("embedding", y, g -> accumulate(w, () -> {
            Tensor dw = w.empty(shape);
            w.backend.embeddingBackward(g.dense(), idsCopy, dw.dense(), vocab, dim);
            return dw;
        }), w);
    }
}
