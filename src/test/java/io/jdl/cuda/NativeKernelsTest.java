package io.jdl.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.jdl.BuiltFromSource;
import io.jdl.backend.DropoutMask;
import io.jdl.cuda.KernelLibrary.Kernel;
import io.jdl.cuda.KernelLibrary.Param;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Constructor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Everything about {@link NativeKernels} that needs no GPU: the dropout hash, the match between the Java
 * kernel table and the CUDA source, and each method's argument checks and marshalling, through a launcher
 * that records launches instead of running them.
 */
class NativeKernelsTest {

    // ---------------------------------------------------------------------------------------------
    // dropoutKeep

    @Test
    void dropoutKeepsAboutOneMinusP() {
        for (float p : new float[] {0.1f, 0.25f, 0.5f, 0.9f}) {
            int n = 1_000_000;
            long kept = 0;
            for (int i = 0; i < n; i++) {
                if (DropoutMask.keep(0x1234_5678_9ABCL, i, p)) {
                    kept++;
                }
            }
            double fraction = (double) kept / n;
            assertEquals(1 - p, fraction, 0.005, "fraction kept for p=" + p);
        }
    }

    @Test
    void dropoutKeepIsDeterministicAndDependsOnSeedAndIndex() {
        int differentSeed = 0;
        for (long i = 0; i < 10_000; i++) {
            boolean a = DropoutMask.keep(42, i, 0.5f);
            assertEquals(a, DropoutMask.keep(42, i, 0.5f));
            if (a != DropoutMask.keep(43, i, 0.5f)) {
                differentSeed++;
            }
        }
        // Independent masks differ in about half the places.
        assertTrue(differentSeed > 4_500 && differentSeed < 5_500, "masks for seeds 42 and 43 differ in " + differentSeed);
    }

    @Test
    void dropoutKeepExtremes() {
        for (long i = -5; i < 100_000; i++) {
            assertTrue(DropoutMask.keep(i * 31, i, 0f), "p=0 keeps all");
            assertFalse(DropoutMask.keep(i * 31, i, 1f), "p=1 keeps none");
        }
        assertThrows(IllegalArgumentException.class, () -> DropoutMask.keep(1, 1, -0.1f));
        assertThrows(IllegalArgumentException.class, () -> DropoutMask.keep(1, 1, 1.1f));
        assertThrows(IllegalArgumentException.class, () -> DropoutMask.keep(1, 1, Float.NaN));
    }

    @Test
    void splitmix64MatchesTheReferenceSequence() {
        // SplitMix64 with state 0: the generator adds the golden gamma, then mixes; these are its first
        // outputs (as in Vigna's splitmix64.c and java.util.SplittableRandom).
        assertEquals(0xE220A8397B1DCDAFL, DropoutMask.splitmix64(0L));
        assertEquals(0x6E789E6AA1B965F4L, DropoutMask.splitmix64(0x9E3779B97F4A7C15L));
        assertEquals(0x06C45D188009454FL, DropoutMask.splitmix64(0x9E3779B97F4A7C15L * 2));
    }

    @Test
    void dropoutKeepMatchesTheCudaKernel() {
        // jdl_dropout's mask for seed -7, p 0.5, indices 0..63, from native/jdl_kernels.cu compiled for the
        // host by native/emulation/run (which prints it): a cross-language golden value.
        String cuda = "0000101101010111011110011100011100101011000110011011010010100011";
        StringBuilder java = new StringBuilder();
        for (long i = 0; i < 64; i++) {
            java.append(DropoutMask.keep(-7L, i, 0.5f) ? '1' : '0');
        }
        assertEquals(cuda, java.toString());
    }

