package io.jdl.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The probe's reason tells a machine without an NVIDIA driver apart from one whose driver is too old
 * (issue #12, item 13): the runtime says "insufficient driver" for both.
 */
class GpuProbeReasonTest {
    private static final String CALL = "cudaGetDeviceCount returned cudaErrorInsufficientDriver (35): "
            + "CUDA driver version is insufficient for CUDA runtime version";

    @Test
    void noDriverIsNotCalledAnOldDriver() {
        String reason = CudaDevice.whyNoDevice(CALL, 0, 13000, false);
        assertTrue(reason.startsWith("no NVIDIA driver found"), reason);
        assertTrue(reason.contains("no /dev/nvidia*"), reason);
        assertFalse(reason.contains("install a driver"), reason);
        assertTrue(reason.endsWith(CALL), "the runtime's own status stays in the message: " + reason);
    }

    @Test
    void anOldDriverIsToldWhichCudaItNeeds() {
        String reason = CudaDevice.whyNoDevice(CALL, 12040, 13000, true);
        assertTrue(reason.startsWith("the NVIDIA driver supports CUDA up to 12.4 but jdl uses the CUDA 13.0 runtime:"
                + " install a driver for CUDA 13 or newer"), reason);
    }

    @Test
    void otherFailuresKeepTheRuntimesWords() {
        String call = "cudaGetDeviceCount returned cudaErrorNoDevice (100): no CUDA-capable device is detected";
        assertEquals(call, CudaDevice.whyNoDevice(call, 13000, 13000, true));
    }

    @Test
    void theProbeAnswersOnThisMachineWithoutThrowing() {
        if (CudaDevice.isAvailable()) {
            assertTrue(CudaDevice.count() > 0);
            return;
        }
        String reason = CudaDevice.unavailableReason();
        assertFalse(reason == null || reason.isBlank());
        assertEquals(reason, CudaDevice.unavailableReason(), "asked twice, the same answer");
    }
}
