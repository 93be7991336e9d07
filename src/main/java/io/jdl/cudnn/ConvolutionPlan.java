package io.jdl.cudnn;

import static io.jdl.bindings.cudnn.cudnn_h.*;

import io.jdl.bindings.cudnn.cudnnConvolutionBwdDataAlgoPerfStruct;
import io.jdl.bindings.cudnn.cudnnConvolutionBwdFilterAlgoPerfStruct;
import io.jdl.bindings.cudnn.cudnnConvolutionFwdAlgoPerfStruct;
import io.jdl.cuda.DeviceMemory;
import io.jdl.cuda.NativeResource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.LongFunction;

/**
 * One convolution shape, ready to run: its descriptors and, per direction (forward, backward data,
 * backward filter), the algorithms {@code cudnnGet*Algorithm_v7} proposes (cuDNN's heuristics, which need
 * no device memory), filtered and tried in order by {@link ConvolutionAlgorithms}. Build one per shape, data
 * type and math mode and cache it.
 *
 * <p>Data types: x, w and y all of one {@link CudnnDataType}, computed in float32 (half data: cuDNN's
 * PSEUDO_HALF_CONFIG / PSEUDO_BFLOAT16_CONFIG, float accumulation, outputs rounded to the data type).
 *
 * <p>Each run takes its workspace from a {@code LongFunction<DeviceMemory>} (bytes to a block, closed
 * once the call is queued), because the size depends on the algorithm that ends up running.
 */
public final class ConvolutionPlan extends NativeResource {
    private final CudnnDataType type;
    private final TensorDescriptor x, y;
    private final FilterDescriptor w;
    private final ConvolutionDescriptor conv;
    private final ConvolutionAlgorithms forward, backwardData, backwardFilter;

    /**
     * Float32 input [n, c, h, w], weight [k, c / groups, r, s], output [n, k, outH, outW], as a cuDNN
     * cross-correlation with the given padding, stride, dilation and groups; {@code tf32} allows TF32 tensor cores.
     */
    public ConvolutionPlan(Cudnn cudnn, int n, int c, int h, int wd, int k, int r, int s, int padH, int padW,
                           int strideH, int strideW, int dilationH, int dilationW, int groups, int outH, int outW,
                           boolean tf32) {
        this(cudnn, CudnnDataType.FLOAT, n, c, h, wd, k, r, s, padH, padW, strideH, strideW, dilationH, dilationW, groups,
                outH, outW, tf32);
    }

