package io.jdl.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.device.Device;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

class VisionTransformerTest {

    @Test
    void patchesAreCutRowByRow() {
        // A 1x4x4 image with values 0..15 in 2x2 patches: tokens are the four 2x2 squares, left to right, top to bottom.
        float[] img = new float[16];
        for (int i = 0; i < 16; i++) {
            img[i] = i;
        }
        try (VisionTransformer vit = new VisionTransformer(1, 4, 2, 8, 2, 1, 0, 3, new Random(0));
             Tensor x = Tensor.of(img, 1, 1, 4, 4); Tensor p = vit.patches(x)) {
            assertEquals(Shape.of(1, 4, 4), p.shape());
            assertArrayEquals(new float[] {0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15}, p.toArray());
        }
    }

    @Test
    void classifiesAndNamesParametersLikePyTorch() {
        try (VisionTransformer vit = new VisionTransformer(1, 28, 7, 16, 2, 2, 0, 10, new Random(0));
             Tensor x = Tensor.randn(new Random(1), Shape.of(3, 1, 28, 28), Device.CPU);
             Tensor y = vit.forward(x)) {
            assertEquals(Shape.of(3, 10), y.shape());
            assertEquals(16, vit.tokens());
            var names = vit.namedParameters().keySet();
            assertTrue(names.contains("patch_embed.weight") && names.contains("pos_emb.weight")
                    && names.contains("blocks.1.attn.qkv.weight") && names.contains("head.bias"), names.toString());
        }
    }

    @Test
    void learnsAndBackpropagatesThroughPatches() {
        try (VisionTransformer vit = new VisionTransformer(1, 8, 4, 8, 2, 1, 0, 2, new Random(0));
             Tensor x = Tensor.randn(new Random(2), Shape.of(4, 1, 8, 8), Device.CPU);
             Tensor loss = vit.forward(x).crossEntropy(new int[] {0, 1, 0, 1})) {
            loss.backward();
            for (Tensor p : vit.parameters()) {
                assertTrue(p.grad() != null, "every parameter gets a gradient");
            }
        }
    }

    @Test
    void wrongImageSizeIsClear() {
        try (VisionTransformer vit = new VisionTransformer(1, 28, 7, 8, 2, 1, 0, 10, new Random(0));
             Tensor x = Tensor.zeros(Shape.of(1, 1, 32, 32), Device.CPU)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> vit.forward(x));
            assertTrue(e.getMessage().contains("[1, 1, 32, 32]"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new VisionTransformer(1, 28, 5, 8, 2, 1, 0, 10, new Random(0)));
    }
}
