package io.jdl.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.autograd.Autograd;
import io.jdl.autograd.NoGrad;
import io.jdl.device.Device;
import io.jdl.optim.Adam;
import io.jdl.optim.Optimizer;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Small models learn on the CPU: XOR, two spirals, and a CNN memorising random images. */
class LearningTest {

    /** One full-batch step; returns the loss. */
    static float step(Module model, Optimizer opt, Tensor x, int[] y) {
        opt.zeroGrad();
        try (Tensor loss = model.forward(x).crossEntropy(y)) {
            loss.backward();
            opt.step();
            return loss.item();
        }
    }

    static double accuracy(Module model, Tensor x, int[] y) {
        model.eval();
        try (NoGrad ignored = Autograd.noGrad(); Tensor logits = model.forward(x)) {
            float[] v = logits.toArray();
            int classes = logits.shape().dim(-1), correct = 0;
            for (int i = 0; i < y.length; i++) {
                int best = 0;
                for (int j = 1; j < classes; j++) {
                    if (v[i * classes + j] > v[i * classes + best]) {
                        best = j;
                    }
                }
                correct += best == y[i] ? 1 : 0;
            }
            return correct / (double) y.length;
        } finally {
            model.train(true);
        }
    }

    @Test
    void mlpLearnsXor() {
        Random rng = new Random(1);
        int[] y = {0, 1, 1, 0};
        try (Tensor x = Tensor.of(new float[] {0, 0, 0, 1, 1, 0, 1, 1}, 4, 2);
             Sequential model = Mlp.of(rng, Activations::tanh, 2, 8, 2);
             Adam opt = new Adam(model.parameters(), 0.05f)) {
            for (int i = 0; i < 300; i++) {
                step(model, opt, x, y);
            }
            assertEquals(1.0, accuracy(model, x, y));
        }
    }

    @Test
    void mlpSeparatesTwoSpirals() {
        int perClass = 100;
        float[] pts = new float[4 * perClass];
        int[] y = new int[2 * perClass];
        for (int i = 0; i < perClass; i++) {
            double r = 0.2 + 0.8 * i / perClass, t = 1.75 * Math.PI * i / perClass;
            for (int c = 0; c < 2; c++) {
                int k = c * perClass + i;
                double sign = c == 0 ? 1 : -1;
                pts[2 * k] = (float) (sign * r * Math.cos(t));
                pts[2 * k + 1] = (float) (sign * r * Math.sin(t));
                y[k] = c;
            }
        }
        try (Tensor x = Tensor.of(pts, Shape.of(2 * perClass, 2), Device.CPU);
             Sequential model = Mlp.of(new Random(3), Activations::relu, 2, 64, 64, 2);
             Adam opt = new Adam(model.parameters(), 0.01f)) {
            for (int i = 0; i < 1500 && accuracy(model, x, y) < 1.0; i++) {
                for (int j = 0; j < 10; j++) {
                    step(model, opt, x, y);
                }
            }
            assertEquals(1.0, accuracy(model, x, y));
        }
    }

    @Test
    void smallCnnOverfitsRandomImages() {
        Random rng = new Random(5);
        int n = 32;
        float[] images = new float[n * 28 * 28];
        for (int i = 0; i < images.length; i++) {
            images[i] = rng.nextFloat();
        }
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = rng.nextInt(10);
        }
        try (Tensor x = Tensor.of(images, Shape.of(n, 1, 28, 28), Device.CPU);
             Sequential model = new Sequential(new Conv2d(1, 8, 3, 1, rng), new BatchNorm2d(8), Activations.relu(),
                     Pool2d.max(2), new Conv2d(8, 16, 3, 1, rng), Activations.relu(), Pool2d.max(2),
                     Activations.flatten(), new Dropout(0.1f, 11), new Linear(16 * 7 * 7, 10, rng));
             Adam opt = new Adam(model.parameters(), 3e-3f)) {
            float first = step(model, opt, x, y), last = first;
            for (int i = 0; i < 60; i++) {
                last = step(model, opt, x, y);
            }
            assertTrue(last < 0.1f * first, "loss " + first + " -> " + last);
            assertEquals(1.0, accuracy(model, x, y));
        }
    }
}
