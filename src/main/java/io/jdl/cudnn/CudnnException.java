package io.jdl.cudnn;

import io.jdl.cuda.NativeStatusException;

/**
 * A cuDNN call failed: the status as {@code cudnnGetErrorString} names it, and cuDNN's own account of
 * what went wrong ({@code cudnnGetLastErrorString}).
 */
public class CudnnException extends NativeStatusException {
    public CudnnException(String call, int status, String statusName, String description) {
        super(call, status, statusName, description);
    }
}
