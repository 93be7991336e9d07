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
 * One convolution shape, ready to run: its descriptors and the forward, backward-data and
 * backward-filter algorithms chosen once with {@code cudnnGet*Algorithm_v7} (cuDNN's heuristics, which
 * need no device memory), with their workspace sizes. Build one per shape and cache it.
 *
 * <p>Algorithm choice: the fastest deterministic candidate that succeeded and does not need tensor
 * cores (unless TF32 is on, so float32 stays exact); failing that the fastest such candidate, failing
 * that the fastest that succeeded at all.
 */
public final class ConvolutionPlan extends NativeResource {
    private final TensorDescriptor x, y;
    private final FilterDescriptor w;
    private final ConvolutionDescriptor conv;
    private final int fwdAlgo, bwdDataAlgo, bwdFilterAlgo;
    private final long fwdBytes, bwdDataBytes, bwdFilterBytes;

    /**
     * Input [n, c, h, w], weight [k, c / groups, r, s], output [n, k, outH, outW], as a cuDNN
     * cross-correlation with the given padding, stride, dilation and groups.
     */
    public ConvolutionPlan(Cudnn cudnn, int n, int c, int h, int wd, int k, int r, int s, int padH, int padW,
                           int strideH, int strideW, int dilationH, int dilationW, int groups, int outH, int outW,
                           boolean tf32) {
        this.x = TensorDescriptor.of(n, c, h, wd);
        this.y = TensorDescriptor.of(n, k, outH, outW);
        this.w = new FilterDescriptor(k, c / groups, r, s);
        this.conv = new ConvolutionDescriptor(padH, padW, strideH, strideW, dilationH, dilationW, groups, tf32);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
            MemorySegment size = arena.allocate(ValueLayout.JAVA_LONG);
            int max = 16;

            MemorySegment fwd = cudnnConvolutionFwdAlgoPerfStruct.allocateArray(max, arena);
            Cudnn.check(cudnnGetConvolutionForwardAlgorithm_v7(cudnn.handle(), x.handle(), w.handle(), conv.handle(),
                    y.handle(), max, count, fwd), "cudnnGetConvolutionForwardAlgorithm_v7");
            fwdAlgo = pick(count.get(ValueLayout.JAVA_INT, 0), tf32, "forward",
                    i -> cudnnConvolutionFwdAlgoPerfStruct.asSlice(fwd, i), cudnnConvolutionFwdAlgoPerfStruct::status,
                    cudnnConvolutionFwdAlgoPerfStruct::mathType, cudnnConvolutionFwdAlgoPerfStruct::determinism,
                    cudnnConvolutionFwdAlgoPerfStruct::algo);
            Cudnn.check(cudnnGetConvolutionForwardWorkspaceSize(cudnn.handle(), x.handle(), w.handle(), conv.handle(),
                    y.handle(), fwdAlgo, size), "cudnnGetConvolutionForwardWorkspaceSize");
            fwdBytes = size.get(ValueLayout.JAVA_LONG, 0);

            MemorySegment bd = cudnnConvolutionBwdDataAlgoPerfStruct.allocateArray(max, arena);
            Cudnn.check(cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnn.handle(), w.handle(), y.handle(), conv.handle(),
                    x.handle(), max, count, bd), "cudnnGetConvolutionBackwardDataAlgorithm_v7");
            bwdDataAlgo = pick(count.get(ValueLayout.JAVA_INT, 0), tf32, "backward data",
                    i -> cudnnConvolutionBwdDataAlgoPerfStruct.asSlice(bd, i), cudnnConvolutionBwdDataAlgoPerfStruct::status,
                    cudnnConvolutionBwdDataAlgoPerfStruct::mathType, cudnnConvolutionBwdDataAlgoPerfStruct::determinism,
                    cudnnConvolutionBwdDataAlgoPerfStruct::algo);
            Cudnn.check(cudnnGetConvolutionBackwardDataWorkspaceSize(cudnn.handle(), w.handle(), y.handle(), conv.handle(),
                    x.handle(), bwdDataAlgo, size), "cudnnGetConvolutionBackwardDataWorkspaceSize");
            bwdDataBytes = size.get(ValueLayout.JAVA_LONG, 0);