    @Test
    void dropoutKeepThresholdIsTheTop24Bits() {
        // keep == (top 24 bits of the hash) >= floor(p * 2^24), checked against a direct computation.
        for (long i = 0; i < 1000; i++) {
            long h = DropoutMask.splitmix64(7L ^ (i * 0x9E3779B97F4A7C15L));
            long u = h >>> 40;
            assertTrue(u >= 0 && u < (1L << 24));
            for (float p : new float[] {0.3f, 0.5f, 0.77f}) {
                assertEquals(u >= (long) Math.floor(p * (double) (1 << 24)), DropoutMask.keep(7L, i, p));
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Java kernel table <-> CUDA source <-> fatbin

    /** C parameter type (const stripped) to how NativeKernels marshals it. */
    private static final Map<String, Param> C_TYPES = Map.of(
            "float*", Param.PTR, "int*", Param.PTR, "long long*", Param.PTR, "unsigned short*", Param.PTR,
            "unsigned char*", Param.PTR,
            "int", Param.I32, "float", Param.F32,
            "long long", Param.I64, "unsigned long long", Param.I64);

    /** The extern "C" __global__ kernels of native/jdl_kernels.cu, name to parameter types. */
    static Map<String, List<Param>> kernelsInSource() throws IOException {
        String source = Files.readString(BuiltFromSource.sourceOrSkip(NativeKernelsFreshnessTest.SOURCE));
        String code = source.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\n]*", " ");
        Matcher m = Pattern.compile("extern\\s+\"C\"\\s+__global__\\s+void\\s+(\\w+)\\s*\\(([^)]*)\\)").matcher(code);
        Map<String, List<Param>> kernels = new LinkedHashMap<>();
        while (m.find()) {
            List<Param> params = new ArrayList<>();
            for (String declaration : m.group(2).split(",")) {
                String d = declaration.trim().replaceAll("\\s+", " ").replaceAll("\\s*\\*\\s*", "* ");
                d = d.replaceFirst("^const ", "");
                String type = d.substring(0, d.lastIndexOf(' ')).trim();
                Param p = C_TYPES.get(type);
                if (p == null) {
                    throw new AssertionError("kernel " + m.group(1) + ": parameter type '" + type
                            + "' (in '" + declaration.trim() + "') is not one NativeKernels can marshal");
                }
                params.add(p);
            }
            if (kernels.put(m.group(1), params) != null) {
                throw new AssertionError("kernel " + m.group(1) + " defined twice");
            }
        }
        return kernels;
    }

    @Test
    void sourceParserUnderstandsDeclarations() throws IOException {
        Map<String, List<Param>> kernels = kernelsInSource();
        assertEquals(List.of(Param.PTR, Param.PTR, Param.I64, Param.F32, Param.I32, Param.I32),
                kernels.get("jdl_leaky_relu"));
        assertEquals(List.of(Param.PTR, Param.PTR, Param.PTR, Param.I64, Param.F32, Param.I64, Param.I32, Param.I32),
                kernels.get("jdl_dropout"));
    }

    @Test
    void everyKernelInTheSourceIsInTheJavaTableAndViceVersa() throws IOException {
        Map<String, List<Param>> source = kernelsInSource();
        Map<String, List<Param>> java = Arrays.stream(Kernel.values())
                .collect(Collectors.toMap(k -> k.symbol, k -> k.params, (a, b) -> a, LinkedHashMap::new));
        assertEquals(new TreeSet<>(source.keySet()), new TreeSet<>(java.keySet()),
                "extern \"C\" __global__ kernels in native/jdl_kernels.cu vs KernelLibrary.Kernel");
        for (Map.Entry<String, List<Param>> e : source.entrySet()) {
            assertEquals(e.getValue(), java.get(e.getKey()), "parameter types of " + e.getKey()
                    + ": native/jdl_kernels.cu vs KernelLibrary.Kernel");
        }
    }

    @Test
    void everyKernelIsInTheCommittedFatbin() {
        // The fatbin's ELF images carry each kernel's symbol name as plain text.
        String image = new String(KernelLibrary.readFatbin(), StandardCharsets.ISO_8859_1);
        for (Kernel k : Kernel.values()) {
            assertTrue(image.contains(k.symbol + "\0"), k.symbol + " is not in the fatbin: run scripts/build-native");
        }
    }

    @Test
    void everyKernelIsUsedByAPublicMethod() {
        // Exercised below through the recording launcher; this checks none was left out.
        EnumSet<Kernel> launched = EnumSet.noneOf(Kernel.class);
        for (Consumer<NativeKernels> call : validCalls()) {
            launches.clear();
            call.accept(kernels);
            launches.forEach(l -> launched.add(l.kernel));
        }
        assertEquals(EnumSet.allOf(Kernel.class), launched);
    }

    // ---------------------------------------------------------------------------------------------
    // Argument checks and marshalling, without a GPU

    record Launch(Kernel kernel, Stream stream, int gridX, int blockX, Object[] args) {
    }

    private final List<Launch> launches = new ArrayList<>();
    private final NativeKernels kernels = new NativeKernels(
            (kernel, stream, gridX, blockX, args) -> launches.add(new Launch(kernel, stream, gridX, blockX, args)));
    private CachingAllocator allocator;
    private Stream stream;

    /** Fake device addresses; nothing is ever dereferenced. */
    static final class FakeRaw implements CachingAllocator.RawAllocator {
        long next = 0x10_0000;

        @Override
        public long malloc(long bytes) {
            long a = next;
            next += bytes;
            return a;
        }

        @Override
        public void free(long address) {
        }
    }

    @BeforeEach
    void setUp() throws ReflectiveOperationException {
        allocator = new CachingAllocator(new FakeRaw());
        // A Stream object around a fake handle; the recording launcher never passes it to CUDA, and it is
        // never closed (that would call cudaStreamDestroy).
        Constructor<Stream> c = Stream.class.getDeclaredConstructor(MemorySegment.class);
        c.setAccessible(true);
        stream = c.newInstance(MemorySegment.ofAddress(0xABC0));
    }

    @AfterEach
    void tearDown() {
        allocator.close();
    }

    private DeviceMemory floats(long n) {
        return allocator.allocate(n * Float.BYTES);
    }

    private DeviceMemory ints(long n) {
        return allocator.allocate(n * Integer.BYTES);
    }

    /** A cross-entropy workspace over fake memory (its ticket is never read). */
    private LossKernels.Workspace workspace() {
        return new LossKernels.Workspace(floats(LossKernels.MAX_FORWARD_BLOCKS), ints(1));
    }

    /** One valid call of every public method (layer norm with and without the optional buffers). */
    private List<Consumer<NativeKernels>> validCalls() {
        long n = 1000;
        int rows = 7;
        int cols = 300;
        return List.of(
                k -> k.leakyRelu(stream, floats(n), floats(n), n, 0.01f),
                k -> k.leakyReluBackward(stream, floats(n), floats(n), floats(n), n, 0.01f),
                k -> k.gelu(stream, floats(n), floats(n), n),
                k -> k.geluBackward(stream, floats(n), floats(n), floats(n), n),
                k -> k.losses().crossEntropy(stream, workspace(), floats(rows * cols), ints(rows), floats(rows),
                        floats(1), rows, cols, -100, 1f / rows),
                k -> k.losses().crossEntropyBackward(stream, floats(rows * cols), ints(rows), floats(rows), floats(1),
                        floats(rows * cols), rows, cols, -100, 1f / rows),
                k -> k.pointwise().biasActivation(stream, PointwiseKernels.Epilogue.GELU, 0f, floats(rows * cols),
                        floats(cols), floats(rows * cols), floats(rows * cols), rows, cols, 1),
                k -> k.pointwise().biasActivation(stream, PointwiseKernels.Epilogue.LEAKY_RELU, 0.1f, floats(n),
                        floats(10), null, floats(n), 4, 10, 25),
                k -> k.sgdStep(stream, floats(n), floats(n), floats(n), n, 0.1f, 0.9f, 0f, 1e-4f, true, false),
                k -> k.sgdStep(stream, floats(n), floats(n), null, n, 0.1f, 0f, 0f, 0f, false, true),
                k -> k.adamStep(stream, floats(n), floats(n), floats(n), floats(n), n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f,
                        true, 3),
                k -> k.adamStepCounted(stream, floats(n), floats(n), floats(n), floats(n), n, 1e-3f, 0.9f, 0.999f, 1e-8f,
                        0.01f, true, 3, floats(1)),
                k -> k.countReplay(stream, floats(1)),
                k -> k.dropout(stream, floats(n), floats(n), floats(n), n, 0.5f, 99L),
                k -> k.dropoutCounted(stream, floats(n), floats(n), floats(n), n, 0.5f, 99L, floats(1)),
                k -> k.embeddingBackward(stream, floats(rows * cols), ints(rows), floats(50L * cols), rows, cols),
                k -> k.embeddingForward(stream, floats(50L * cols), ints(rows), floats(rows * cols), rows, cols),
                k -> k.attentionSoftmax(stream, floats(2L * 3 * rows * cols), floats(2L * cols), floats(2L * 3 * rows * cols),
                        2, 3, rows, cols, 0.125f, true),
                k -> k.attentionSoftmax(stream, floats(2L * 3 * rows * cols), null, floats(2L * 3 * rows * cols), 2, 3,
                        rows, cols, 0.125f, false),
                k -> k.attentionSoftmaxBackward(stream, floats(rows * cols), floats(rows * cols), floats(rows * cols),
                        rows, cols, 0.125f),
                k -> k.layerNorm(stream, floats(rows * cols), floats(cols), floats(cols), floats(rows * cols), floats(rows),
                        floats(rows), rows, cols, 1e-5f),
                k -> k.layerNorm(stream, floats(rows * cols), null, null, floats(rows * cols), floats(rows), floats(rows),
                        rows, cols, 1e-5f),
                k -> k.layerNormBackward(stream, floats(rows * cols), floats(cols), floats(rows), floats(rows),
                        floats(rows * cols), floats(rows * cols), floats(cols), floats(cols), rows, cols),
                k -> k.layerNormBackward(stream, floats(rows * cols), null, floats(rows), floats(rows),
                        floats(rows * cols), floats(rows * cols), null, null, rows, cols),
                k -> k.layerNormBackward(stream, floats(1000L * cols), floats(cols), floats(1000), floats(1000),
                        floats(1000L * cols), floats(1000L * cols), floats(cols), floats(cols), 1000, cols,
                        floats(2L * NativeKernels.layerNormBackwardChunks(1000, cols) * cols)),
                k -> k.pointwise().fill(stream, floats(n), n, 1f),
                k -> k.pointwise().broadcastBinary(stream, floats(3 * 7), new int[] {0, 7, 0, 1}, floats(5),
                        new int[] {0, 0, 1, 0}, floats(3 * 5 * 7), new int[] {1, 3, 5, 7}, true, 1f, 0f),
                k -> k.pointwise().axpby(stream, 1f, floats(n), 2f, floats(n), floats(n), n),
                k -> k.pointwise().mul(stream, floats(n), floats(n), floats(n), n),
                k -> k.pointwise().mulScalar(stream, floats(n), floats(1), floats(n), n),
                k -> k.pointwise().broadcast(stream, floats(rows), floats(rows * cols), 1, cols, rows),
                k -> k.pointwise().addBias(stream, floats(rows * cols), floats(cols), floats(rows * cols), rows, cols, 1),
                k -> k.pointwise().sum(stream, floats(rows * cols), floats(rows), rows, cols, 1),
                k -> k.pointwise().sum(stream, floats(rows * cols), floats(cols), 1, rows, cols),
                k -> k.pointwise().channelBiasBackward(stream, floats(rows * cols), floats(rows), 1, rows, cols),
                k -> k.multiTensor().adam(stream, new MultiTensorKernels.Table(allocator, (e, d) -> { }),
                        new DeviceMemory[] {floats(n), floats(3)}, new DeviceMemory[] {floats(n), floats(3)},
                        new DeviceMemory[] {floats(n), floats(3)}, new DeviceMemory[] {floats(n), floats(3)},
                        new long[] {n, 3}, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, false, 2),
                k -> k.multiTensor().sgd(stream, new MultiTensorKernels.Table(allocator, (e, d) -> { }),
                        new DeviceMemory[] {floats(n)}, new DeviceMemory[] {floats(n)}, null, new long[] {n}, 0.1f, 0f, 0f,
                        0f, false, true),
                k -> k.mixedPrecision().floatToHalf(stream, floats(n), allocator.allocate(2 * n), n, true),
                k -> k.mixedPrecision().halfToFloat(stream, allocator.allocate(2 * n), floats(n), n, false),
                k -> k.mixedPrecision().cast(stream, allocator.allocate(8 * n), MixedPrecisionKernels.Element.I64,
                        allocator.allocate(n), MixedPrecisionKernels.Element.U8, n),
                k -> k.mixedPrecision().ampUnscale(stream, floats(n), n, 0x1p-16f, floats(1)),
                k -> k.attentionMasks().keyBias(stream, floats(2 * 5), allocator.allocate(2 * 2 * 3 * 5), 2, 3, 5,
                        true),
                k -> k.attentionMasks().zeroUnattended(stream, floats(2 * 5), allocator.allocate(2 * 2 * 3 * 4 * 8),
                        0, 2, 4, 3, 5, 8, true, 3 * 4 * 8, 8, 4 * 8),
                k -> k.pointwise().biasActivation(stream, PointwiseKernels.Epilogue.TANH, 0f, floats(n),
                        MixedPrecisionKernels.Element.F32, allocator.allocate(2 * 10), MixedPrecisionKernels.Element.BF16,
                        allocator.allocate(2 * n), MixedPrecisionKernels.Element.F16, allocator.allocate(2 * n),
                        MixedPrecisionKernels.Element.BF16, 4, 10, 25),
                k -> k.pointwise().softmax(stream, true, floats(rows * cols), MixedPrecisionKernels.Element.F32,
                        allocator.allocate(2L * rows * cols), MixedPrecisionKernels.Element.BF16, rows, cols),
                k -> k.pointwise().softmaxBackward(stream, false, allocator.allocate(2L * rows * cols),
                        MixedPrecisionKernels.Element.F16, floats(rows * cols), MixedPrecisionKernels.Element.F32,
                        floats(rows * cols), MixedPrecisionKernels.Element.F32, rows, cols),
                k -> k.dropoutCounted(stream, allocator.allocate(2 * n), MixedPrecisionKernels.Element.BF16, floats(n),
                        MixedPrecisionKernels.Element.F32, floats(n), n, 0.5f, 99L, floats(1)),
                k -> k.pointwise().broadcastBinary(stream, allocator.allocate(2 * 3 * 7), MixedPrecisionKernels.Element.F16,
                        new int[] {0, 7, 0, 1}, floats(5), MixedPrecisionKernels.Element.F32, new int[] {0, 0, 1, 0},
                        allocator.allocate(2 * 3 * 5 * 7), MixedPrecisionKernels.Element.BF16, new int[] {1, 3, 5, 7},
                        false, 1f, -1f),
                k -> {
                    for (PointwiseKernels.Activation act : PointwiseKernels.Activation.values()) {
                        k.pointwise().activation(stream, act, 0.1f, allocator.allocate(2 * n),
                                MixedPrecisionKernels.Element.BF16, floats(n), MixedPrecisionKernels.Element.F32, n);
                        k.pointwise().activationBackward(stream, act, 0.1f, allocator.allocate(2 * n),
                                MixedPrecisionKernels.Element.F16, floats(n), MixedPrecisionKernels.Element.F32,
                                allocator.allocate(2 * n), MixedPrecisionKernels.Element.F16, n);
                    }
                },
                k -> {
                    for (PointwiseKernels.Activation act : PointwiseKernels.Activation.values()) {
                        k.pointwise().activation(stream, act, floats(n), floats(n), n);
                        k.pointwise().activationBackward(stream, act, floats(n), floats(n), floats(n), floats(n), n);
                    }
                });
    }

    @Test
    void everyPublicMethodPassesArgumentsMatchingItsKernel() {
        // NativeKernels.launch checks the argument types against Kernel.params before the launcher sees them;
        // here every method gets through, with sensible launch shapes.
        for (Consumer<NativeKernels> call : validCalls()) {
            launches.clear();
            call.accept(kernels);
            assertFalse(launches.isEmpty());
            for (Launch l : launches) {
                assertEquals(l.kernel.params.size(), l.args.length);
                assertEquals(NativeKernels.BLOCK, l.blockX, l.kernel.symbol);
                assertTrue(l.gridX >= 1, l.kernel.symbol);
                assertTrue(l.stream == stream);
                try (Arena arena = Arena.ofConfined()) {
                    KernelLibrary.marshal(arena, l.kernel, l.args);
                }
            }
        }
    }

    @Test
    void everyKernelFitsTheLaunchScratch() {
        for (Kernel k : Kernel.values()) {
            assertTrue(k.params.size() <= KernelLibrary.LaunchScratch.MAX_ARGS, k.symbol + " has " + k.params.size()
                    + " parameters; the launch scratch holds " + KernelLibrary.LaunchScratch.MAX_ARGS);
        }
    }

    @Test
    void crossEntropyForwardGetsABlockPerRowUpToItsPartialSums() {
        LossKernels.Workspace w = workspace();
        kernels.losses().crossEntropy(stream, w, floats(7 * 300), ints(7), floats(7), floats(1), 7, 300, -100, 1f);
        assertEquals(7, launches.getLast().gridX);
        int rows = 5000;
        kernels.losses().crossEntropy(stream, w, floats(rows * 3), ints(rows), floats(rows), floats(1), rows, 3, -100,
                1f);
        assertEquals(LossKernels.MAX_FORWARD_BLOCKS, launches.getLast().gridX);
        assertEquals(NativeKernels.BLOCK, launches.getLast().blockX);
        // No rows: one block still writes the loss (0).
        kernels.losses().crossEntropy(stream, w, floats(0), ints(0), floats(0), floats(1), 0, 10, -100, 0f);
        assertEquals(1, launches.getLast().gridX);
        kernels.losses().crossEntropyBackward(stream, floats(rows * 3), ints(rows), floats(rows), floats(1),
                floats(rows * 3), rows, 3, -100, 1f);
        assertEquals(NativeKernels.elementwiseGrid(rows * 3L), launches.getLast().gridX);
    }

    @Test
    void rowKernelsGetOneBlockPerRow() {
        kernels.layerNorm(stream, floats(7 * 300), null, null, floats(7 * 300), floats(7), floats(7), 7, 300, 1e-5f);
        assertEquals(7, launches.getLast().gridX);
        kernels.attentionSoftmax(stream, floats(2 * 3 * 5 * 300), null, floats(2 * 3 * 5 * 300), 2, 3, 5, 300, 1f,
                true);
        assertEquals(30, launches.getLast().gridX);
        assertEquals(MemorySegment.NULL, launches.getLast().args[1], "no key mask: NULL");
        assertEquals(1, launches.getLast().args[8], "causal flag");
        kernels.attentionSoftmaxBackward(stream, floats(7 * 300), floats(7 * 300), floats(7 * 300), 7, 300, 1f);
        assertEquals(7, launches.getLast().gridX);
        launches.clear();
        kernels.layerNormBackward(stream, floats(7 * 300), null, floats(7), floats(7), floats(7 * 300),
                floats(7 * 300), floats(300), null, 7, 300);
        assertEquals(List.of(Kernel.LAYER_NORM_BACKWARD_COLUMNS, Kernel.LAYER_NORM_BACKWARD_ROWS),
                launches.stream().map(Launch::kernel).toList(), "columns first, so that dx may alias dy");
        assertEquals((300 + 31) / 32, launches.getFirst().gridX);
        assertEquals(MemorySegment.NULL, launches.getFirst().args[5], "dBeta not wanted: NULL");
    }

    @Test
    void elementwiseGridCoversNAndIsCapped() {
        assertEquals(1, NativeKernels.elementwiseGrid(1));
        assertEquals(1, NativeKernels.elementwiseGrid(256));
        assertEquals(2, NativeKernels.elementwiseGrid(257));
        assertEquals(NativeKernels.MAX_ELEMENTWISE_BLOCKS, NativeKernels.elementwiseGrid(1L << 40));
    }

    @Test
    void emptyInputsLaunchNothing() {
        kernels.leakyRelu(stream, floats(0), floats(0), 0, 0.1f);
        kernels.gelu(stream, floats(1), floats(1), 0);
        kernels.dropout(stream, floats(0), floats(0), floats(0), 0, 0.5f, 1);
        kernels.losses().crossEntropyBackward(stream, floats(0), ints(0), floats(0), floats(0), floats(0), 0, 10, -100,
                1f);
        kernels.layerNorm(stream, floats(0), null, null, floats(0), floats(0), floats(0), 0, 10, 1e-5f);
        kernels.embeddingBackward(stream, floats(0), ints(0), floats(10), 0, 10);
        kernels.embeddingForward(stream, floats(10), ints(0), floats(0), 0, 10);
        kernels.attentionSoftmax(stream, floats(0), null, floats(0), 0, 2, 3, 4, 1f, false);
        kernels.attentionSoftmaxBackward(stream, floats(0), floats(0), floats(0), 0, 4, 1f);
        assertEquals(List.of(), launches);
        // ... except the layer-norm column sums, which are overwritten with zeros even for zero rows.
        kernels.layerNormBackward(stream, floats(0), null, floats(0), floats(0), floats(0), floats(0), floats(10),
                floats(10), 0, 10);
        assertEquals(List.of(Kernel.LAYER_NORM_BACKWARD_COLUMNS), launches.stream().map(Launch::kernel).toList());
    }

    private void assertRejected(String operand, Runnable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
        assertTrue(e.getMessage().startsWith(operand + " "), "message should name " + operand + ": " + e.getMessage());
        assertEquals(List.of(), launches, "nothing launched after a failed check");
    }

    @Test
    void halfOperandsAreSizedInTheirOwnElementsAndOnlyFloatTypesAreTaken() {
        long n = 1000;
        PointwiseKernels p = kernels.pointwise();
        MixedPrecisionKernels.Element bf16 = MixedPrecisionKernels.Element.BF16;
        MixedPrecisionKernels.Element f16 = MixedPrecisionKernels.Element.F16;
        MixedPrecisionKernels.Element f32 = MixedPrecisionKernels.Element.F32;
        // 2 bytes an element: n halves fit in 2n bytes, not in 2n - 1
        p.axpby(stream, 1f, allocator.allocate(2 * n), bf16, 1f, floats(n), f32, allocator.allocate(2 * n), f16, n);
        assertEquals(1, launches.size());
        launches.clear();
        assertRejected("b", () -> p.axpby(stream, 1f, floats(n), f32, 1f, allocator.allocate(2 * n - 1), bf16,
                floats(n), f32, n));
        assertRejected("y", () -> p.biasActivation(stream, PointwiseKernels.Epilogue.RELU, 0f, floats(n), f32,
                allocator.allocate(20), bf16, null, f32, allocator.allocate(2 * n - 2), bf16, 100, 10, 1));
        assertRejected("dx", () -> p.activationBackward(stream, PointwiseKernels.Activation.GELU, 0f,
                allocator.allocate(2 * n), bf16, allocator.allocate(2 * n), bf16, allocator.allocate(n), f16, n));
        assertRejected("y", () -> kernels.dropout(stream, floats(n), f32, allocator.allocate(n), bf16, floats(n), n,
                0.5f, 1L));
        assertRejected("out", () -> p.fill(stream, allocator.allocate(2 * n - 1), f16, n, 0f));
        // integer and bool operands have no pointwise kernel
        assertRejected("a", () -> p.mul(stream, ints(n), MixedPrecisionKernels.Element.I32, floats(n), f32, floats(n),
                f32, n));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.sum(stream, floats(n), f32,
                floats(n), MixedPrecisionKernels.Element.BOOL, 10, 100, 1));
        assertTrue(e.getMessage().contains("BOOL"), e.getMessage());
        assertEquals(List.of(), launches);
    }

    @Test
    void tooSmallBuffersAreRejectedBeforeLaunching() {
        long n = 1000;
        assertRejected("y", () -> kernels.leakyRelu(stream, floats(n), floats(n - 1), n, 0.1f));
        assertRejected("dx", () -> kernels.leakyReluBackward(stream, floats(n), floats(n), floats(n - 1), n, 0.1f));
        assertRejected("x", () -> kernels.gelu(stream, floats(n - 1), floats(n), n));
        assertRejected("x", () -> kernels.mixedPrecision().cast(stream, floats(n / 2), MixedPrecisionKernels.Element.I64,
                floats(n), MixedPrecisionKernels.Element.F32, n));
        assertRejected("y", () -> kernels.mixedPrecision().cast(stream, floats(n), MixedPrecisionKernels.Element.F32,
                floats(n / 2 - 1), MixedPrecisionKernels.Element.BF16, n));
        assertRejected("dy", () -> kernels.geluBackward(stream, floats(n), floats(1), floats(n), n));
        assertRejected("a", () -> kernels.pointwise().broadcastBinary(stream, floats(20), new int[] {0, 7, 0, 1},
                floats(5), new int[] {0, 0, 1, 0}, floats(105), new int[] {1, 3, 5, 7}, false, 1f, 1f));
        assertRejected("out", () -> kernels.pointwise().broadcastBinary(stream, floats(21), new int[] {0, 7, 0, 1},
                floats(5), new int[] {0, 0, 1, 0}, floats(104), new int[] {1, 3, 5, 7}, false, 1f, 1f));
        PointwiseKernels.Epilogue gelu = PointwiseKernels.Epilogue.GELU;
        assertRejected("bias", () -> kernels.pointwise().biasActivation(stream, gelu, 0f, floats(70), floats(9), null,
                floats(70), 7, 10, 1));
        assertRejected("pre", () -> kernels.pointwise().biasActivation(stream, gelu, 0f, floats(70), floats(10),
                floats(69), floats(70), 1, 10, 7));
        assertRejected("y", () -> kernels.pointwise().biasActivation(stream, gelu, 0f, floats(70), floats(10), null,
                floats(69), 7, 10, 1));
        LossKernels ce = kernels.losses();
        LossKernels.Workspace w = workspace();
        assertRejected("logits", () -> ce.crossEntropy(stream, w, floats(69), ints(7), floats(7), floats(1), 7, 10, -1, 1f));
        assertRejected("targets", () -> ce.crossEntropy(stream, w, floats(70), ints(6), floats(7), floats(1), 7, 10, -1, 1f));
        assertRejected("logSumExp",
                () -> ce.crossEntropy(stream, w, floats(70), ints(7), floats(6), floats(1), 7, 10, -1, 1f));
        assertRejected("loss", () -> ce.crossEntropy(stream, w, floats(70), ints(7), floats(7), floats(0), 7, 10, -1, 1f));
        assertRejected("workspace partials", () -> ce.crossEntropy(stream, new LossKernels.Workspace(floats(10),
                ints(1)), floats(70), ints(7), floats(7), floats(1), 7, 10, -1, 1f));
        assertRejected("dLogits", () -> ce.crossEntropyBackward(stream, floats(70), ints(7), floats(7), floats(1),
                floats(69), 7, 10, -1, 1f));
        assertRejected("gradOut", () -> ce.crossEntropyBackward(stream, floats(70), ints(7), floats(7), floats(0),
                floats(70), 7, 10, -1, 1f));
        assertRejected("logSumExp", () -> ce.crossEntropyBackward(stream, floats(70), ints(7), floats(6), floats(1),
                floats(70), 7, 10, -1, 1f));
        assertRejected("momentumBuf",
                () -> kernels.sgdStep(stream, floats(n), floats(n), floats(n - 1), n, 0.1f, 0.9f, 0f, 0f, false, false));
        assertRejected("momentumBuf",
                () -> kernels.sgdStep(stream, floats(n), floats(n), null, n, 0.1f, 0.9f, 0f, 0f, false, false));
        assertRejected("grad",
                () -> kernels.sgdStep(stream, floats(n), floats(n - 1), null, n, 0.1f, 0f, 0f, 0f, false, false));
        assertRejected("v", () -> kernels.adamStep(stream, floats(n), floats(n), floats(n), floats(n - 1), n, 1e-3f,
                0.9f, 0.999f, 1e-8f, 0f, false, 1));
        assertRejected("mask", () -> kernels.dropout(stream, floats(n), floats(n), floats(n - 1), n, 0.5f, 1));
        assertRejected("replays", () -> kernels.dropoutCounted(stream, floats(n), floats(n), floats(n), n, 0.5f, 1,
                floats(0)));
        assertRejected("replays", () -> kernels.adamStepCounted(stream, floats(n), floats(n), floats(n), floats(n), n,
                1e-3f, 0.9f, 0.999f, 1e-8f, 0f, false, 1, floats(0)));
        assertRejected("counter", () -> kernels.countReplay(stream, floats(0)));
        assertRejected("dOut", () -> kernels.embeddingBackward(stream, floats(29), ints(3), floats(100), 3, 10));
        assertRejected("ids", () -> kernels.embeddingBackward(stream, floats(30), ints(2), floats(100), 3, 10));
        assertRejected("dWeight", () -> kernels.embeddingBackward(stream, floats(30), ints(3), floats(9), 3, 10));
        assertRejected("weight", () -> kernels.embeddingForward(stream, floats(9), ints(3), floats(30), 3, 10));
        assertRejected("ids", () -> kernels.embeddingForward(stream, floats(100), ints(2), floats(30), 3, 10));
        assertRejected("out", () -> kernels.embeddingForward(stream, floats(100), ints(3), floats(29), 3, 10));
        assertRejected("scores", () -> kernels.attentionSoftmax(stream, floats(2 * 3 * 4 * 5 - 1), null,
                floats(2 * 3 * 4 * 5), 2, 3, 4, 5, 1f, false));
        assertRejected("keyMask", () -> kernels.attentionSoftmax(stream, floats(2 * 3 * 4 * 5), floats(9),
                floats(2 * 3 * 4 * 5), 2, 3, 4, 5, 1f, false));
        assertRejected("probs", () -> kernels.attentionSoftmax(stream, floats(2 * 3 * 4 * 5), floats(10),
                floats(2 * 3 * 4 * 5 - 1), 2, 3, 4, 5, 1f, true));
        assertRejected("dScores", () -> kernels.attentionSoftmaxBackward(stream, floats(70), floats(70), floats(69),
                7, 10, 1f));
        assertRejected("gamma", () -> kernels.layerNorm(stream, floats(70), floats(9), null, floats(70), floats(7),
                floats(7), 7, 10, 1e-5f));
        assertRejected("rstd", () -> kernels.layerNorm(stream, floats(70), null, null, floats(70), floats(7),
                floats(6), 7, 10, 1e-5f));
        assertRejected("dBeta", () -> kernels.layerNormBackward(stream, floats(70), null, floats(7), floats(7),
                floats(70), floats(70), null, floats(9), 7, 10));
        assertRejected("dx", () -> kernels.layerNormBackward(stream, floats(70), null, floats(7), floats(7),
                floats(70), floats(69), null, null, 7, 10));
    }

    @Test
    void badCountsAndParametersAreRejected() {
        assertRejected("n", () -> kernels.gelu(stream, floats(1), floats(1), -1));
        assertRejected("rows", () -> kernels.losses().crossEntropy(stream, workspace(), floats(1), ints(1), floats(1),
                floats(1), -1, 10, -1, 1f));
        assertRejected("classes", () -> kernels.losses().crossEntropyBackward(stream, floats(1), ints(1), floats(1),
                floats(1), floats(1), 1, 0, -1, 1f));
        assertRejected("dim", () -> kernels.embeddingBackward(stream, floats(1), ints(1), floats(1), 1, 0));
        assertRejected("dim", () -> kernels.embeddingForward(stream, floats(1), ints(1), floats(1), 1, 0));
        assertRejected("tk", () -> kernels.attentionSoftmax(stream, floats(1), null, floats(1), 1, 1, 1, 0, 1f, false));
        assertRejected("heads", () -> kernels.attentionSoftmax(stream, floats(1), null, floats(1), 1, 0, 1, 1, 1f, false));
        assertRejected("cols", () -> kernels.layerNorm(stream, floats(1), null, null, floats(1), floats(1), floats(1),
                1, 0, 1e-5f));
        assertRejected("dropout", () -> kernels.dropout(stream, floats(1), floats(1), floats(1), 1, 1.5f, 1));
        assertRejected("Adam step", () -> kernels.adamStep(stream, floats(1), floats(1), floats(1), floats(1), 1,
                1e-3f, 0.9f, 0.999f, 1e-8f, 0f, false, 0));
        assertRejected("Adam betas", () -> kernels.adamStep(stream, floats(1), floats(1), floats(1), floats(1), 1,
                1e-3f, 1f, 0.999f, 1e-8f, 0f, false, 1));
        assertThrows(NullPointerException.class, () -> kernels.gelu(null, floats(1), floats(1), 1));
        assertThrows(NullPointerException.class, () -> kernels.gelu(stream, null, floats(1), 1));
        assertEquals(List.of(), launches);
    }

    @Test
    void closedBuffersAreRejectedBeforeLaunching() {
        DeviceMemory x = floats(10);
        x.close();
        assertThrows(IllegalStateException.class, () -> kernels.gelu(stream, x, floats(10), 10));
        assertEquals(List.of(), launches);
    }

    @Test
    @SuppressWarnings("restricted")  // reinterpret, to read back the argument slots
    void launchArgumentsCarryTheValuesAndTypes() {
        DeviceMemory x = floats(10);
        DeviceMemory y = floats(10);
        DeviceMemory mask = floats(10);
        kernels.dropout(stream, x, y, mask, 10, 0.25f, -3L);
        Launch l = launches.getFirst();
        assertEquals(Kernel.DROPOUT, l.kernel);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment argv = KernelLibrary.marshal(arena, l.kernel, l.args);
            MemorySegment[] slot = new MemorySegment[6];
            for (int i = 0; i < 6; i++) {
                slot[i] = argv.getAtIndex(ValueLayout.ADDRESS, i).reinterpret(8);
                assertEquals(0, slot[i].address() % 8, "slot " + i + " aligned");
            }
            assertEquals(x.pointer().address(), slot[0].get(ValueLayout.JAVA_LONG, 0));
            assertEquals(y.pointer().address(), slot[1].get(ValueLayout.JAVA_LONG, 0));
            assertEquals(mask.pointer().address(), slot[2].get(ValueLayout.JAVA_LONG, 0));
            assertEquals(10L, slot[3].get(ValueLayout.JAVA_LONG, 0));
            assertEquals(0.25f, slot[4].get(ValueLayout.JAVA_FLOAT, 0));
            assertEquals(-3L, slot[5].get(ValueLayout.JAVA_LONG, 0));
        }
        assertThrows(IllegalStateException.class, () -> KernelLibrary.checkArgs(Kernel.GELU, new Object[] {
                MemorySegment.NULL, MemorySegment.NULL, 10}), "an int where long long is expected is a bug");
        assertThrows(IllegalStateException.class, () -> KernelLibrary.checkArgs(Kernel.GELU, new Object[] {
                MemorySegment.NULL, MemorySegment.NULL}));
    }

