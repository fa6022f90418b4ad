package dev.jdyld.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jdyld.cli.NativeToolchain.Objects;
import dev.jdyld.cli.NativeToolchain.Result;
import dev.jdyld.cli.TestPrograms.Program;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The differential suite for AArch64: the test programs compiled by {@code aarch64-linux-gnu-gcc}
 * (and clang for AArch64) at -O0 to -O2, PIE, PIC and non-PIC, and the tiny, small and large code
 * models, must print the same stdout and exit with the same code under
 * {@code jdyld run --target aarch64} (linked in the JVM, run by the AArch64 executor under
 * qemu-user) as when linked natively by the cross toolchain and run under
 * {@code qemu-aarch64 -L /usr/aarch64-linux-gnu}. {@code .ci/run} installs the cross toolchain and
 * qemu, and unpacks Debian's arm64 zlib and SQLite archives into the sysroot
 * ({@code .ci/arm64-archives}). Two cases run at once (each is mostly processes).
 */
@EnabledIf("toolchainInstalled")
@org.junit.jupiter.api.parallel.Execution(org.junit.jupiter.api.parallel.ExecutionMode.CONCURRENT)
class Aarch64DifferentialTest {
    static final Path SYSROOT = Path.of("/usr/aarch64-linux-gnu");
    static final String CC = "aarch64-linux-gnu-gcc";
    /** The driver of the native link: it adds libstdc++ for the C++ programs, as g++ does. */
    static final String LINKER = "aarch64-linux-gnu-g++";
    /** A flags string starting with this is compiled by clang for AArch64 instead of gcc. */
    static final String CLANG_PREFIX = "clang: ";
    static final String CLANG = "clang-14";
    static final List<String> CLANG_TARGET = List.of("--target=aarch64-linux-gnu", "--sysroot=" + SYSROOT);

    /** Every flag set the C programs are compiled with: gcc's default (PIE), PIC, non-PIC and the code models. */
    static final List<List<String>> MODES = List.of(List.of("-O0", ""), List.of("-O3", "-fPIC"),
            List.of("-O2", "-fno-pic"), List.of("-O1", "-mcmodel=tiny"), List.of("-O2", "-mcmodel=large -fno-pic"));
    /** TLS: local exec (PIE, non-PIC), initial exec, descriptors (gcc's default for PIC), traditional and local dynamic. */
    static final List<String> TLS_MODES = List.of("", "-fno-pic", "-fPIC", "-fPIC -ftls-model=initial-exec",
            "-fPIC -mtls-dialect=trad", "-fPIC -ftls-model=local-dynamic", "-mcmodel=tiny -fPIC");

    /** An IFUNC resolver that chooses by the hardware capabilities it is passed, as glibc passes them on AArch64. */
    static final Program IFUNC_HWCAP = new Program("ifunc-hwcap", List.of(), List.of(), List.of(), false);

    record Build(Path dir, Objects objects, Result nativeResult) {}

    private static Path workRoot;
    private static final Map<String, Build> BUILDS = new ConcurrentHashMap<>();

    static boolean toolchainInstalled() {
        return NativeToolchain.onPath(CC) && NativeToolchain.onPath(LINKER) && NativeToolchain.onPath("qemu-aarch64");
    }

    @BeforeAll
    static void createWorkRoot() {
        workRoot = NativeToolchain.newWorkDir("jdyld-aarch64-difftest");
    }

    @AfterAll
    static void deleteWorkRoot() {
        NativeToolchain.deleteRecursively(workRoot);
    }

