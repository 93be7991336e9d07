package io.jdl.cudnn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.bindings.cudnn.cudnn_h;
import io.jdl.cuda.NativeLibraries;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** cuDNN failures become exceptions named by the real library (no GPU needed). */
class CudnnStatusTest {
    @Test
    void statusIsNamedByCudnn() {
        Assumptions.assumeTrue(NativeLibraries.isAvailable(NativeLibraries.Library.CUDNN), "cuDNN not found");
        Cudnn.ensureLoaded();
        int bad = cudnn_h.CUDNN_STATUS_BAD_PARAM();
        CudnnException e = assertThrows(CudnnException.class, () -> Cudnn.check(bad, "cudnnSetTensorNdDescriptor"));
        assertEquals("CUDNN_STATUS_BAD_PARAM", e.statusName());
        assertTrue(e.getMessage().startsWith("cudnnSetTensorNdDescriptor failed: CUDNN_STATUS_BAD_PARAM (" + bad + "): "),
                e.getMessage());
    }
}