    @Test
    void dim3IsXOneOne() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment d = KernelLibrary.dim3Of(arena, 123);
            assertEquals(12, d.byteSize());
            assertEquals(123, d.get(ValueLayout.JAVA_INT, 0));
            assertEquals(1, d.get(ValueLayout.JAVA_INT, 4));
            assertEquals(1, d.get(ValueLayout.JAVA_INT, 8));
        }
    }

    /** Skips unless the CUDA runtime library loads but no device is usable (as on a build machine). */
    private static void assumeRuntimeWithoutDevice() {
        assumeFalse(CudaDevice.isAvailable(), "a device is present: NativeKernelsGpuTest covers the real path");
        try {
            Cuda.ensureLoaded();
        } catch (NativeLibraryException e) {
            assumeTrue(false, "no CUDA runtime library: " + e.getMessage());
        }
    }

    @Test
    void loadingWithoutADriverReportsTheRuntimesStatus() {
        // Goes through the real cudaLibraryLoadData downcall; without a driver the runtime refuses.
        assumeRuntimeWithoutDevice();
        CudaException e = assertThrows(CudaException.class,
                () -> KernelLibrary.LibraryLauncher.load(KernelLibrary.readFatbin()));
        assertTrue(e.getMessage().startsWith("cudaLibraryLoadData"), e.getMessage());
        assertTrue(e.statusName().startsWith("cudaError"), e.statusName());
    }

    @Test
    void launchDowncallPassesDim3ByValueWithoutCrashing() {
        // The struct-by-value downcall handle links and runs; without a driver the runtime returns an error
        // before it looks at the (NULL) function.
        assumeRuntimeWithoutDevice();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment argv = KernelLibrary.marshal(arena, Kernel.GELU,
                    new Object[] {MemorySegment.NULL, MemorySegment.NULL, 0L, 0, 0});
            int status = KernelLibrary.LibraryLauncher.launchStatus(arena, MemorySegment.NULL, 1, 256, argv,
                    MemorySegment.NULL);
            assertTrue(status != 0, "cudaLaunchKernel without a driver returned success");
        }
    }

    @Test
    void getWithoutADeviceSaysWhy() {
        if (!CudaDevice.isAvailable()) {
            CudaUnavailableException e = assertThrows(CudaUnavailableException.class, NativeKernels::get);
            assertTrue(e.getMessage().contains(String.valueOf(CudaDevice.unavailableReason())), e.getMessage());
        }
    }
}
