package io.jdl.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jdl.device.DType;
import io.jdl.device.Device;
import io.jdl.nn.Module;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tensors of every dtype through safetensors bit for bit: PyTorch's files load into tensors of the file's dtype with
 * the exact bytes, jdl writes each tensor in its own dtype, and a module's state keeps its dtypes through
 * saveModel / loadModel while values of another dtype convert as PyTorch's load_state_dict copies.
 */
class TensorArraysTest {

    /** Every tensor of the PyTorch fixture (every dtype) to a tensor of that dtype and back, bit for bit, on device. */
    static void everyPyTorchTensorLoadsBitForBit(Device device) throws IOException {
        Safetensors.Contents file = Safetensors.read(TorchFixturesTest.fixture("dtypes.safetensors"));
        for (NamedArray a : file.tensors().values()) {
            try (Tensor t = TensorArrays.toTensor(a, device)) {
                assertEquals(a.dtype(), t.dtype(), a.name());
                assertArrayEquals(a.shape(), t.shape().dims(), a.name());
                assertArrayEquals(a.bytes(), t.toBytes(), a.name());
                assertEquals(a, TensorArrays.of(a.name(), t), a.name());
            }
        }
    }

    @Test
    void everyPyTorchTensorLoadsBitForBitOnTheCpu() throws IOException {
        everyPyTorchTensorLoadsBitForBit(Device.CPU);
    }

    @Test
    void pytorchHalfWeightsLoadAsHalfTensorsBitForBit() throws IOException {
        for (String name : new String[] {"seq_bf16", "seq_f16"}) {
            Safetensors.Contents c = Safetensors.read(TorchFixturesTest.fixture(name + ".safetensors"));
            NamedArray w = c.get("0.weight");
            try (Tensor t = TensorArrays.toTensor(w, Device.CPU)) {
                assertEquals(name.endsWith("bf16") ? DType.BFLOAT16 : DType.FLOAT16, t.dtype());
                assertArrayEquals(w.bytes(), t.toBytes());
            }
        }
    }

    /** A module holding a tensor of every dtype. */
    static final class EveryDtype extends Module {
        EveryDtype() {
            float[] v = {1.5f, -2.25f, 65504f, 3e-5f, -0f, 7f};
            for (DType d : DType.values()) {
                registerBuffer(d.name().toLowerCase(), Tensor.of(v, 2, 3).to(d));
            }
        }

        @Override
        protected Tensor compute(Tensor x) {
            return x;
        }
    }

    @Test
    void aModuleKeepsItsDtypesThroughSaveAndLoad(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("m.safetensors");
        try (EveryDtype a = new EveryDtype(); EveryDtype b = new EveryDtype()) {
            a.stateDict().values().forEach(t -> t.fill(3f));
            Checkpoint.saveModel(file, a, Map.of());
            Safetensors.Contents c = Safetensors.read(file);
            for (DType d : DType.values()) {
                assertEquals(d, c.get(d.name().toLowerCase()).dtype());
            }
            Checkpoint.loadModel(file, b);
            a.stateDict().forEach((k, t) -> {
                assertEquals(t.dtype(), b.stateDict().get(k).dtype(), k);
                assertArrayEquals(t.toBytes(), b.stateDict().get(k).toBytes(), k);
            });
        }
    }

    @Test
    void loadStateDictConvertsToTheModulesDtypes() {
        try (EveryDtype m = new EveryDtype(); Tensor src = Tensor.of(new float[] {0.5f, -1.7f, 2.9f, 255.9f, 256.5f, 1e-3f}, 2, 3);
             Tensor bf = src.to(DType.BFLOAT16)) {
            Map<String, Tensor> state = new java.util.LinkedHashMap<>();
            m.stateDict().keySet().forEach(k -> state.put(k, bf));
            m.loadStateDict(state);
            m.stateDict().forEach((k, t) -> {
                try (Tensor want = bf.to(t.dtype())) {
                    assertArrayEquals(want.toBytes(), t.toBytes(), k); // param.copy_(value): the conversion's rules
                }
            });
            assertArrayEquals(new long[] {0, -1, 2, 256, 256, 0}, m.stateDict().get("int64").toLongArray());
        }
    }
}
