package dev.jdyld.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jdyld.cli.NativeToolchain.Objects;
import dev.jdyld.cli.NativeToolchain.Result;
import dev.jdyld.cli.TestPrograms.Program;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Differential tests of {@code jdyld run}: every test program, compiled with every flag set, must
 * print the same stdout and exit with the same code under {@code jdyld run} as when linked natively
 * by gcc.
 *
 * <p>Two cases run at once (each is mostly processes: a compile, a native run, a child JVM).
 *
 * <p>Set {@code -Djdyld.test.workdir=DIR} to keep the objects for reproducing a failure by hand;
 * each failure message shows the jdyld command line and its stderr.
 */
@org.junit.jupiter.api.parallel.Execution(org.junit.jupiter.api.parallel.ExecutionMode.CONCURRENT)
class DifferentialTest {

    static final List<String> OPT_LEVELS = List.of("-O0", "-O2");
    /** Code models and position independence; space-separated flags. */
    static final List<String> PIC_MODES = List.of("-fPIC", "-fPIE", "-fno-pic", "-mcmodel=large -fPIC",
            "-mcmodel=large -fno-pic");
    /** gcc's defaults (PIE on Debian) and explicit position independence, for {@link TestPrograms#HOST_DATA}. */
    static final List<String> HOST_DATA_MODES = List.of("", "-fPIE", "-fPIC", "-mcmodel=large -fPIC");
    /**
     * The TLS models and call forms gcc emits for {@link TestPrograms#TLS_THREADS}: the dynamic ones,
     * and local exec (gcc's default, PIE, and -fno-pic) and initial exec, which use static TLS.
     */
    static final List<String> TLS_MODES = List.of("-fPIC", "-fPIC -ftls-model=local-dynamic", "-fPIC -mtls-dialect=gnu2",
            "-fPIC -fno-plt", "-mcmodel=large -fPIC", "", "-fno-pic", "-fPIC -ftls-model=initial-exec");

    /** gcc's default (PIE), explicit PIE and PIC, and non-PIC: for {@link TestPrograms#NESTED_FUNCTIONS}. */
    static final List<String> NESTED_MODES = List.of("", "-fPIE", "-fPIC", "-fno-pic");

    /** Compiled and natively run once per (program, flags); shared by the test cases. */
    record Build(Path dir, Objects objects, Path nativeExe, Result nativeResult) {}

    private static Path workRoot;
    private static final Map<String, Build> BUILDS = new ConcurrentHashMap<>();

    @BeforeAll
    static void createWorkRoot() {
        workRoot = NativeToolchain.newWorkDir("jdyld-difftest");
    }

    @AfterAll
    static void deleteWorkRoot() {
        NativeToolchain.deleteRecursively(workRoot);
    }

    static Stream<Arguments> cases() {
        List<Arguments> cases = new ArrayList<>();
        for (Program program : TestPrograms.ALL) {
            for (String opt : OPT_LEVELS) {
                for (String pic : PIC_MODES) {
                    cases.add(Arguments.of(program, opt, pic));
                }
            }
        }
        for (String opt : OPT_LEVELS) {
            for (String pic : HOST_DATA_MODES) {
                cases.add(Arguments.of(TestPrograms.HOST_DATA, opt, pic));
            }
            for (String pic : TLS_MODES) {
                cases.add(Arguments.of(TestPrograms.TLS_THREADS, opt, pic));
            }
            for (Program program : TestPrograms.ARCHIVES) {
                cases.add(Arguments.of(program, opt, ""));
            }
            for (String pic : NESTED_MODES) {
                cases.add(Arguments.of(TestPrograms.NESTED_FUNCTIONS, opt, pic));
            }
            for (Program program : TestPrograms.RUNTIME) {
                for (String pic : List.of("", "-fPIC")) {
                    cases.add(Arguments.of(program, opt, pic));
                }
            }
        }
        if (NativeToolchain.onPath(CLANG)) {
            // The same programs as clang compiles them (other instruction choices and relocations).
            List<Program> programs = new ArrayList<>(TestPrograms.ALL);
            programs.add(TestPrograms.HOST_DATA);
            programs.addAll(TestPrograms.RUNTIME);
            for (Program program : programs) {
                if (!program.generated()) {
                    cases.add(Arguments.of(program, "-O2", CLANG_PREFIX + "-fPIC"));
                    cases.add(Arguments.of(program, "-O0", CLANG_PREFIX));
                }
            }
            for (String pic : TLS_MODES) {
                if (!pic.contains("gnu2")) { // clang 14 has no -mtls-dialect
                    cases.add(Arguments.of(TestPrograms.TLS_THREADS, "-O2", CLANG_PREFIX + pic));
                }
            }
        }
        return cases.stream();
    }

