package io.jdl.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jdl.device.Device;
import io.jdl.backend.cuda.CudaBackend;
import io.jdl.cuda.CudaDevice;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Batches built on a CUDA device equal the CPU batches bit for bit, and closing them frees their memory. */
@Tag("gpu")
class DataLoaderGpuTest {
    @Test
    void cudaBatchesEqualCpuBatchesAndAreFreed() {
        Assumptions.assumeTrue(CudaDevice.isAvailable(), () -> "no CUDA device: " + CudaDevice.unavailableReason());
        Dataset d = DataLoaderTest.dataset(301);
        DataLoader.Builder b = DataLoader.builder(d).batchSize(32).shuffle(true).seed(5).normalize(0.3f, 0.4f)
                .augmentation(Augmentation.flipAndShift(1));
        DataLoader cpu = b.device(Device.CPU).build();
        DataLoader gpu = b.device(Device.cuda(0)).build();
        long before = CudaBackend.get(0).allocator().allocatedBytes();
        DataLoaderTest.Seen c = DataLoaderTest.run(cpu, 1);
        DataLoaderTest.Seen g = DataLoaderTest.run(gpu, 1);
        assertEquals(c.values().size(), g.values().size());
        for (int i = 0; i < c.values().size(); i++) {
            assertArrayEquals(c.indices().get(i), g.indices().get(i));
            assertArrayEquals(c.values().get(i), g.values().get(i));
            assertArrayEquals(c.shapes().get(i), g.shapes().get(i));
        }
        assertEquals(before, CudaBackend.get(0).allocator().allocatedBytes(), "closed batches hold no device memory");
    }
}
