package io.jdl.cuda;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Compares a loaded library's version with the one its bindings were generated from: another major
 * version is an error (the ABI may differ), another minor version a warning.
 */
public final class VersionCheck {
    private static final Logger LOG = LoggerFactory.getLogger(VersionCheck.class);

    private VersionCheck() {
    }

    public static void verify(String library, int major, int minor, int patch, int boundMajor, int boundMinor, int boundPatch) {
        String found = major + "." + minor + "." + patch;
        String bound = boundMajor + "." + boundMinor + "." + boundPatch;
        if (major != boundMajor) {
            throw new NativeLibraryException(library + " " + found + " was loaded, but the bindings were generated from "
                    + bound + ": major versions differ. Install " + library + " " + boundMajor + ".x or regenerate the "
                    + "bindings (scripts/generate-bindings).");
        }
        if (minor != boundMinor) {
            LOG.warn("{} {} loaded; bindings generated from {} (minor versions differ)", library, found, bound);
        } else {
            LOG.info("{} {} loaded (bindings from {})", library, found, bound);
        }
    }
}
