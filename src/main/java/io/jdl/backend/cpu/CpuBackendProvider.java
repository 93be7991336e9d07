package io.jdl.backend.cpu;

import io.jdl.backend.Backend;
import io.jdl.backend.BackendProvider;
import io.jdl.device.Device;

/** Registers {@link CpuBackend} with {@link io.jdl.backend.Backends}. */
public final class CpuBackendProvider implements BackendProvider {

    @Override
    public Device.Kind kind() {
        return Device.Kind.CPU;
    }

    @Override
    public Backend backend(int index) {
        return CpuBackend.INSTANCE;
    }
}
