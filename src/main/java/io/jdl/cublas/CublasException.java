package io.jdl.cublas;

import io.jdl.cuda.NativeStatusException;

/** A cuBLAS call failed; named by {@code cublasGetStatusName}, described by {@code cublasGetStatusString}. */
public class CublasException extends NativeStatusException {
    public CublasException(String call, int status, String statusName, String description) {
        super(call, status, statusName, description);
    }
}
