package io.jdl.models;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.device.Device;
import io.jdl.tensor.CudaGraphStep;
import io.jdl.tensor.Shape;
import io.jdl.tensor.Tensor;
import org.junit.jupiter.api.Test;

class CudaGraphStepTest {
    @Test
    void captureOnTheCpuThrowsNamingTheDevice() {
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> CudaGraphStep.capture(Device.CPU, () -> Tensor.zeros(Shape.of(1), Device.CPU)));
        assertTrue(e.getMessage().contains("CUDA graph capture needs a CUDA device, got cpu"), e.getMessage());
        assertTrue(!CudaGraphStep.isCapturing());
    }
}
