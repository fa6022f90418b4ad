package dev.jdyld.jit;

import dev.jdyld.core.ObjectFile;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.FunctionDescriptor;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * What the JIT-API tests share: a linker per test that must leave nothing behind when closed, and
 * C fixtures compiled at test time ({@code -O2 -fPIC}) as in-memory objects.
 */
abstract class JitApiTestBase {
    static final FunctionDescriptor INT_INT = FunctionDescriptor.of(JAVA_INT, JAVA_INT);

    @TempDir
    Path dir;

    final JitLinker linker = JitLinker.create();

    @AfterEach
    void closeLinkerAndCheckNothingIsLeft() {
        linker.close();
        LoaderTest.assertNothingLeftBehind(linker);
    }

    ObjectFile compile(String name, String source) {
        return ObjectFile.read(Toolchain.compile(dir, name, source, "-O2", "-fPIC"));
    }
}
