/* The one function of libjdl_onednn_call (see jdl_onednn_call.c); jextract makes io.jdl.bindings.jdlcpu from this. */
#ifndef JDL_ONEDNN_CALL_H
#define JDL_ONEDNN_CALL_H

/*
 * Points memory_i at data_i (pairs with a NULL memory are skipped), executes primitive on stream with the
 * nargs dnnl_exec_arg_t in args, waits for the stream, then points every memory_i at NULL again, so that no
 * pointer into the Java heap outlives the call. set_handle, execute and wait are oneDNN's
 * dnnl_memory_set_data_handle, dnnl_primitive_execute and dnnl_stream_wait. Returns the first non-zero
 * dnnl_status_t, or 0.
 */
int jdl_onednn_execute(void *set_handle, void *execute, void *wait,
                       void *primitive, void *stream, int nargs, const void *args,
                       void *memory0, void *data0, void *memory1, void *data1,
                       void *memory2, void *data2, void *memory3, void *data3);

#endif
