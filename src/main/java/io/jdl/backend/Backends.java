package io.jdl.backend;

import io.jdl.device.Device;
import java.util.EnumMap;
import java.util.Map;
import java.util.ServiceLoader;

/** Finds the backend of a device among the {@link BackendProvider}s on the class path. */
public final class Backends {
    private static final Map<Device.Kind, BackendProvider> PROVIDERS = load();

    private Backends() {
    }

    private static Map<Device.Kind, BackendProvider> load() {
        Map<Device.Kind, BackendProvider> map = new EnumMap<>(Device.Kind.class);
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader())) {
            map.putIfAbsent(p.kind(), p);
        }
        return map;
    }

    /** The backend computing on {@code device}; for CUDA it throws when no usable GPU exists. */
    public static Backend of(Device device) {
        BackendProvider p = PROVIDERS.get(device.kind());
        if (p == null) {
            throw new IllegalStateException("no backend for " + device + " on the class path (providers found: "
                    + PROVIDERS.keySet() + ")");
        }
        return p.backend(device.index());
    }
}
