package io.jdl.cpunative;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Where the CPU libraries are looked for, and what a missing one says. */
class CpuNativeLibrariesTest {
    @Test
    void aMissingLibraryNamesEveryPlaceSearchedAndHowToInstallIt() {
        CpuNativeLibraryException e = assertThrows(CpuNativeLibraryException.class,
                () -> CpuNativeLibraries.locate("Nothing", "libjdl-no-such-library.so.7", "apt-get install nothing"));
        String m = e.getMessage();
        assertTrue(m.startsWith("Nothing (libjdl-no-such-library.so.7) was not found. Searched, in order:"), m);
        for (Path dir : CpuNativeLibraries.searchDirectories()) {
            assertTrue(m.contains("\n  " + dir + "\n"), dir + " missing from: " + m);
        }
        assertTrue(m.contains("ldconfig -p") && m.contains("apt-get install nothing") && m.contains("JDL_CPU_LIBRARY_PATH"), m);
    }

    @Test
    void theStandardDirectoriesAreSearchedAfterTheConfiguredOnes() {
        String before = System.getProperty("jdl.cpu.library.path");
        System.setProperty("jdl.cpu.library.path", "/opt/first:/opt/second");
        try {
            var dirs = CpuNativeLibraries.searchDirectories();
            assertTrue(dirs.indexOf(Path.of("/opt/first")) == 0 && dirs.indexOf(Path.of("/opt/second")) == 1, dirs.toString());
            assertTrue(dirs.indexOf(Path.of("/usr/lib")) > 1, dirs.toString());
        } finally {
            if (before == null) {
                System.clearProperty("jdl.cpu.library.path");
            } else {
                System.setProperty("jdl.cpu.library.path", before);
            }
        }
    }
}