    /** Programs whose threads contend (8 threads on one mutex) run for minutes under qemu: left to the x86-64 suite. */
    private static boolean runsWellUnderQemu(Program program) {
        return !program.name().equals("pthreads-mutex");
    }

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (Program program : TestPrograms.ALL) {
            if (runsWellUnderQemu(program)) {
                for (List<String> mode : MODES) {
                    // (aligned-bss has megabytes of .bss: the tiny model's ±1 MiB cannot reach across, natively either)
                    if (!(program.name().equals("aligned-bss") && mode.get(1).contains("tiny"))) {
                        cases.add(Arguments.of(program, mode.get(0), mode.get(1)));
                    }
                }
            }
        }
        for (String pic : TLS_MODES) {
            cases.add(Arguments.of(TestPrograms.TLS_THREADS, "-O2", pic));
        }
        cases.add(Arguments.of(TestPrograms.TLS_THREADS, "-O0", "-fPIC"));
        for (String pic : List.of("", "-fPIC")) {
            cases.add(Arguments.of(TestPrograms.HOST_DATA, "-O2", pic));
            cases.add(Arguments.of(TestPrograms.NESTED_FUNCTIONS, "-O2", pic));
        }
        for (Program program : TestPrograms.RUNTIME) {
            cases.add(Arguments.of(program, "-O0", ""));
            cases.add(Arguments.of(program, "-O2", "-fPIC"));
        }
        for (String pic : List.of("", "-fPIC")) {
            cases.add(Arguments.of(IFUNC_HWCAP, "-O2", pic));
        }
        for (Program program : archivePrograms()) {
            cases.add(Arguments.of(program, "-O2", ""));
            cases.add(Arguments.of(program, "-O0", "-fPIC"));
        }
        if (NativeToolchain.onPath(CLANG)) {
            // clang's instruction choices and relocations for the same programs (its TLS descriptors, _NC forms).
            for (Program program : List.of(TestPrograms.HELLO_ARGV, TestPrograms.TLS_THREADS, TestPrograms.HOST_DATA)) {
                cases.add(Arguments.of(program, "-O2", CLANG_PREFIX + "-fPIC"));
                cases.add(Arguments.of(program, "-O0", CLANG_PREFIX + "-fno-pic"));
            }
        }
        return cases.stream();
    }

    /** zlib and SQLite with Debian's arm64 archives, where {@code .ci/arm64-archives} put them. */
    static List<Program> archivePrograms() {
        List<Program> programs = new ArrayList<>();
        for (String[] archive : new String[][] {{"archive-zlib", "libz.a"}, {"archive-sqlite", "libsqlite3.a"}}) {
            Path file = SYSROOT.resolve("lib").resolve(archive[1]);
            if (Files.exists(file)) {
                programs.add(new Program(archive[0], List.of(), List.of(":" + archive[1]), List.of(), false, List.of(file)));
            }
        }
        return programs;
    }

    static Build build(Program program, String opt, String pic) {
        return BUILDS.computeIfAbsent(program.name() + " " + opt + " " + pic, key -> {
            Path dir = workRoot.resolve((program.name() + opt + pic).replace(' ', '_').replace('=', '-').replace(':', '_'));
            List<Path> sources = TestPrograms.writeSources(program, dir);
            boolean clang = pic.startsWith(CLANG_PREFIX);
            String picFlags = clang ? pic.substring(CLANG_PREFIX.length()) : pic;
            List<String> flags = new ArrayList<>(clang ? CLANG_TARGET : List.of());
            flags.add(opt);
            if (!picFlags.isBlank()) {
                flags.addAll(List.of(picFlags.trim().split(" ")));
            }
            Objects objects = NativeToolchain.compile(clang ? CLANG : CC, sources, dir, flags);
            List<String> libs = program.nativeLibs().stream().filter(lib -> !lib.equals("m") && !lib.equals("pthread")).toList();
            // The tiny and large models link as the objects were compiled: large is not PIE-able.
            Objects linkAs = picFlags.contains("-fno-pic") || picFlags.contains("large") ? new Objects(objects.files(), List.of())
                    : new Objects(objects.files(), List.of("-fPIE"));
            Path exe = NativeToolchain.link(LINKER, linkAs, dir.resolve(program.name() + ".native"), libs);
            List<String> command = new ArrayList<>(List.of("qemu-aarch64", "-L", SYSROOT.toString(), exe.toString()));
            command.addAll(program.args());
            Result nativeResult = NativeToolchain.run(command, dir, Duration.ofSeconds(60));
            return new Build(dir, objects, nativeResult);
        });
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("cases")
    void jdyldRunMatchesQemuRunOfTheNativeLink(Program program, String opt, String pic) {
        Build build = build(program, opt, pic);
        Result expected = build.nativeResult();
        assertThat(expected.timedOut()).as("native run timed out:\n%s", expected.describe()).isFalse();
        assertThat(expected.stdout()).as("native run printed nothing:\n%s", expected.describe()).isNotEmpty();

        List<String> options = new ArrayList<>(List.of("--target", "aarch64"));
        List<Path> files = new ArrayList<>(build.objects().files());
        files.addAll(program.archives());
        Result actual = NativeToolchain.runJdyld(options, files, program.args(), build.dir());

        String context = ("jdyld run --target aarch64 of %s (%s %s) differs from the native AArch64 run\n%s\n"
                + "native exit code: %d\n(run with -D%s=DIR to keep the objects)")
                .formatted(program.name(), opt, pic, actual.describe(), expected.exitCode(), NativeToolchain.WORKDIR_PROPERTY);
        assertThat(actual.timedOut()).as(() -> context).isFalse();
        assertThat(actual.stdout()).as(() -> context).isEqualTo(expected.stdout());
        assertThat(actual.exitCode()).as(() -> context).isEqualTo(expected.exitCode());
    }
}
