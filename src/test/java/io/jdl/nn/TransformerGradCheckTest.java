package io.jdl.nn;

import static io.jdl.nn.ModuleGradCheckTest.checkModule;

import io.jdl.autograd.GradCheck;
import io.jdl.tensor.Shape;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Finite-difference checks of the transformer modules, for the input and every parameter. (Dropout draws a
 * new mask per call, so attention dropout is checked at the op level, with a fixed seed.)
 */
class TransformerGradCheckTest {
    @Test
    void layerNormModule() {
        try (LayerNorm m = new LayerNorm(6)) {
            checkModule("LayerNorm", m, GradCheck.randn(new Random(1), 18), Shape.of(3, 6));
        }
    }

    @Test
    void multiHeadAttention() {
        try (MultiHeadAttention m = new MultiHeadAttention(8, 2, false, 0f, new Random(2))) {
            checkModule("MultiHeadAttention", m, GradCheck.randn(new Random(3), 2 * 3 * 8), Shape.of(2, 3, 8));
        }
    }

    @Test
    void transformerBlock() {
        try (TransformerBlock m = new TransformerBlock(8, 2, false, 0f, new Random(4))) {
            checkModule("TransformerBlock", m, GradCheck.randn(new Random(5), 2 * 3 * 8), Shape.of(2, 3, 8));
        }
    }

    @Test
    void causalTransformerBlock() {
        try (TransformerBlock m = new TransformerBlock(8, 4, true, 0f, new Random(6))) {
            checkModule("TransformerBlock causal", m, GradCheck.randn(new Random(7), 2 * 4 * 8), Shape.of(2, 4, 8));
        }
    }

    @Test
    void stackOfTwoBlocks() {
        try (TransformerStack m = new TransformerStack(4, 2, 2, true, 0f, new Random(10))) {
            checkModule("TransformerStack", m, GradCheck.randn(new Random(11), 3 * 4), Shape.of(1, 3, 4));
        }
    }

    @Test
    void learnedPositions() {
        try (PositionalEmbedding m = PositionalEmbedding.learned(5, 3, new Random(8))) {
            checkModule("PositionalEmbedding", m, GradCheck.randn(new Random(9), 2 * 4 * 3), Shape.of(2, 4, 3));
        }
    }
}
