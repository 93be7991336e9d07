package io.jdl.backend;

import io.jdl.device.Device;

/**
 * Supplies the backend of one kind of device. Implementations are found with {@link java.util.ServiceLoader}
 * (listed in {@code META-INF/services/io.jdl.backend.BackendProvider}), so that the layers above name no
 * concrete backend.
 */
public interface BackendProvider {

    /** The kind of device this provider computes on. */
    Device.Kind kind();

    /** The backend of device {@code index} of that kind; may throw when the device is unusable. */
    Backend backend(int index);
}
