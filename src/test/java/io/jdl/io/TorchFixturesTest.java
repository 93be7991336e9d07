package io.jdl.io;

import io.jdl.device.DType;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.nn.Activations;
import io.jdl.nn.BatchNorm2d;
import io.jdl.nn.Conv2d;
import io.jdl.nn.Linear;
import io.jdl.nn.Sequential;
import io.jdl.tensor.Tensor;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Safetensors files written by PyTorch ({@code safetensors.torch.save_file}, scripts/make_torch_fixtures.py) read
 * bit for bit, and PyTorch state dicts (float32, and float16 / bfloat16 converted to float32 on load) load into
 * the matching jdl module, which then computes what PyTorch computed.
 */
class TorchFixturesTest {

    static Path fixture(String name) {
        try {
            return Path.of(TorchFixturesTest.class.getResource("/io/jdl/torch/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static final Map<String, DType> TORCH_DTYPES = Map.of("float32", DType.FLOAT32,
            "float16", DType.FLOAT16, "bfloat16", DType.BFLOAT16, "int64", DType.INT64,
            "int32", DType.INT32, "uint8", DType.UINT8, "bool", DType.BOOL);

    /** Each element as an integer: its bit pattern for the float dtypes, its value otherwise (as dtypes.json). */
    private static long[] elementInts(NamedArray a) {
        ByteBuffer b = ByteBuffer.wrap(a.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        long[] out = new long[a.numel()];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (a.dtype()) {
                case FLOAT32 -> b.getInt(4 * i) & 0xffffffffL;
                case FLOAT16, BFLOAT16 -> b.getShort(2 * i) & 0xffff;
                default -> a.longs()[i];
            };
        }
        return out;
    }

    @Test
    void everyDtypeWrittenByPyTorchReadsBitForBit(@TempDir Path dir) throws IOException {
        Safetensors.Contents file = Safetensors.read(fixture("dtypes.safetensors"));
        @SuppressWarnings("unchecked")
        Map<String, Object> plain = (Map<String, Object>) Json.parse(Files.readString(fixture("dtypes.json")));
        assertEquals(plain.keySet(), file.tensors().keySet());
        assertEquals(Map.copyOf(TORCH_DTYPES).values().stream().sorted().toList(), file.tensors().values().stream()
                .map(NamedArray::dtype).distinct().sorted().toList(), "the fixture holds every dtype jdl reads");
        for (Map.Entry<String, Object> e : plain.entrySet()) {
            @SuppressWarnings("unchecked")
            Map<String, Object> expected = (Map<String, Object>) e.getValue();
            NamedArray a = file.get(e.getKey());
            assertEquals(TORCH_DTYPES.get((String) expected.get("dtype")), a.dtype(), e.getKey());
            assertArrayEquals(((List<?>) expected.get("shape")).stream().mapToInt(d -> (int) (long) (Long) d).toArray(),
                    a.shape(), e.getKey());
            long[] elements = ((List<?>) expected.get("elements")).stream().mapToLong(v -> (Long) v).toArray();
            assertArrayEquals(elements, elementInts(a), e.getKey());
        }
        // Written again by jdl and read back, every tensor keeps its dtype and bytes.
        Path copy = dir.resolve("copy.safetensors");
        Safetensors.write(copy, file.tensors().values());
        assertEquals(file.tensors(), Safetensors.read(copy).tensors());
        // The conversions to float32 that loading applies: exact for the halves and for integers up to 2^24.
        assertEquals(-0f, file.get("f16").data()[26]);
        assertEquals(65504f, file.get("f16").data()[29]);
        assertEquals(16777216f, file.get("i32").data()[5], "16777217 as float32 rounds to even");
        assertEquals(1f, file.get("bool").data()[0]);
    }

    /** conv(1 -> 2, 3x3, pad 1), batch norm, ReLU, flatten, linear 32 -> 3: PyTorch's nn.Sequential indices. */
    static Sequential model() {
        Random rng = new Random(5);
        return new Sequential(new Conv2d(1, 2, 3, 1, rng), new BatchNorm2d(2), Activations.relu(),
                Activations.flatten(), new Linear(2 * 4 * 4, 3, rng));
    }

    @Test
    void aPyTorchStateDictLoadsAndComputesWhatPyTorchComputed() throws IOException {
        Safetensors.Contents io = Safetensors.read(fixture("seq_io.safetensors"));
        try (Sequential m = model()) {
            Checkpoint.loadModel(fixture("seq_f32.safetensors"), m);
            Safetensors.Contents sd = Safetensors.read(fixture("seq_f32.safetensors"));
            assertEquals(DType.INT64, sd.get("1.num_batches_tracked").dtype());
            assertEquals(3f, m.stateDict().get("1.num_batches_tracked").item());
            m.eval();
            NamedArray x = io.get("x", 2, 1, 4, 4);
            try (Tensor in = Tensor.of(x.data(), x.shape()); Tensor y = m.forward(in)) {
                float[] expected = io.get("y", 2, 3).data();
                float[] got = y.toArray();
                for (int i = 0; i < expected.length; i++) {
                    assertEquals(expected[i], got[i], 1e-5f * Math.max(1, Math.abs(expected[i])), "y[" + i + "]");
                }
            }
        }
    }

    /**
     * The rule for half-precision weights: loaded into float32 tensors, each value converted exactly (every half is
     * a float32), as PyTorch's load_state_dict copies with dtype conversion; compared with PyTorch's own .float().
     */
    @ParameterizedTest
    @ValueSource(strings = {"f16", "bf16"})
    void halfPrecisionStateDictsLoadAsTheirExactFloat32Values(String dtype) throws IOException {
        Safetensors.Contents half = Safetensors.read(fixture("seq_" + dtype + ".safetensors"));
        assertEquals(dtype.equals("f16") ? DType.FLOAT16 : DType.BFLOAT16, half.get("0.weight").dtype());
        Map<String, NamedArray> asFloat = Safetensors.read(fixture("seq_" + dtype + "_as_f32.safetensors")).tensors();
        try (Sequential m = model()) {
            Checkpoint.loadModel(fixture("seq_" + dtype + ".safetensors"), m);
            Map<String, Tensor> state = m.stateDict();
            assertEquals(asFloat.keySet(), state.keySet());
            state.forEach((name, t) -> {
                float[] expected = asFloat.get(name).data();
                float[] got = t.toArray();
                for (int i = 0; i < expected.length; i++) {
                    assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(got[i]), name + "[" + i + "]");
                }
            });
            assertTrue(state.get("0.weight").toArray()[0] != 0f);
        }
    }
}
