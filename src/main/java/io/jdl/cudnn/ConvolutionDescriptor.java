package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

/**
 * A 2-d cross-correlation (what deep learning calls convolution), always computed in float32 (cuDNN's compute
 * type CUDNN_DATA_FLOAT): FLOAT_CONFIG for float data, PSEUDO_HALF_CONFIG / PSEUDO_BFLOAT16_CONFIG for half
 * data, whose products tensor cores sum in float.
 */
public final class ConvolutionDescriptor extends Descriptor {
    /** The math type set on the descriptor, so that a run under the same one makes no native call. */
    private int mathType;

    /**
     * {@code tensorOps}: tensor-core math ({@code CUDNN_TENSOR_OP_MATH}); for float data that means TF32, for half
     * data it is the point of half precision. Off, {@code CUDNN_FMA_MATH} keeps float32 exact.
     */
    public ConvolutionDescriptor(int padH, int padW, int strideH, int strideW, int dilationH, int dilationW, int groups,
                                 boolean tensorOps) {
        super(io.jdl.bindings.cudnn.cudnn_h::cudnnCreateConvolutionDescriptor, "cudnnCreateConvolutionDescriptor");
        configure(cudnnSetConvolution2dDescriptor(handle(), padH, padW, strideH, strideW, dilationH, dilationW,
                CUDNN_CROSS_CORRELATION(), CUDNN_DATA_FLOAT()), "cudnnSetConvolution2dDescriptor");
        configure(cudnnSetConvolutionGroupCount(handle(), groups), "cudnnSetConvolutionGroupCount(" + groups + ")");
        mathType = tensorOps ? CUDNN_TENSOR_OP_MATH() : CUDNN_FMA_MATH();
        configure(cudnnSetConvolutionMathType(handle(), mathType), "cudnnSetConvolutionMathType");
    }

    /**
     * Sets the math type a run uses: the one the chosen algorithm was listed with by
     * {@code cudnnGet*Algorithm_v7}, since cuDNN runs an algorithm under the descriptor's math type.
     */
    void mathType(int mathType) {
        if (mathType != this.mathType) {
            Cudnn.check(cudnnSetConvolutionMathType(handle(), mathType), "cudnnSetConvolutionMathType");
            this.mathType = mathType;
        }
    }

    @Override
    protected void release() {
        Cudnn.check(cudnnDestroyConvolutionDescriptor(rawHandle()), "cudnnDestroyConvolutionDescriptor");
    }

    @Override
    protected String describe() {
        return "cuDNN convolution descriptor";
    }
}
