package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

/** A 2-d cross-correlation (what deep learning calls convolution) in float32. */
public final class ConvolutionDescriptor extends Descriptor {

    public ConvolutionDescriptor(int padH, int padW, int strideH, int strideW, int dilationH, int dilationW, int groups,
                                 boolean tf32) {
        super(io.jdl.bindings.cudnn.cudnn_h::cudnnCreateConvolutionDescriptor, "cudnnCreateConvolutionDescriptor");
        configure(cudnnSetConvolution2dDescriptor(handle(), padH, padW, strideH, strideW, dilationH, dilationW,
                CUDNN_CROSS_CORRELATION(), CUDNN_DATA_FLOAT()), "cudnnSetConvolution2dDescriptor");
        configure(cudnnSetConvolutionGroupCount(handle(), groups), "cudnnSetConvolutionGroupCount(" + groups + ")");
        // FMA_MATH keeps float32 exact; TENSOR_OP_MATH lets cuDNN use TF32 tensor cores.
        configure(cudnnSetConvolutionMathType(handle(), tf32 ? CUDNN_TENSOR_OP_MATH() : CUDNN_FMA_MATH()),
                "cudnnSetConvolutionMathType");
    }

    /**
     * Sets the math type a run uses: the one the chosen algorithm was listed with by
     * {@code cudnnGet*Algorithm_v7}, since cuDNN runs an algorithm under the descriptor's math type.
     */
    void mathType(int mathType) {
        Cudnn.check(cudnnSetConvolutionMathType(handle(), mathType), "cudnnSetConvolutionMathType");
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
