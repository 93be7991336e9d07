package io.jdl.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jdl.cuda.Gpu;
import io.jdl.cuda.StandIn;
import io.jdl.device.DType;
import io.jdl.device.Device;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The half pointwise ops through the tensor API on CUDA (issue #14 item 4): one kernel launch per op and per
 * gradient, no cast, counted on the stand-in; and their values against the CPU reference within one ulp of the dtype
 * (the reducing ones may sum in another order). The primitives themselves: {@code backend.cuda.HalfPointwiseGpuTest}.
 */
@Tag("gpu")
class HalfPointwiseOpsGpuTest {
    private static final Device GPU = Device.cuda(0);

    @BeforeEach
    void needsGpu() {
        Gpu.assumeAvailable();
    }

    /** cublasGemmEx calls and kernel launches between two moments. */
    private record Counts(long gemmEx, long launches) {
        static Counts now() {
            return new Counts(StandIn.callCount("cublasGemmEx"), StandIn.launchCount());
        }

        Counts minus(Counts o) {
            return new Counts(gemmEx - o.gemmEx, launches - o.launches);
        }
    }

    /** The launches of loss.backward() less those of the same loss over a leaf of y's shape and dtype. */
    private static long backwardLaunches(Tensor y, Function<Tensor, Tensor> loss) {
        Tensor leaf = Tensor.zeros(y.shape(), y.dtype(), GPU).requiresGrad(true);
        Tensor leafLoss = loss.apply(leaf);
        Counts before = Counts.now();
        leafLoss.backward();
        long lossOnly = Counts.now().minus(before).launches();
        Tensor l = loss.apply(y);
        before = Counts.now();
        l.backward();
        return Counts.now().minus(before).launches() - lossOnly;
    }

    @Test
    void aHalfGeluAndAMixedAddAreOneLaunchEachWayWithNoCast() {
        Gpu.assumeStandIn("counting kernel launches");
        try (TensorScope scope = TensorScope.open()) {
            Random rng = new Random(7);
            Tensor x = Tensor.randn(rng, Shape.of(16, 24), GPU).to(DType.BFLOAT16).requiresGrad(true);
            Tensor w = Tensor.randn(rng, Shape.of(16, 24), GPU).requiresGrad(true);

            Counts before = Counts.now();
            Tensor g = x.gelu();
            assertEquals(1, Counts.now().minus(before).launches(), "bf16 gelu forward");
            assertEquals(DType.BFLOAT16, g.dtype());
            assertEquals(1, backwardLaunches(g, Tensor::sum), "bf16 gelu backward: dx from bf16 x and dy");
            assertEquals(DType.BFLOAT16, x.grad().dtype());

            x.zeroGrad();
            before = Counts.now();
            Tensor sum = x.add(w);
            assertEquals(1, Counts.now().minus(before).launches(), "bf16 + f32 add forward");
            assertEquals(DType.FLOAT32, sum.dtype());
            // each operand's gradient in its dtype: one launch each (bf16 from the float32 gradient, and float32)
            assertEquals(2, backwardLaunches(sum, Tensor::sum), "bf16 + f32 add backward");
            assertEquals(DType.BFLOAT16, x.grad().dtype());
            assertEquals(DType.FLOAT32, w.grad().dtype());
        }
    }

    @Test
    void aBf16LinearWithBiasAndGeluIsOneGemmExAndOneLaunch() {
        Gpu.assumeStandIn("counting cuBLAS calls and kernel launches");
        try (TensorScope scope = TensorScope.open()) {
            Random rng = new Random(8);
            Tensor x = Tensor.randn(rng, Shape.of(16, 24), GPU).to(DType.BFLOAT16);
            Tensor w = Tensor.randn(rng, Shape.of(8, 24), GPU).to(DType.BFLOAT16);
            Tensor b = Tensor.randn(rng, Shape.of(8), GPU).to(DType.BFLOAT16);
            Counts before = Counts.now();
            Tensor y = x.linear(w, b, FusedActivation.gelu());
            assertEquals(new Counts(1, 1), Counts.now().minus(before), "GemmEx to float32, then the epilogue");
            assertEquals(DType.BFLOAT16, y.dtype());
        }
    }

    @Test
    void halfPointwiseOpsAgreeWithTheCpu() {
        List<HalfOpCases.Case> cases = HalfOpCases.all().stream().filter(c -> List.of("add", "sub broadcast", "mul",
                "scale", "addBias", "relu", "leakyRelu", "sigmoid", "tanh", "gelu", "softmax", "logSoftmax", "dropout",
                "sum", "mean", "sum axis", "mean axis", "expand").contains(c.name())).toList();
        for (HalfOpCases.Case c : cases) {
            for (DType d : new DType[] {DType.BFLOAT16, DType.FLOAT16}) {
                HalfOpCases.Result cpu = HalfOpCases.run(c, d, Device.CPU), gpu = HalfOpCases.run(c, d, GPU);
                HalfProductsGpuTest.withinOneUlp(c.name() + " " + d + " output", d, gpu.output(), cpu.output());
                for (int i = 0; i < cpu.grads().size(); i++) {
                    HalfProductsGpuTest.withinOneUlp(c.name() + " " + d + " gradient " + i, d, gpu.grads().get(i),
                            cpu.grads().get(i));
                }
            }
        }
    }
}
