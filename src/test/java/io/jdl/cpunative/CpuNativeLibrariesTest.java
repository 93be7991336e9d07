package io.jdl.cpunative;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Where the CPU libraries are looked for, and what a missing one says. */
class CpuNativeLibrariesTest {
    /** Runs body with the two search properties set as given (null: cleared), then restores them. */
    private static void withSearch(String path, String search, Runnable body) {
        String oldPath = System.getProperty("jdl.cpu.library.path"), oldSearch = System.getProperty("jdl.cpu.library.search");
        restore("jdl.cpu.library.path", path);
        restore("jdl.cpu.library.search", search);
        try {
            body.run();
        } finally {
            restore("jdl.cpu.library.path", oldPath);
            restore("jdl.cpu.library.search", oldSearch);
        }
    }

    @Test
    void aMissingLibraryNamesEveryPlaceSearchedAndHowToInstallIt() {
        withSearch(null, null, CpuNativeLibrariesTest::missingLibraryMessage);
    }

    private static void missingLibraryMessage() {
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
    void explicitOnlySearchesOnlyTheConfiguredFoldersAndAnyOtherWordIsNamed() {
        withSearch("/opt/only", "explicit-only", () -> {
            assertTrue(CpuNativeLibraries.searchDirectories().equals(java.util.List.of(Path.of("/opt/only"))),
                    CpuNativeLibraries.searchDirectories().toString());
            assertTrue(!CpuNativeLibraries.isAvailable(CpuNativeLibraries.Library.ONEDNN));
            CpuNativeLibraryException e = assertThrows(CpuNativeLibraryException.class,
                    () -> CpuNativeLibraries.locate("oneDNN", "libdnnl.so.2", "apt-get install libdnnl2"));
            assertTrue(e.getMessage().contains("explicit-only") && !e.getMessage().contains("ldconfig"), e.getMessage());
            System.setProperty("jdl.cpu.library.search", "sometimes");
            e = assertThrows(CpuNativeLibraryException.class, CpuNativeLibraries::searchDirectories);
            assertTrue(e.getMessage().contains("'sometimes'"), e.getMessage());
        });
    }

    private static void restore(String key, String value) {
        if (value == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, value);
        }
    }

    @Test
    void theStandardDirectoriesAreSearchedAfterTheConfiguredOnes() {
        withSearch("/opt/first:/opt/second", null, () -> {
            var dirs = CpuNativeLibraries.searchDirectories();
            assertTrue(dirs.indexOf(Path.of("/opt/first")) == 0 && dirs.indexOf(Path.of("/opt/second")) == 1, dirs.toString());
            assertTrue(dirs.indexOf(Path.of("/usr/lib")) > 1, dirs.toString());
        });
    }
}
