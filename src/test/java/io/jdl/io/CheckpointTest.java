package io.jdl.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.data.Augmentation;
import io.jdl.data.DataLoader;
import io.jdl.data.Dataset;
import io.jdl.nn.Activations;
import io.jdl.nn.BatchNorm2d;
import io.jdl.nn.Dropout;
import io.jdl.nn.Linear;
import io.jdl.nn.Module;
import io.jdl.nn.Sequential;
import io.jdl.optim.Adam;
import io.jdl.optim.LrSchedule;
import io.jdl.optim.Optimizer;
import io.jdl.optim.Sgd;
import io.jdl.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    static final int EPOCHS = 3;

    @TempDir
    Path dir;

    /** 44 random 1x4x4 images of 3 classes: 6 batches of 8 per epoch, the last one short. */
    static Dataset data() {
        Random r = new Random(5);
        byte[] px = new byte[44 * 16];
        int[] labels = new int[44];
        r.nextBytes(px);
        for (int i = 0; i < labels.length; i++) {
            labels[i] = r.nextInt(3);
        }
        return new Dataset(px, labels, 1, 4, 4, List.of("a", "b", "c"));
    }

    static Sequential model(long seed) {
        Random rng = new Random(seed);
        return new Sequential(new Linear(16, 12, rng), new BatchNorm2d(12), Activations.relu(), new Dropout(0.3f, seed),
                new Linear(12, 3, rng));
    }

    static DataLoader loader() {
        return DataLoader.builder(data()).batchSize(8).shuffle(true).seed(11).flatten(true)
                .augmentation(Augmentation.flipAndShift(1)).build();
    }

    static final LrSchedule SCHEDULE = LrSchedule.cosine(0.02f, EPOCHS, 0.001f);

    /**
     * Trains from {@code from} until {@code stopAt} (exclusive), or to the end when null; returns where it stopped.
     */
    static Checkpoint.Progress train(Module model, Optimizer opt, DataLoader loader, Checkpoint.Progress from,
                                     Checkpoint.Progress stopAt) {
        long step = from.step();
        for (int epoch = from.epoch(); epoch < EPOCHS; epoch++) {
            opt.setLr(SCHEDULE.lr(epoch));
            int first = epoch == from.epoch() ? from.batchInEpoch() : 0;
            try (DataLoader.Epoch batches = loader.epoch(epoch, first)) {
                int b = first;
                for (DataLoader.Batch batch : batches) {
                    try (batch) {
                        if (stopAt != null && epoch == stopAt.epoch() && b == stopAt.batchInEpoch()) {
                            return new Checkpoint.Progress(epoch, b, step);
                        }
                        opt.zeroGrad();
                        try (Tensor loss = model.forward(batch.inputs()).crossEntropy(batch.labels())) {
                            loss.backward();
                        }
                        opt.step();
                        step++;
                        b++;
                    }
                }
            }
        }
        return new Checkpoint.Progress(EPOCHS, 0, step);
    }

    /** A run stopped mid-epoch, saved, and resumed into fresh objects ends bit-identical to an uninterrupted one. */
    @Test
    void resumedRunEndsBitIdenticalToAnUninterruptedOne() throws IOException {
        Map<String, float[]> expected = new LinkedHashMap<>();
        long expectedSteps;
        try (Sequential model = model(1); Adam opt = Adam.adamW(model.parameters(), 0.02f, 0.05f)) {
            expectedSteps = train(model, opt, loader(), new Checkpoint.Progress(0, 0, 0), null).step();
            model.stateDict().forEach((k, t) -> expected.put(k, t.toArray()));
        }
        assertEquals(EPOCHS * 6, expectedSteps);

        Path file = dir.resolve("run.safetensors");
        try (Sequential model = model(1); Adam opt = Adam.adamW(model.parameters(), 0.02f, 0.05f)) {
            Checkpoint.Progress at = train(model, opt, loader(), new Checkpoint.Progress(0, 0, 0),
                    new Checkpoint.Progress(1, 2, 0));
            assertEquals(new Checkpoint.Progress(1, 2, 8), at);
            Checkpoint.save(file, model, opt, at, Map.of("sample", "test", "hidden", "12"));
        }
        // Another initialisation and dropout seed: everything that matters must come from the file.
        try (Sequential model = model(99); Adam opt = Adam.adamW(model.parameters(), 0.5f, 0.05f)) {
            Checkpoint.Resumed r = Checkpoint.load(file, model, opt);
            assertEquals(new Checkpoint.Progress(1, 2, 8), r.progress());
            assertEquals(Map.of("sample", "test", "hidden", "12"), r.metadata());
            assertEquals(SCHEDULE.lr(1), opt.lr());
            long steps = train(model, opt, loader(), r.progress(), null).step();
            assertEquals(expectedSteps, steps);
            model.stateDict().forEach((k, t) -> assertArrayEquals(expected.get(k), t.toArray(), 0f, k));
        }
    }

    @Test
    void loadRefusesAnotherOptimizerOrModelAndChangesNothing() throws IOException {
        Path file = dir.resolve("run.safetensors");
        try (Sequential model = model(1); Adam opt = new Adam(model.parameters(), 0.01f)) {
            train(model, opt, loader(), new Checkpoint.Progress(0, 0, 0), new Checkpoint.Progress(0, 3, 0));
            Checkpoint.save(file, model, opt, new Checkpoint.Progress(0, 3, 3), Map.of());
        }
        try (Sequential model = model(2); Sgd sgd = new Sgd(model.parameters(), 0.1f, 0.9f)) {
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> Checkpoint.load(file, model, sgd));
            assertTrue(e.getMessage().contains("io.jdl.optim.Adam, not of io.jdl.optim.Sgd"), e.getMessage());
        }
        Random rng = new Random(3);
        try (Sequential wider = new Sequential(new Linear(16, 13, rng), Activations.relu(), new Linear(13, 3, rng));
             Adam opt = new Adam(wider.parameters(), 0.01f)) {
            float[] before = wider.stateDict().get("0.weight").toArray();
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> Checkpoint.load(file, wider, opt));
            assertTrue(e.getMessage().contains("'0.weight' has shape [12, 16], the model's is [13, 16]"), e.getMessage());
            assertArrayEquals(before, wider.stateDict().get("0.weight").toArray());
            assertTrue(opt.state().isEmpty());
        }
    }

    /** Evaluation needs only the weights: loadModel reads them out of a training checkpoint, which load() alone restores. */
    @Test
    void loadModelReadsTheWeightsOfATrainingCheckpoint() throws IOException {
        Path training = dir.resolve("training.safetensors"), plain = dir.resolve("plain.safetensors");
        Map<String, float[]> saved = new LinkedHashMap<>();
        try (Sequential model = model(1); Adam opt = Adam.adamW(model.parameters(), 0.02f, 0.05f)) {
            train(model, opt, loader(), new Checkpoint.Progress(0, 0, 0), new Checkpoint.Progress(0, 3, 0));
            Checkpoint.save(training, model, opt, new Checkpoint.Progress(0, 3, 3), Map.of("sample", "test"));
            Checkpoint.saveModel(plain, model, Map.of("sample", "test"));
            model.stateDict().forEach((k, t) -> saved.put(k, t.toArray()));
        }
        assertTrue(Checkpoint.isTraining(Safetensors.read(training).metadata()));
        assertTrue(!Checkpoint.isTraining(Safetensors.read(plain).metadata()));
        try (Sequential model = model(7)) {
            assertEquals("test", Checkpoint.loadModel(training, model).get("sample"));
            model.stateDict().forEach((k, t) -> assertArrayEquals(saved.get(k), t.toArray(), 0f, k));
        }
        try (Sequential model = model(7); Adam opt = Adam.adamW(model.parameters(), 0.02f, 0.05f)) {
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> Checkpoint.load(plain, model, opt));
            assertTrue(e.getMessage().contains("not a training checkpoint"), e.getMessage());
        }
    }

    /** A checkpoint of a run that diverged is refused with a message naming the entry. */
    @Test
    void nonFiniteWeightsAreRefused() throws IOException {
        Path file = dir.resolve("nan.safetensors");
        try (Sequential model = model(1)) {
            Tensor w = model.stateDict().get("4.bias");
            try (Tensor nan = Tensor.of(new float[] {0, Float.NaN, 0}, 3)) {
                w.copyFrom(nan);
            }
            Checkpoint.saveModel(file, model, Map.of());
        }
        try (Sequential model = model(1)) {
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> Checkpoint.loadModel(file, model));
            assertTrue(e.getMessage().contains("'4.bias' holds NaN at element 1"), e.getMessage());
        }
    }

    /**
     * A state dict as PyTorch writes it with {@code safetensors.torch.save_file(model.state_dict(), f)} for
     * {@code nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))}. No PyTorch here to produce it (its wheel's
     * dependencies are not installable offline), so the bytes are built by hand as the safetensors serializer lays
     * them out: tensors sorted by dtype (I64 before F32), then by name; offsets contiguous from 0; compact JSON
     * without {@code __metadata__} (save_file passes none); header padded with spaces to a multiple of 8.
     */
    static byte[] pytorchStateDict() {
        String[] names = {"0.bias", "0.weight", "1.bias", "1.running_mean", "1.running_var", "1.weight"};
        float[][] values = {{0.5f, -0.5f}, {1, 2, 3, 4, 5, 6}, {0.1f, 0.2f}, {0.25f, -1}, {2, 3}, {1, 1.5f}};
        String[] shapes = {"[2]", "[2,3]", "[2]", "[2]", "[2]", "[2]"};
        StringBuilder json = new StringBuilder("{\"1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],"
                + "\"data_offsets\":[0,8]}");
        long offset = 8;
        for (int i = 0; i < names.length; i++) {
            long end = offset + 4L * values[i].length;
            json.append(",\"").append(names[i]).append("\":{\"dtype\":\"F32\",\"shape\":").append(shapes[i])
                    .append(",\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        json.append('}');
        while (json.length() % 8 != 0) {
            json.append(' ');
        }
        byte[] header = json.toString().getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = ByteBuffer.allocate((int) (8 + header.length + offset)).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header).putLong(3L);
        for (float[] v : values) {
            for (float x : v) {
                b.putFloat(x);
            }
        }
        return b.array();
    }

    @Test
    void stateDictWrittenByPytorchLoads() throws IOException {
        Path file = dir.resolve("torch.safetensors");
        Files.write(file, pytorchStateDict());
        Random rng = new Random(0);
        try (Sequential model = new Sequential(new Linear(3, 2, rng), new BatchNorm2d(2))) {
            Checkpoint.loadModel(file, model);
            Map<String, Tensor> s = model.stateDict();
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, s.get("0.weight").toArray());
            assertArrayEquals(new float[] {0.25f, -1}, s.get("1.running_mean").toArray());
            assertEquals(3f, s.get("1.num_batches_tracked").item());
            // And written back, it reads as the same values.
            Path again = dir.resolve("again.safetensors");
            Checkpoint.saveModel(again, model, Map.of("format", "pt"));
            assertArrayEquals(new float[] {2, 3}, Safetensors.read(again).get("1.running_var").data());
        }
    }
}
