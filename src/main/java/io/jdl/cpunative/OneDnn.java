package io.jdl.cpunative;

import io.jdl.bindings.dnnl.dnnl_h;

/** oneDNN's status codes as exceptions. */
public final class OneDnn {
    private OneDnn() {
    }

    /** Throws {@link OneDnnException} naming {@code call} and the status when {@code status} is not success. */
    static void check(int status, String call) {
        if (status != dnnl_h.dnnl_success()) {
            throw new OneDnnException(call + " failed: " + statusName(status) + " (" + status + ")");
        }
    }

    static String statusName(int status) {
        return switch (status) {
            case 1 -> "dnnl_out_of_memory";
            case 2 -> "dnnl_invalid_arguments";
            case 3 -> "dnnl_unimplemented";
            case 4 -> "dnnl_iterator_ends";
            case 5 -> "dnnl_runtime_error";
            case 6 -> "dnnl_not_required";
            default -> "unknown status";
        };
    }
}