    static final String CLANG = "clang-14";
    /** A flags string starting with this is compiled by clang instead of gcc. */
    static final String CLANG_PREFIX = "clang: ";

    /** Every program once more with the memory manager's dual mapping (code written through a second view). */
    static Stream<Arguments> dualMappingCases() {
        List<Arguments> cases = new ArrayList<>();
        for (Program program : TestPrograms.ALL) {
            cases.add(Arguments.of(program, "-O2", "-fPIE"));
            cases.add(Arguments.of(program, "-O0", "-fno-pic"));
        }
        cases.add(Arguments.of(TestPrograms.HOST_DATA, "-O2", ""));
        cases.add(Arguments.of(TestPrograms.TLS_THREADS, "-O2", "-fPIC -mtls-dialect=gnu2"));
        return cases.stream();
    }

    static Build build(Program program, String opt, String pic) {
        return BUILDS.computeIfAbsent(program.name() + " " + opt + " " + pic, key -> {
            Path dir = workRoot.resolve((program.name() + opt + pic).replace(' ', '_').replace('=', '-').replace(':', '_'));
            List<Path> sources = TestPrograms.writeSources(program, dir);
            String compiler = pic.startsWith(CLANG_PREFIX) ? CLANG : "gcc";
            String picFlags = pic.startsWith(CLANG_PREFIX) ? pic.substring(CLANG_PREFIX.length()) : pic;
            List<String> flags = new ArrayList<>(List.of(opt));
            if (!picFlags.isBlank()) {
                flags.addAll(List.of(picFlags.trim().split(" ")));
            }
            Objects objects = NativeToolchain.compile(compiler, sources, dir, flags);
            Path exe = NativeToolchain.link(objects, dir.resolve(program.name() + ".native"), program.nativeLibs());
            Result nativeResult = NativeToolchain.runNative(exe, program.args(), dir);
            return new Build(dir, objects, exe, nativeResult);
        });
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("cases")
    void jdyldRunMatchesNativeRun(Program program, String opt, String pic) {
        assertMatchesNative(program, opt, pic, List.of());
    }

    @ParameterizedTest(name = "{0} {1} {2} --dual-mapping")
    @MethodSource("dualMappingCases")
    void dualMappedRunMatchesNativeRun(Program program, String opt, String pic) {
        assertMatchesNative(program, opt, pic, List.of("--dual-mapping"));
    }

    /** The whole suite once more with the code in a child-process executor (link here, run there). */
    @ParameterizedTest(name = "{0} {1} {2} --isolate")
    @MethodSource("cases")
    void isolatedRunMatchesNativeRun(Program program, String opt, String pic) {
        assertMatchesNative(program, opt, pic, List.of("--isolate"));
    }

    /** Cases run so far, for bin/test's progress lines (this test runs for minutes). */
    private static final java.util.concurrent.atomic.AtomicInteger DONE = new java.util.concurrent.atomic.AtomicInteger();

    private void assertMatchesNative(Program program, String opt, String pic, List<String> extraOptions) {
        int done = DONE.incrementAndGet();
        if (done % 50 == 0) {
            System.out.println("progress: DifferentialTest: " + done + " programs run and compared");
        }
        Build build = build(program, opt, pic);
        Result expected = build.nativeResult();
        // The reference run itself must be meaningful, or equal outputs would prove nothing.
        assertThat(expected.timedOut()).as("native run timed out:\n%s", expected.describe()).isFalse();
        assertThat(expected.stdout()).as("native run printed nothing:\n%s", expected.describe()).isNotEmpty();

        List<String> options = new ArrayList<>(extraOptions);
        program.jdyldLibs().forEach(lib -> options.addAll(List.of("--lib", lib)));
        List<Path> files = new ArrayList<>(build.objects().files());
        files.addAll(program.archives());
        Result actual = NativeToolchain.runJdyld(options, files, program.args(), build.dir());

        String context = ("jdyld run of %s (%s %s %s) differs from the native run\n%s\nnative exit code: %d"
                + "\n(run with -D%s=DIR to keep the objects)")
                .formatted(program.name(), opt, pic, extraOptions, actual.describe(), expected.exitCode(),
                        NativeToolchain.WORKDIR_PROPERTY);
        assertThat(actual.timedOut()).as(() -> context).isFalse();
        assertThat(NativeToolchain.crashReports(build.dir())).as(() -> context).isEmpty();
        assertThat(actual.stdout()).as(() -> context).isEqualTo(expected.stdout());
        assertThat(actual.exitCode()).as(() -> context).isEqualTo(expected.exitCode());
    }
}
