package io.jdl.tensor;

/**
 * The result of {@link Tensor#attention}: the output [B, H, Tq, Dv] (recorded like any op's result) and,
 * when asked for, a copy of the attention probabilities [B, H, Tq, Tk] before dropout, outside any graph
 * and owned by the caller (null otherwise).
 */
public record Attention(Tensor output, Tensor weights) {
}