    /**
     * The same with every operand of {@code type}. {@code tensorOps} allows tensor-core math: TF32 for float data;
     * for half data pass true (tensor cores are what half precision is for; false keeps to FMA algorithms).
     */
    public ConvolutionPlan(Cudnn cudnn, CudnnDataType type, int n, int c, int h, int wd, int k, int r, int s, int padH,
                           int padW, int strideH, int strideW, int dilationH, int dilationW, int groups, int outH,
                           int outW, boolean tensorOps) {
        this.type = type;
        try (Arena arena = Arena.ofConfined()) {
            // Inside the try: a descriptor that fails to set up closes the ones made before it.
            this.x = TensorDescriptor.of(type, n, c, h, wd);
            this.y = TensorDescriptor.of(type, n, k, outH, outW);
            this.w = new FilterDescriptor(type, k, c / groups, r, s);
            this.conv = new ConvolutionDescriptor(padH, padW, strideH, strideW, dilationH, dilationW, groups, tensorOps);
            MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
            int max = 16;

            MemorySegment fwd = cudnnConvolutionFwdAlgoPerfStruct.allocateArray(max, arena);
            Cudnn.check(cudnnGetConvolutionForwardAlgorithm_v7(cudnn.handle(), x.handle(), w.handle(), conv.handle(),
                    y.handle(), max, count, fwd), "cudnnGetConvolutionForwardAlgorithm_v7");
            forward = ConvolutionAlgorithms.choose("forward", count.get(ValueLayout.JAVA_INT, 0), tensorOps, conv,
                    i -> cudnnConvolutionFwdAlgoPerfStruct.asSlice(fwd, i), cudnnConvolutionFwdAlgoPerfStruct::algo,
                    cudnnConvolutionFwdAlgoPerfStruct::status, cudnnConvolutionFwdAlgoPerfStruct::determinism,
                    cudnnConvolutionFwdAlgoPerfStruct::mathType,
                    (algo, size) -> cudnnGetConvolutionForwardWorkspaceSize(cudnn.handle(), x.handle(), w.handle(),
                            conv.handle(), y.handle(), algo, size));

            MemorySegment bd = cudnnConvolutionBwdDataAlgoPerfStruct.allocateArray(max, arena);
            Cudnn.check(cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnn.handle(), w.handle(), y.handle(), conv.handle(),
                    x.handle(), max, count, bd), "cudnnGetConvolutionBackwardDataAlgorithm_v7");
            backwardData = ConvolutionAlgorithms.choose("backward data", count.get(ValueLayout.JAVA_INT, 0), tensorOps,
                    conv, i -> cudnnConvolutionBwdDataAlgoPerfStruct.asSlice(bd, i),
                    cudnnConvolutionBwdDataAlgoPerfStruct::algo,
                    cudnnConvolutionBwdDataAlgoPerfStruct::status, cudnnConvolutionBwdDataAlgoPerfStruct::determinism,
                    cudnnConvolutionBwdDataAlgoPerfStruct::mathType,
                    (algo, size) -> cudnnGetConvolutionBackwardDataWorkspaceSize(cudnn.handle(), w.handle(), y.handle(),
                            conv.handle(), x.handle(), algo, size));

            MemorySegment bf = cudnnConvolutionBwdFilterAlgoPerfStruct.allocateArray(max, arena);
            Cudnn.check(cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnn.handle(), x.handle(), y.handle(),
                    conv.handle(), w.handle(), max, count, bf), "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
            backwardFilter = ConvolutionAlgorithms.choose("backward filter", count.get(ValueLayout.JAVA_INT, 0), tensorOps,
                    conv, i -> cudnnConvolutionBwdFilterAlgoPerfStruct.asSlice(bf, i),
                    cudnnConvolutionBwdFilterAlgoPerfStruct::algo, cudnnConvolutionBwdFilterAlgoPerfStruct::status,
                    cudnnConvolutionBwdFilterAlgoPerfStruct::determinism, cudnnConvolutionBwdFilterAlgoPerfStruct::mathType,
                    (algo, size) -> cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnn.handle(), x.handle(), y.handle(),
                            conv.handle(), w.handle(), algo, size));
        } catch (RuntimeException e) {
            closeDescriptors();
            throw e;
        }
    }

    /** The forward algorithm the next run tries first (then the later candidates, should it fail). */
    public ConvolutionAlgorithms.Candidate forwardAlgorithm() {
        return forward.current();
    }

    public ConvolutionAlgorithms.Candidate backwardDataAlgorithm() {
        return backwardData.current();
    }

    public ConvolutionAlgorithms.Candidate backwardFilterAlgorithm() {
        return backwardFilter.current();
    }

    /** y = conv(x, w) (overwritten). */
    public void forward(Cudnn cudnn, DeviceMemory xm, DeviceMemory wm, DeviceMemory ym,
                        LongFunction<DeviceMemory> workspaces) {
        checkOpen();
        x.checkFits(xm, "x");
        y.checkFits(ym, "y");
        checkFilter(wm, "w");
        forward.run(conv, workspaces, "cudnnConvolutionForward", (algo, ws, bytes) -> cudnnConvolutionForward(
                cudnn.handle(), Cudnn.ONE, x.handle(), xm.pointer(), w.handle(), wm.pointer(), conv.handle(), algo, ws,
                bytes, Cudnn.ZERO, y.handle(), ym.pointer()));
    }

    /** dx = conv backward data (overwritten). */
    public void backwardData(Cudnn cudnn, DeviceMemory wm, DeviceMemory dym, DeviceMemory dxm,
                             LongFunction<DeviceMemory> workspaces) {
        checkOpen();
        checkFilter(wm, "w");
        y.checkFits(dym, "dy");
        x.checkFits(dxm, "dx");
        backwardData.run(conv, workspaces, "cudnnConvolutionBackwardData", (algo, ws, bytes) ->
                cudnnConvolutionBackwardData(cudnn.handle(), Cudnn.ONE, w.handle(), wm.pointer(), y.handle(), dym.pointer(),
                        conv.handle(), algo, ws, bytes, Cudnn.ZERO, x.handle(), dxm.pointer()));
    }

    /** dw = conv backward filter (overwritten). */
    public void backwardFilter(Cudnn cudnn, DeviceMemory xm, DeviceMemory dym, DeviceMemory dwm,
                               LongFunction<DeviceMemory> workspaces) {
        checkOpen();
        x.checkFits(xm, "x");
        y.checkFits(dym, "dy");
        checkFilter(dwm, "dw");
        backwardFilter.run(conv, workspaces, "cudnnConvolutionBackwardFilter", (algo, ws, bytes) ->
                cudnnConvolutionBackwardFilter(cudnn.handle(), Cudnn.ONE, x.handle(), xm.pointer(), y.handle(),
                        dym.pointer(), conv.handle(), algo, ws, bytes, Cudnn.ZERO, w.handle(), dwm.pointer()));
    }

    public CudnnDataType type() {
        return type;
    }

    private void checkFilter(DeviceMemory m, String name) {
        if (m.bytes() < w.bytes()) {
            throw new IllegalArgumentException("convolution operand " + name + " (" + type + ") needs " + w.bytes()
                    + " bytes but its device block has " + m.bytes());
        }
    }

    private void closeDescriptors() {
        for (NativeResource d : new NativeResource[] {x, y, w, conv}) {
            if (d != null && !d.isClosed()) {
                d.close();
            }
        }
    }

    @Override
    protected void release() {
        closeDescriptors();
    }

    @Override
    protected String describe() {
        return "cuDNN convolution plan";
    }
}
