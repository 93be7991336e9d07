package io.jdl.cuda;

/** No usable CUDA device or driver: the work asked for the GPU where there is none. */
public class CudaUnavailableException extends RuntimeException {
    public CudaUnavailableException(String message) {
        super(message);
    }
}
