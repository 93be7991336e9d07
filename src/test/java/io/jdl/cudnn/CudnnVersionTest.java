package io.jdl.cudnn;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.cuda.NativeLibraryException;
import org.junit.jupiter.api.Test;

/** cuDNN built for another CUDA major version than the loaded runtime is refused when it loads. */
class CudnnVersionTest {

    @Test
    void cudnnForAnotherCudaMajorVersionIsRefused() {
        NativeLibraryException e = assertThrows(NativeLibraryException.class, () -> Cudnn.checkCudartMatch(12080, 13000));
        assertTrue(e.getMessage().contains("CUDA 12.8") && e.getMessage().contains("13.0")
                && e.getMessage().contains("nvidia-cudnn-cu13"), e.getMessage());
    }

    @Test
    void cudnnForTheSameMajorVersionIsAccepted() {
        assertDoesNotThrow(() -> Cudnn.checkCudartMatch(13000, 13000));
        assertDoesNotThrow(() -> Cudnn.checkCudartMatch(13020, 13000));
    }
}
