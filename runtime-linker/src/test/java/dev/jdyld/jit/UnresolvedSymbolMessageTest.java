package dev.jdyld.jit;

import dev.jdyld.core.UnresolvedSymbolException;
import dev.jdyld.runtime.HostSymbols;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Unresolved C++ names are reported demangled, with a hint when the library that defines them was not given. */
class UnresolvedSymbolMessageTest {
    private static final String CXX_RUNTIME_HINT = "hint: C++ runtime symbols are defined in libstdc++.so.6, which was not"
            + " given as a host library (hostLibrary(\"libstdc++.so.6\"), or --lib libstdc++.so.6 on the command line)";

    @TempDir
    Path dir;

    /** References a function of the user's own ({@code geometry::area}) and three of libstdc++'s. */
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
     * the C++ runtime's names resolvable, so the message is checked in a process of its own. It
     * loads the object twice, each time with a new linker, and prints the names and the message of
     * each failure: building the first message must not change what the second load resolves.
     */
    public static void main(String[] args) {
        for (int attempt = 0; attempt < 2; attempt++) {
            JitLinkerBuilder builder = JitLinker.builder();
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
    }

    private List<String> inChildJvm(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
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
        String referenced = " (referenced by " + object + ")";
        List<String> expected = List.of("_Znam _ZN8geometry4areaEii __cxa_throw_bad_array_new_length _ZdlPvm",
                "undefined symbols: " + CXX_RUNTIME_HINT + "; operator new[](unsigned long) [_Znam]" + referenced
                        + ", geometry::area(int, int) [_ZN8geometry4areaEii]" + referenced
                        + ", __cxa_throw_bad_array_new_length" + referenced
                        + ", operator delete(void*, unsigned long) [_ZdlPvm]" + referenced);
        // Twice the same: demangling for the first message must not have opened libstdc++ for the process.
        assertThat(inChildJvm(object.toString())).containsExactlyElementsOf(concat(expected, expected));
    }

    @Test
    void withTheRuntimeGivenOnlyTheUserSymbolRemainsAndThereIsNoHint() throws Exception {
        Path object = compileCxx();
        List<String> expected = List.of("_ZN8geometry4areaEii",
                "undefined symbol: geometry::area(int, int) [_ZN8geometry4areaEii] (referenced by " + object + ")");
        assertThat(inChildJvm(object.toString(), "libstdc++.so.6")).containsExactlyElementsOf(concat(expected, expected));
    }

    @Test
    void aUsersOwnCxxFunctionGetsNoHint() {
        Path source = dir.resolve("own.cpp");
        Toolchain.write(source, "namespace ns { int f(int); }\nint g() { return ns::f(1); }\n");
        Path object = dir.resolve("own.o");
        Toolchain.run(List.of("g++", "-c", source.toString(), "-o", object.toString()));
        try (JitLinker linker = JitLinker.create()) {
            assertThatThrownBy(() -> linker.load(object)).isInstanceOf(UnresolvedSymbolException.class)
                    .hasMessage("undefined symbol: ns::f(int) [_ZN2ns1fEi] (referenced by " + object + ")")
                    .extracting(e -> ((UnresolvedSymbolException) e).symbols()).isEqualTo(List.of("_ZN2ns1fEi"));
        }
    }

    @Test
    void streamOperatorsOfTheCxxRuntimeGetTheHint() {
        // std::ostream::operator<<(int): the standard's abbreviation So, not a spelled-out std:: prefix.
        assertThat(new HostSymbols("x86_64-linux-gnu").missingLibraryHint(List.of("_ZNSolsEi"))).isEqualTo(
                CXX_RUNTIME_HINT.substring("hint: ".length()));
        assertThat(new HostSymbols("x86_64-linux-gnu").missingLibraryHint(List.of("_ZTIi"))).isEqualTo(
                CXX_RUNTIME_HINT.substring("hint: ".length()));
    }

    @Test
    void fortranMathAndUnwinderNamesGetTheirLibrariesHint() {
        HostSymbols host = new HostSymbols("x86_64-linux-gnu");
        assertThat(host.missingLibraryHint(List.of("_gfortran_st_write", "cos", "_Unwind_Resume"))).isEqualTo(
                "Fortran runtime symbols are defined in libgfortran.so.5, which was not given as a host library"
                        + " (hostLibrary(\"libgfortran.so.5\"), or --lib libgfortran.so.5 on the command line); "
                        + "math functions are defined in libm.so.6, which was not given as a host library"
                        + " (hostLibrary(\"libm.so.6\"), or --lib libm.so.6 on the command line); "
                        + "unwinder symbols are defined in libgcc_s.so.1, which was not given as a host library"
                        + " (hostLibrary(\"libgcc_s.so.1\"), or --lib libgcc_s.so.1 on the command line)");
    }

    @Test
    void noHintForALibraryAlreadyGivenNorForNamesNoLibraryIsKnownFor() {
        HostSymbols host = new HostSymbols("x86_64-linux-gnu");
        assertThat(host.missingLibraryHint(List.of("my_function", "_ZN2ns1fEi"))).isNull();
        host.addLibrary("m"); // libm is loaded in every JVM already: opening it changes nothing for other tests
        assertThat(host.missingLibraryHint(List.of("sin"))).isNull();
    }

    private static List<String> concat(List<String> first, List<String> second) {
        List<String> both = new ArrayList<>(first);
        both.addAll(second);
        return both;
    }
}
