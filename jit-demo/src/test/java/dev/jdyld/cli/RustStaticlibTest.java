package dev.jdyld.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jdyld.cli.NativeToolchain.Objects;
import dev.jdyld.cli.NativeToolchain.Result;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A Rust {@code staticlib} using {@code std} (collections, {@code format!}, a panic caught with
 * {@code catch_unwind}, threads, Rust's stdout) called from a C {@code main}: {@code jdyld run
 * main.o libstats.a}, with no {@code --lib}, must print the same stdout and exit with the same code
 * as gcc's link with the native libraries rustc names. That is what the gcc driver's defaults
 * (libc, libm, libgcc_s) give a Rust library: its unwinder calls need libgcc_s.
 *
 * <p>rustc is required, not optional: {@code .ci/run} installs it. Without it the tests fail.
 */
class RustStaticlibTest {

    static final String PROGRAM = "rust-staticlib";
    static final String RUST_SOURCE = "stats.rs";
    static final String ARCHIVE = "libstats.a";
    /** Both runs see the same setting: the panic hook walks the stack (_Unwind_Backtrace) too. */
    static final Map<String, String> ENV = Map.of("RUST_BACKTRACE", "1");

    private static Path workRoot;
    private static Path archive;
    /** The native libraries rustc says a program linking the staticlib needs ({@code -lgcc_s ...}). */
    private static List<String> nativeLibs;

    @BeforeAll
    static void buildRustLibrary() {
        workRoot = NativeToolchain.newWorkDir("jdyld-rusttest");
        Path rustDir = workRoot.resolve("rust");
        Path source = copyFixture(rustDir).resolve(RUST_SOURCE);
        archive = rustDir.resolve(ARCHIVE);
        Result r = NativeToolchain.run(List.of(rustc(), "--crate-type=staticlib", "-C", "panic=unwind", "-O",
                "--edition", "2021", "--print", "native-static-libs", "-o", archive.toString(), source.toString()),
                rustDir, NativeToolchain.NATIVE_TIMEOUT);
        if (r.timedOut() || r.exitCode() != 0) {
            throw new IllegalStateException("rustc failed\n" + r.describe());
        }
        nativeLibs = nativeStaticLibs(r);
    }

    @AfterAll
    static void deleteWorkRoot() {
        NativeToolchain.deleteRecursively(workRoot);
    }

    /** rustc on the PATH, else rustup's in $HOME/.cargo/bin (as .ci/run looks); an error when neither exists. */
    static String rustc() {
        if (NativeToolchain.onPath("rustc")) {
            return "rustc";
        }
        String home = System.getenv("HOME");
        Path rustup = Path.of(home != null ? home : System.getProperty("user.home"), ".cargo", "bin", "rustc");
        if (Files.isExecutable(rustup)) {
            return rustup.toString();
        }
        throw new IllegalStateException("rustc is needed for the Rust staticlib tests but is neither on the PATH nor at "
                + rustup + "; install it (.ci/run installs Debian's rustc package, or use rustup)");
    }

    /** The {@code -l} flags of rustc's {@code note: native-static-libs: ...} line, without the {@code -l}. */
    private static List<String> nativeStaticLibs(Result rustcRun) {
        String marker = "native-static-libs:";
        String line = (rustcRun.stdout() + "\n" + rustcRun.stderr()).lines()
                .filter(l -> l.contains(marker)).findFirst()
                .orElseThrow(() -> new IllegalStateException("rustc printed no native-static-libs line\n"
                        + rustcRun.describe()));
        List<String> libs = new ArrayList<>();
        for (String flag : line.substring(line.indexOf(marker) + marker.length()).trim().split("\\s+")) {
            if (!flag.startsWith("-l")) {
                throw new IllegalStateException("unexpected native-static-libs flag " + flag + " in: " + line);
            }
            libs.add(flag.substring(2));
        }
        assertThat(libs).as("rustc's native libraries for a std staticlib").contains("gcc_s");
        return libs;
    }

    private static Path copyFixture(Path dir) {
        try {
            Files.createDirectories(dir);
            try (Stream<Path> files = Files.list(TestPrograms.resourceDir("programs/" + PROGRAM))) {
                for (Path f : files.toList()) {
                    Files.copy(f, dir.resolve(f.getFileName().toString()));
                }
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** C flags for main.c (the staticlib is always rustc's PIC code) and jdyld options. */
    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of("-O2", List.of()),
                Arguments.of("-O0 -fno-pic", List.of()),
                Arguments.of("-O2 -fPIC", List.of("--dual-mapping")));
    }

    @ParameterizedTest(name = "main.c {0} {1}")
    @MethodSource("cases")
    void jdyldRunWithoutLibMatchesNativeRun(String cFlags, List<String> jdyldOptions) {
        Path dir = workRoot.resolve(("c" + cFlags + jdyldOptions).replaceAll("[^A-Za-z0-9-]", "_"));
        Path mainC = copyFixture(dir).resolve("main.c");
        Objects main = NativeToolchain.compile(List.of(mainC), dir, Arrays.asList(cFlags.split(" ")));

        // gcc main.o libstats.a -lgcc_s -lutil ... : the archive goes with the objects, before the libraries.
        List<Path> linked = new ArrayList<>(main.files());
        linked.add(archive);
        Path exe = NativeToolchain.link(new Objects(linked, main.flags()), dir.resolve("stats.native"), nativeLibs);
        Result expected = NativeToolchain.run(List.of(exe.toString()), dir, NativeToolchain.NATIVE_TIMEOUT, ENV);
        assertThat(expected.timedOut()).as("native run timed out:\n%s", expected.describe()).isFalse();
        assertThat(expected.stdout()).as("native run:\n%s", expected.describe())
                .contains("caught panic: division of 7 by zero", "hello from Rust, C\ndone\n");
        assertThat(expected.exitCode()).as("native run:\n%s", expected.describe()).isEqualTo(3);

        Result actual = NativeToolchain.runJdyld(jdyldOptions, List.of(main.files().get(0), archive), List.of(), dir, ENV);
        String context = ("jdyld run (no --lib) of C main (%s) + Rust staticlib %s differs from the native run\n%s"
                + "\nnative exit code: %d\n(run with -D%s=DIR to keep the objects)")
                .formatted(cFlags, jdyldOptions, actual.describe(), expected.exitCode(), NativeToolchain.WORKDIR_PROPERTY);
        assertThat(actual.timedOut()).as(() -> context).isFalse();
        assertThat(NativeToolchain.crashReports(dir)).as(() -> context).isEmpty();
        assertThat(actual.stdout()).as(() -> context).isEqualTo(expected.stdout());
        assertThat(actual.exitCode()).as(() -> context).isEqualTo(expected.exitCode());
        // The default panic hook ran in the loaded code and wrote to stderr (not compared: pids differ).
        assertThat(actual.stderr()).as(() -> context).contains("panicked at", "division of 7 by zero");
    }
}
