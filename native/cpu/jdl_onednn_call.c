/*
 * jdl_onednn_call: runs one oneDNN primitive while some of its memory objects point at Java arrays.
 *
 * Why it exists: the CPU backend's tensors are Java float[] arrays. A critical downcall
 * (java.lang.foreign.Linker.Option.critical(true)) may pass such an array to C as a pointer, valid until the
 * call returns (no garbage collection can move it meanwhile). A oneDNN memory object, though, keeps its data
 * pointer from one call to the next, so pointing it at an array, running the primitive and taking the pointer
 * back must happen inside one native call: this one. Without it every convolution copies its inputs into
 * off-heap buffers and its result back out (io.jdl.cpunative.OneDnnConvolution).
 *
 * oneDNN's functions arrive as pointers, looked up by Java in the libdnnl it loaded, so this library links
 * against nothing (not even libc) and works with any oneDNN 2.x.
 *
 * Build: scripts/build-native-cpu (the built library is committed as a class-path resource).
 */
#include <stddef.h>

#include "jdl_onednn_call.h"

typedef int (*jdl_set_handle_fn)(void *memory, void *handle);          /* dnnl_memory_set_data_handle */
typedef int (*jdl_execute_fn)(void *primitive, void *stream, int nargs, const void *args); /* dnnl_primitive_execute */
typedef int (*jdl_wait_fn)(void *stream);                              /* dnnl_stream_wait */

#define JDL_PAIRS 4

int jdl_onednn_execute(void *set_handle_fn, void *execute_fn, void *wait_fn,
                       void *primitive, void *stream, int nargs, const void *args,
                       void *memory0, void *data0, void *memory1, void *data1,
                       void *memory2, void *data2, void *memory3, void *data3) {
    jdl_set_handle_fn set_handle = (jdl_set_handle_fn) set_handle_fn;
    jdl_execute_fn execute = (jdl_execute_fn) execute_fn;
    jdl_wait_fn wait = (jdl_wait_fn) wait_fn;
    void *memories[JDL_PAIRS] = {memory0, memory1, memory2, memory3};
    void *data[JDL_PAIRS] = {data0, data1, data2, data3};
    int status = 0;
    for (int i = 0; i < JDL_PAIRS && status == 0; i++) {
        if (memories[i] != NULL) {
            status = set_handle(memories[i], data[i]);
        }
    }
    if (status == 0) {
        status = execute(primitive, stream, nargs, args);
    }
    if (status == 0) {
        status = wait(stream);
    }
    for (int i = 0; i < JDL_PAIRS; i++) {
        if (memories[i] != NULL) {
            set_handle(memories[i], NULL);
        }
    }
    return status;
}
