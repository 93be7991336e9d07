package io.jdl.backend.cuda;

import io.jdl.backend.Backend;
import io.jdl.backend.BackendProvider;
import io.jdl.device.Device;

/** Registers {@link CudaBackend} with {@link io.jdl.backend.Backends}. */
public final class CudaBackendProvider implements BackendProvider {

    @Override
    public Device.Kind kind() {
        return Device.Kind.CUDA;
    }

    @Override
    public Backend backend(int index) {
        return CudaBackend.get(index);
    }
}
