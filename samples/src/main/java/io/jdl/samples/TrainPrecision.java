package io.jdl.samples;

import io.jdl.device.Precision;
import io.jdl.samples.cli.UserError;
import io.jdl.tensor.Autocast;
import java.util.Locale;

/**
 * The samples' {@code --precision}, as PyTorch users train:
 * <ul>
 *   <li>{@code fp32}: float32 throughout with PyTorch's default math modes ({@link Precision#defaults()}: matrix
 *       products in full float32, cuDNN convolutions allowed TF32, as {@code torch.backends.cudnn.allow_tf32}
 *       defaults to True);</li>
 *   <li>{@code tf32}: float32 tensors, TF32 tensor cores on for both ({@link Precision#tf32(boolean)}: matmul
 *       precision {@code HIGH}, cuDNN TF32), PyTorch's {@code set_float32_matmul_precision("high")} and
 *       {@code cudnn.allow_tf32 = True};</li>
 *   <li>{@code bf16}: {@link Autocast#bf16()} around the forward pass and the loss, float32 master weights and
 *       optimizer state, no loss scaling (bfloat16 has float32's range);</li>
 *   <li>{@code fp16}: {@link Autocast#fp16()} around forward and loss, and a {@link io.jdl.optim.GradScaler} (see
 *       {@link PrecisionStep}): float16's range is small, so the loss is scaled before backward.</li>
 * </ul>
 * bf16 and fp16 keep PyTorch's defaults for what stays in float32. {@code --tf32 on|off} overrides the TF32
 * policy of any of them (see {@link TrainOptions}). The CPU ignores TF32 (it computes float32 exactly), so
 * there {@code tf32} trains as {@code fp32}; bf16 and fp16 round on the CPU exactly as on a GPU.
 */
enum TrainPrecision {
    FP32, TF32, BF16, FP16;

    /** The value of {@code --precision}; a usage error names the values it takes. */
    static TrainPrecision parse(String text) {
        for (TrainPrecision p : values()) {
            if (p.toString().equals(text)) {
                return p;
            }
        }
        throw UserError.usage("--precision takes fp32, tf32, bf16 or fp16, got '" + text + "'");
    }

    /** As written on the command line, in the checkpoint and in metrics.json: "fp32", "tf32", "bf16", "fp16". */
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Sets the process-wide float32 math policy: TF32 everywhere for {@code tf32}, PyTorch's defaults otherwise. */
    void applyMathMode() {
        if (this == TF32) {
            Precision.tf32(true);
        } else {
            Precision.defaults();
        }
    }

    /** The autocast scope for the forward pass and the loss; {@link Autocast#disabled()} for fp32 and tf32. */
    Autocast autocast() {
        return switch (this) {
            case BF16 -> Autocast.bf16();
            case FP16 -> Autocast.fp16();
            case FP32, TF32 -> Autocast.disabled();
        };
    }
}
