package io.jdl.cuda;

/**
 * A CUDA runtime call returned an error, named by {@code cudaGetErrorName} and described by
 * {@code cudaGetErrorString}.
 */
public class CudaException extends NativeStatusException {
    public CudaException(String call, int status, String statusName, String description) {
        super(call, status, statusName, description);
    }
}
