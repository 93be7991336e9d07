package io.jdl.backend.cpu;

/**
 * The optimizer updates on the CPU, over every element of a parameter, spread over cores in ranges.
 * Float32 throughout and the same operation order as the CUDA kernels in {@code native/jdl_kernels.cu}
 * ({@code jdl_adam_step}, {@code jdl_sgd_step}), so both devices compute the same numbers; branches on the
 * options are hoisted out of the element loops so C2 vectorises them (Adam was 15% of an MLP step when it
 * was scalar float64 on one thread).
 */
final class CpuOptimizers {
    private CpuOptimizers() {
    }

    /**
     * torch.optim.Adam (decoupled false: g = grad + weightDecay·p) or AdamW (decoupled: p *= 1 − lr·weightDecay),
     * step t >= 1: m = β1·m + (1 − β1)·g; v = β2·v + (1 − β2)·g²; p −= stepSize·m / (√v / √(1 − β2^t) + eps)
     * with stepSize = lr / (1 − β1^t), both corrections computed in float64 and rounded once, as on the GPU.
     */
    static void adam(float[] p, float[] grad, float[] m, float[] v, long n, float lr, float beta1, float beta2,
                     float eps, float weightDecay, boolean decoupled, int step) {
        float stepSize = (float) (lr / (1.0 - Math.pow(beta1, step)));
        float bc2Sqrt = (float) Math.sqrt(1.0 - Math.pow(beta2, step));
        boolean l2 = weightDecay != 0 && !decoupled;
        // decay is exactly 1 without weight decay: p·1 is p, bit for bit (NaN and ∞ included)
        float decay = weightDecay != 0 && decoupled ? 1f - lr * weightDecay : 1f;
        CpuParallel.forEachRange(n, 12, (from, to) -> {
            if (l2) {
                for (int i = from; i < to; i++) {
                    float pi = p[i], g = grad[i] + weightDecay * pi;
                    float mi = beta1 * m[i] + (1f - beta1) * g, vi = beta2 * v[i] + (1f - beta2) * g * g;
                    m[i] = mi;
                    v[i] = vi;
                    p[i] = pi - stepSize * mi / ((float) Math.sqrt(vi) / bc2Sqrt + eps);
                }
            } else {
                for (int i = from; i < to; i++) {
                    float pi = p[i] * decay, g = grad[i];
                    float mi = beta1 * m[i] + (1f - beta1) * g, vi = beta2 * v[i] + (1f - beta2) * g * g;
                    m[i] = mi;
                    v[i] = vi;
                    p[i] = pi - stepSize * mi / ((float) Math.sqrt(vi) / bc2Sqrt + eps);
                }
            }
        });
    }

    /**
     * torch.optim.SGD: g = grad + weightDecay·p (when weightDecay != 0); with momentum, buf = g on the first step, else
     * momentum·buf + (1 − dampening)·g, and g = nesterov ? g + momentum·buf : buf; p −= lr·g.
     */
    static void sgd(float[] p, float[] grad, float[] buf, long n, float lr, float momentum, float dampening,
                    float weightDecay, boolean nesterov, boolean firstStep) {
        CpuParallel.forEachRange(n, 6, (from, to) -> {
            for (int i = from; i < to; i++) {
                float g = weightDecay != 0 ? grad[i] + weightDecay * p[i] : grad[i];
                if (momentum != 0) {
                    buf[i] = firstStep ? g : momentum * buf[i] + (1 - dampening) * g;
                    g = nesterov ? g + momentum * buf[i] : buf[i];
                }
                p[i] -= lr * g;
            }
        });
    }
}
