package io.jdl.io;

import io.jdl.cuda.Gpu;
import io.jdl.device.Device;
import java.io.IOException;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** PyTorch's safetensors of every dtype up to a CUDA device and back, bit for bit (see {@link TensorArraysTest}). */
@Tag("gpu")
class TensorArraysGpuTest {
    @Test
    void everyPyTorchTensorLoadsBitForBitOnTheGpu() throws IOException {
        Gpu.assumeAvailable();
        TensorArraysTest.everyPyTorchTensorLoadsBitForBit(Device.cuda(0));
    }
}
