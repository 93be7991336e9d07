package io.jdl.cublas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jdl.bindings.cublas.cublas_v2_h;
import io.jdl.cuda.NativeLibraries;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** cuBLAS failures become exceptions named by the real library (no GPU needed). */
class CublasStatusTest {
    @Test
    void statusIsNamedByCublas() {
        Assumptions.assumeTrue(NativeLibraries.isAvailable(NativeLibraries.Library.CUBLAS), "cuBLAS not found");
        Cublas.ensureLoaded();
        int invalid = cublas_v2_h.CUBLAS_STATUS_INVALID_VALUE();
        CublasException e = assertThrows(CublasException.class, () -> Cublas.check(invalid, "cublasSgemm"));
        assertEquals("CUBLAS_STATUS_INVALID_VALUE", e.statusName());
        assertEquals(invalid, e.status());
        assertTrue(e.getMessage().startsWith("cublasSgemm failed: CUBLAS_STATUS_INVALID_VALUE (7): "), e.getMessage());
        Cublas.check(cublas_v2_h.CUBLAS_STATUS_SUCCESS(), "success is no error");
    }
}