            MemorySegment bf = cudnnConvolutionBwdFilterAlgoPerfStruct.allocateArray(max, arena);
            Cudnn.check(cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnn.handle(), x.handle(), y.handle(), conv.handle(),
                    w.handle(), max, count, bf), "cudnnGetConvolutionBackwardFilterAlgorithm_v7");
            bwdFilterAlgo = pick(count.get(ValueLayout.JAVA_INT, 0), tf32, "backward filter",
                    i -> cudnnConvolutionBwdFilterAlgoPerfStruct.asSlice(bf, i),
                    cudnnConvolutionBwdFilterAlgoPerfStruct::status, cudnnConvolutionBwdFilterAlgoPerfStruct::mathType,
                    cudnnConvolutionBwdFilterAlgoPerfStruct::determinism, cudnnConvolutionBwdFilterAlgoPerfStruct::algo);
            Cudnn.check(cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnn.handle(), x.handle(), y.handle(),
                    conv.handle(), w.handle(), bwdFilterAlgo, size), "cudnnGetConvolutionBackwardFilterWorkspaceSize");
            bwdFilterBytes = size.get(ValueLayout.JAVA_LONG, 0);
        } catch (RuntimeException e) {
            closeDescriptors();
            throw e;
        }
    }

    private interface Field {
        int get(MemorySegment perf);
    }

    private static int pick(int returned, boolean allowTensorOps, String what, LongFunction<MemorySegment> perf, Field status,
                            Field mathType, Field determinism, Field algo) {
        int fallback = -1, anyMath = -1;
        for (int i = 0; i < returned; i++) {
            MemorySegment p = perf.apply(i);
            if (status.get(p) != CUDNN_STATUS_SUCCESS()) {
                continue;
            }
            if (anyMath < 0) {
                anyMath = algo.get(p);
            }
            // Without TF32, skip tensor-core entries; the descriptor's FMA math type governs the others.
            int math = mathType.get(p);
            if (!allowTensorOps && (math == CUDNN_TENSOR_OP_MATH() || math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION())) {
                continue;
            }
            if (determinism.get(p) == CUDNN_DETERMINISTIC()) {
                return algo.get(p);
            }
            if (fallback < 0) {
                fallback = algo.get(p);
            }
        }
        if (fallback < 0) {
            fallback = anyMath;
        }
        if (fallback < 0) {
            throw new IllegalStateException("cuDNN offers no usable convolution " + what + " algorithm for this shape ("
                    + returned + " candidates)");
        }
        return fallback;
    }

    public long forwardWorkspaceBytes() {
        return fwdBytes;
    }

    public long backwardDataWorkspaceBytes() {
        return bwdDataBytes;
    }

    public long backwardFilterWorkspaceBytes() {
        return bwdFilterBytes;
    }

    private static MemorySegment ws(DeviceMemory workspace, long needed, String what) {
        long have = workspace == null ? 0 : workspace.bytes();
        if (have < needed) {
            throw new IllegalArgumentException("convolution " + what + " needs " + needed + " workspace bytes, got " + have);
        }
        return workspace == null ? MemorySegment.NULL : workspace.pointer();
    }

    private static MemorySegment floats(Arena arena, float v) {
        return arena.allocateFrom(ValueLayout.JAVA_FLOAT, v);
    }

    /** y = conv(x, w) (overwritten). */
    public void forward(Cudnn cudnn, DeviceMemory xm, DeviceMemory wm, DeviceMemory ym, DeviceMemory workspace) {
        x.checkFits(xm, "x");
        y.checkFits(ym, "y");
        checkFilter(wm, "w");
        try (Arena arena = Arena.ofConfined()) {
            Cudnn.check(cudnnConvolutionForward(cudnn.handle(), floats(arena, 1f), x.handle(), xm.pointer(), w.handle(),
                    wm.pointer(), conv.handle(), fwdAlgo, ws(workspace, fwdBytes, "forward"), fwdBytes, floats(arena, 0f),
                    y.handle(), ym.pointer()), "cudnnConvolutionForward");
        }
    }

    /** dx = conv backward data (overwritten). */
    public void backwardData(Cudnn cudnn, DeviceMemory wm, DeviceMemory dym, DeviceMemory dxm, DeviceMemory workspace) {
        checkFilter(wm, "w");
        y.checkFits(dym, "dy");
        x.checkFits(dxm, "dx");
        try (Arena arena = Arena.ofConfined()) {
            Cudnn.check(cudnnConvolutionBackwardData(cudnn.handle(), floats(arena, 1f), w.handle(), wm.pointer(),
                    y.handle(), dym.pointer(), conv.handle(), bwdDataAlgo, ws(workspace, bwdDataBytes, "backward data"),
                    bwdDataBytes, floats(arena, 0f), x.handle(), dxm.pointer()), "cudnnConvolutionBackwardData");
        }
    }

    /** dw = conv backward filter (overwritten). */
    public void backwardFilter(Cudnn cudnn, DeviceMemory xm, DeviceMemory dym, DeviceMemory dwm, DeviceMemory workspace) {
        x.checkFits(xm, "x");
        y.checkFits(dym, "dy");
        checkFilter(dwm, "dw");
        try (Arena arena = Arena.ofConfined()) {
            Cudnn.check(cudnnConvolutionBackwardFilter(cudnn.handle(), floats(arena, 1f), x.handle(), xm.pointer(),
                    y.handle(), dym.pointer(), conv.handle(), bwdFilterAlgo,
                    ws(workspace, bwdFilterBytes, "backward filter"), bwdFilterBytes, floats(arena, 0f), w.handle(),
                    dwm.pointer()), "cudnnConvolutionBackwardFilter");
        }
    }

    private void checkFilter(DeviceMemory m, String name) {
        if (m.bytes() < w.elements() * Float.BYTES) {
            throw new IllegalArgumentException("convolution operand " + name + " needs " + w.elements() * Float.BYTES
                    + " bytes but its device block has " + m.bytes());
        }
    }

    private void closeDescriptors() {
        for (NativeResource d : new NativeResource[] {x, y, w, conv}) {
            if (!d.isClosed()) {
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
