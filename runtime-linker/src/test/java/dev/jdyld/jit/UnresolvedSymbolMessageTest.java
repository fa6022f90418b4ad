package dev.jdyld.jit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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

    /**
     * The child JVM: a host library opened with {@code RTLD_GLOBAL} by any earlier test would make
     * the C++ runtime's names resolvable, so the message is checked in a process of its own.
     */
    public static void main(String[] args) {
        JitLinker.Builder builder = JitLinker.builder();
        if (args.length > 1) {
            builder.hostLibrary(args[1]);
        }
        try (JitLinker linker = builder.build()) {
            linker.load(Path.of(args[0]));
            System.out.println("loaded");
        } catch (UnresolvedSymbolException e) {
            System.out.println(String.join(" ", e.symbols()));
            System.out.println(e.getMessage());
        }
    }

    private List<String> inChildJvm(String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                UnresolvedSymbolMessageTest.class.getName()));
        command.addAll(List.of(args));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(child.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(child.waitFor()).as(output).isZero();
        return output.lines().toList();
    }

    @Test
    void cxxNamesAreDemangledAndTheMissingRuntimeIsNamed() throws Exception {
        Path object = compileCxx();
        List<String> lines = inChildJvm(object.toString());
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0).split(" ")).contains("_ZN8geometry4areaEii", "_Znam");
        assertThat(lines.get(1))
                .contains("geometry::area(int, int) [_ZN8geometry4areaEii] (referenced by " + object + ")")
                .contains("operator new[](unsigned long) [_Znam]")
                .endsWith("; hint: C++ runtime symbols are defined in libstdc++.so.6, which was not given as a host library"
                        + " (hostLibrary(\"libstdc++.so.6\"), or --lib libstdc++.so.6 on the command line)");
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
    void withTheRuntimeGivenOnlyTheUserSymbolRemainsAndThereIsNoHint() throws Exception {
        Path object = compileCxx();
        assertThat(inChildJvm(object.toString(), "libstdc++.so.6")).containsExactly("_ZN8geometry4areaEii",
                "undefined symbol: geometry::area(int, int) [_ZN8geometry4areaEii] (referenced by " + object + ")");
    }
}
