package dev.jdyld.jit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/** Unresolved C++ names are reported demangled, with a hint when the library that defines them was not given. */
class UnresolvedSymbolMessageTest {
    @TempDir
    Path dir;

    private Path compileCxx() {
        Path source = dir.resolve("uses.cpp");
        Toolchain.write(source, """
                namespace geometry { int area(int width, int height); }
                int* make(int n) { int* p = new int[n]; p[0] = geometry::area(n, 2); return p; }
                void drop(int* p) { delete p; }
                """);
        Path object = dir.resolve("uses.o");
        Toolchain.run(List.of("g++", "-c", "-O2", "-fPIC", source.toString(), "-o", object.toString()));
        return object;
    }

    @Test
    void cxxNamesAreDemangledAndTheMissingRuntimeIsNamed() {
        Path object = compileCxx();
        try (JitLinker linker = JitLinker.create()) {
            UnresolvedSymbolException e = catchThrowableOfType(UnresolvedSymbolException.class, () -> linker.load(object));
            assertThat(e.symbols()).contains("_ZN8geometry4areaEii", "_Znam");
            assertThat(e.getMessage())
                    .contains("geometry::area(int, int) [_ZN8geometry4areaEii] (referenced by " + object + ")")
                    .contains("operator new[](unsigned long) [_Znam]")
                    .contains("hint: C++ runtime symbols are defined in libstdc++.so.6, which was not given as a host library"
                            + " (hostLibrary(\"libstdc++.so.6\"), or --lib libstdc++.so.6 on the command line)")
                    .doesNotContain("\n");
        }
    }

    @Test
    void aUsersOwnCxxFunctionGetsNoHint() {
        Path source = dir.resolve("own.cpp");
        Toolchain.write(source, "namespace ns { int f(int); }\nint g() { return ns::f(1); }\n");
        Path object = dir.resolve("own.o");
        Toolchain.run(List.of("g++", "-c", source.toString(), "-o", object.toString()));
        try (JitLinker linker = JitLinker.create()) {
            assertThatThrownBy(() -> linker.load(object)).isInstanceOf(UnresolvedSymbolException.class)
                    .hasMessage("undefined symbol: ns::f(int) [_ZN2ns1fEi] (referenced by " + object + ")");
        }
    }

    @Test
    void withTheRuntimeGivenOnlyTheUserSymbolRemainsAndThereIsNoHint() {
        Path object = compileCxx();
        try (JitLinker linker = JitLinker.builder().hostLibrary("libstdc++.so.6").build()) {
            assertThatThrownBy(() -> linker.load(object)).isInstanceOf(UnresolvedSymbolException.class)
                    .hasMessage("undefined symbol: geometry::area(int, int) [_ZN8geometry4areaEii] (referenced by "
                            + object + ")");
        }
    }
}
