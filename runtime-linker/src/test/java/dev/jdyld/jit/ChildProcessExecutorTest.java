package dev.jdyld.jit;

import dev.jdyld.core.ExecutorCrashedException;
import dev.jdyld.core.ExecutorException;
import dev.jdyld.memory.MemoryMaps;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The child-process executor runs what the in-process one runs, and a crash of loaded code ends
 * the child with a typed exception naming the signal and the function, never this JVM (these
 * tests crash the child in the suite's own JVM on purpose).
 */
class ChildProcessExecutorTest {
    @TempDir
    Path dir;

    private static final String FUNCTIONS = """
            #include <math.h>
            #include <stdlib.h>
            #include <string.h>
            int counter = 5;
            const char greeting[] = "hello";
            int add(int a, int b) { return a + b + counter; }
            double scale(double x, float f, long n) { return x * f + n; }
            float halve(float x) { return x / 2; }
            long sum8(long a, long b, long c, long d, long e, long f) { return a + b + c + d + e + f; }
            double mix(int a, double b, int c, double d) { return a * b + c * d; }
            size_t length(const char *s) { return strlen(s); }
            double cosine(double x) { return cos(x); }
            char *copy(const char *s) { return strdup(s); }
            """;

    private JitLinker childLinker(String... libraries) {
        JitLinkerBuilder builder = JitLinker.builder().executor(Executor.childProcess());
        for (String library : libraries) {
            builder.hostLibrary(library);
        }
        return builder.build();
    }

    @Test
    void callsMarshalIntegersPointersAndFloatingPointAndDataIsTheChildsMemory() throws Throwable {
        Path object = Toolchain.compile(dir, "functions", FUNCTIONS, "-O1", "-fPIC");
        try (JitLinker linker = childLinker("m"); LoadedSet set = linker.load(object)) {
            MethodHandle add = set.function("add", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
            assertThat((int) add.invokeExact(1, 2)).isEqualTo(8);
            MemorySegment counter = set.data("counter");
            counter.set(JAVA_INT, 0, 100); // written in the JVM's view, read by the child's code
            assertThat((int) add.invokeExact(1, 2)).isEqualTo(103);
            assertThat((double) set.function("scale", FunctionDescriptor.of(JAVA_DOUBLE, JAVA_DOUBLE, JAVA_FLOAT, JAVA_LONG))
                    .invokeExact(1.5, 2.0f, 10L)).isEqualTo(13.0);
            assertThat((float) set.function("halve", FunctionDescriptor.of(JAVA_FLOAT, JAVA_FLOAT)).invokeExact(5.0f))
                    .isEqualTo(2.5f);
            assertThat((long) set.function("sum8", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG,
                    JAVA_LONG, JAVA_LONG, JAVA_LONG)).invokeExact(1L, 2L, 3L, 4L, 5L, 6L)).isEqualTo(21L);
            assertThat((double) set.function("mix", FunctionDescriptor.of(JAVA_DOUBLE, JAVA_INT, JAVA_DOUBLE, JAVA_INT,
                    JAVA_DOUBLE)).invokeExact(2, 1.5, 3, 0.5)).isEqualTo(4.5);
            assertThat((double) set.function("cosine", FunctionDescriptor.of(JAVA_DOUBLE, JAVA_DOUBLE)).invokeExact(0.0))
                    .isEqualTo(1.0);
            long greeting = set.address("greeting");
            assertThat((long) set.function("length", FunctionDescriptor.of(JAVA_LONG, ADDRESS))
                    .invokeExact(MemorySegment.ofAddress(greeting))).isEqualTo(5L);
            assertThat(set.data("greeting").getString(0)).isEqualTo("hello");
            assertThat(set.data("greeting").isReadOnly()).isTrue();
        }
    }

    @Test
    void theSetsCodeIsExecutableOnlyInTheChildAndWritableOnlyInTheJvm() {
        Path object = Toolchain.compile(dir, "functions", FUNCTIONS, "-O1", "-fPIC");
        try (JitLinker linker = childLinker("m"); LoadedSet set = linker.load(object)) {
            long add = set.address("add");
            int pid = childPid(linker);
            assertThat(permissionsAt(Integer.toString(pid), add)).isEqualTo("r-xs");
            assertThat(permissionsAt("self", add)).isNull(); // nothing of the set is mapped there in the JVM
            for (MemoryMaps.Mapping mapping : MemoryMaps.read()) {
                if (mapping.name().contains("jdyld-window")) {
                    assertThat(mapping.permissions()).doesNotContain("x");
                }
            }
        }
    }

    @Test
    void mainRunsInTheChildAndExitStatusComesBack() throws Exception {
        Path out = dir.resolve("out.txt");
        Path object = Toolchain.compile(dir, "prog", """
                #include <stdio.h>
                #include <stdlib.h>
                static FILE *log;
                __attribute__((constructor)) static void start(void) { log = fopen(OUT, "w"); fputs("ctor\\n", log); }
                __attribute__((destructor)) static void stop(void) { fputs("dtor\\n", log); fclose(log); }
                static void bye(void) { fputs("atexit\\n", log); }
                int main(int argc, char **argv) {
                    atexit(bye);
                    fprintf(log, "main %d %s\\n", argc, argv[1]);
                    if (argc > 2) exit(atoi(argv[2]));
                    return 42;
                }
                """, "-O1", "-DOUT=\"" + out + "\"");
        Path expected = out;
        try (JitLinker linker = JitLinker.builder().executor(Executor.childProcess()).build()) {
            LoadedSet set = linker.load(object);
            assertThat(set.runMain("main", List.of("prog", "one"))).isEqualTo(42);
            set.close();
            assertThat(Files.readString(expected)).isEqualTo("ctor\nmain 2 one\natexit\ndtor\n");
        }
        try (JitLinker linker = JitLinker.builder().executor(Executor.childProcess()).build()) {
            LoadedSet set = linker.load(object);
            assertThat(set.runMain("main", List.of("prog", "two", "7"))).isEqualTo(7);
            assertThat(Files.readString(expected)).isEqualTo("ctor\nmain 3 two\natexit\ndtor\n");
            assertThatThrownBy(() -> set.function("main", FunctionDescriptor.of(JAVA_INT)).invoke())
                    .isInstanceOf(ExecutorException.class).hasMessageContaining("exited with status 7");
        }
    }

    @Test
    void aCrashIsAnExceptionNamingTheSignalAndTheFunctionAndTheJvmGoesOn() {
        Path object = Toolchain.compile(dir, "crash", """
                #define _GNU_SOURCE
                #include <stdlib.h>
                #include <signal.h>
                #include <sys/mman.h>
                #include <unistd.h>
                volatile int zero = 0;
                int deref(int *p) { return *p + 1; }
                void trap(void) { __builtin_trap(); }
                int divide(int a) { return a / zero; }
                void stop(void) { abort(); }
                int recurse(int n) { volatile char pad[256]; pad[0] = (char) n; return recurse(n + 1) + pad[0]; }
                int truncated(void) {
                    int fd = memfd_create("short", 0);
                    ftruncate(fd, 4096);
                    volatile char *p = mmap(0, 8192, PROT_READ, MAP_SHARED, fd, 0);
                    return p[4096]; /* past the file's end: SIGBUS */
                }
                """, "-O0", "-fno-omit-frame-pointer");
        record Case(String function, int signal, String words) {}
        List<Case> cases = List.of(
                new Case("deref", 11, "Segmentation fault at address 0x0 in deref+0x"),
                new Case("trap", 4, "Illegal instruction in trap+0x"),
                new Case("divide", 8, "Floating point exception in divide+0x"),
                new Case("stop", 6, "Aborted in stop+0x"),
                new Case("recurse", 11, "Segmentation fault (stack overflow) in recurse+0x"),
                new Case("truncated", 7, "Bus error at address 0x"));
        for (Case c : cases) {
            try (JitLinker linker = childLinker(); LoadedSet set = linker.load(object)) {
                MethodHandle f = set.function(c.function(), FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
                assertThatThrownBy(() -> f.invoke(0L))
                        .isInstanceOfSatisfying(ExecutorCrashedException.class, e -> {
                            assertThat(e.signal()).isEqualTo(c.signal());
                            assertThat(e.backtrace()).isNotEmpty();
                        })
                        .hasMessageContaining(c.words()).hasMessageContaining("crash.o;");
                assertThatThrownBy(() -> f.invoke(0L)).isInstanceOf(ExecutorCrashedException.class)
                        .hasMessageContaining(c.words());
            }
        }
    }

    @Test
    void aCallThatOutlivesItsTimeoutKillsTheChild() {
        Path object = Toolchain.compile(dir, "spin", "void spin(void) { for (;;) __asm__ volatile(\"\"); }", "-O1");
        try (JitLinker linker = JitLinker.builder().executor(Executor.childProcess().callTimeout(Duration.ofMillis(300)))
                .build(); LoadedSet set = linker.load(object)) {
            assertThatThrownBy(() -> set.function("spin", FunctionDescriptor.ofVoid()).invoke())
                    .isInstanceOf(ExecutorCrashedException.class).hasMessageContaining("timeout of 300 ms");
        }
    }

    /**
     * A thousand executors started, crashed and given up leave the JVM as it was: no descriptor,
     * thread or mapping more than after the first few (which warm up what stays for the JVM's life:
     * the spawner thread, the executor's memory file).
     */
    @Test
    void aThousandStartAndCrashCyclesLeaveNothingBehind() {
        Path object = Toolchain.compile(dir, "crash", "int deref(int *p) { return *p; }", "-O1");
        for (int i = 0; i < 10; i++) {
            startLoadAndCrash(object);
        }
        long descriptors = count("/proc/self/fd");
        long threads = count("/proc/self/task");
        int mappings = MemoryMaps.read().size();
        for (int i = 0; i < 1000; i++) {
            startLoadAndCrash(object);
        }
        // A cycle that left a descriptor, thread or mapping behind would leave a thousand; the JVM's
        // own come and go (compiler threads, code cache and heap growth), a few at a time.
        assertThat(count("/proc/self/fd")).as("descriptors").isLessThanOrEqualTo(descriptors);
        assertThat(count("/proc/self/task")).as("threads").isLessThanOrEqualTo(threads + 4);
        assertThat(MemoryMaps.read().size()).as("mappings").isLessThanOrEqualTo(mappings + 40);
    }

    private static void startLoadAndCrash(Path object) {
        try (JitLinker linker = JitLinker.builder().executor(Executor.childProcess()).build();
             LoadedSet set = linker.load(object)) {
            MethodHandle deref = set.function("deref", FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
            assertThatThrownBy(() -> deref.invoke(0L)).isInstanceOf(ExecutorCrashedException.class);
        }
    }

    @Test
    void anExecutorKilledDuringALoadLeavesNothingAndTheLoadThrows() {
        Path object = Toolchain.compile(dir, "functions", FUNCTIONS, "-O1", "-fPIC");
        try (JitLinker linker = childLinker("m")) {
            linker.load(object).close();
            long descriptors = count("/proc/self/fd");
            ProcessHandle.of(childPid(linker)).orElseThrow().destroyForcibly();
            assertThatThrownBy(() -> linker.load(object)).isInstanceOf(ExecutorException.class)
                    .hasMessageContaining("the executor (pid " + childPid(linker));
            assertThatThrownBy(() -> linker.load(object)).isInstanceOf(ExecutorException.class);
            assertThat(count("/proc/self/fd")).isLessThanOrEqualTo(descriptors);
        }
    }

    static int twice(int x) {
        return 2 * x;
    }

    static double half(double x, int unused) {
        return x / 2;
    }

    /**
     * Java functions are called from the child over the socket; while one runs it may call loaded
     * code again (nested), and a lazy symbol's first call loads its set from the Java materializer.
     */
    @Test
    void javaFunctionsAndLazySymbolsAreReachedFromTheChild() throws Throwable {
        Path user = Toolchain.compile(dir, "user", """
                int twice(int);
                double half(double, int);
                int later(int);
                int inner(int x) { return x + 1; }
                int outer(int x) { return twice(x) + (int) half(10.0, 0); }
                int viaLazy(int x) { return later(x) * 10; }
                """, "-O1", "-fPIC");
        Path later = Toolchain.compile(dir, "later", "int later(int x) { return x + 7; }", "-O1", "-fPIC");
        var lookup = java.lang.invoke.MethodHandles.lookup();
        int[] materialized = new int[1];
        try (JitLinker linker = childLinker()) {
            linker.defineFunction("half", lookup.findStatic(ChildProcessExecutorTest.class, "half",
                    java.lang.invoke.MethodType.methodType(double.class, double.class, int.class)),
                    FunctionDescriptor.of(JAVA_DOUBLE, JAVA_DOUBLE, JAVA_INT));
            MethodHandle[] inner = new MethodHandle[1];
            linker.defineFunction("twice", java.lang.invoke.MethodHandles.filterReturnValue(
                    lookup.findStatic(ChildProcessExecutorTest.class, "twice",
                            java.lang.invoke.MethodType.methodType(int.class, int.class)),
                    java.lang.invoke.MethodHandles.lookup().findStatic(ChildProcessExecutorTest.class, "callInner",
                            java.lang.invoke.MethodType.methodType(int.class, MethodHandle[].class, int.class))
                            .bindTo(inner)), INT_INT);
            linker.defineLazy("later", () -> {
                materialized[0]++;
                return List.of(readObject(later));
            });
            LoadedSet set = linker.load(user);
            inner[0] = set.function("inner", INT_INT);
            // twice(20) = 40, then inner(40) = 41 in the child while outer waits; half(10) = 5
            assertThat((int) set.function("outer", INT_INT).invokeExact(20)).isEqualTo(46);
            assertThat((int) set.function("viaLazy", INT_INT).invokeExact(1)).isEqualTo(80);
            assertThat((int) set.function("viaLazy", INT_INT).invokeExact(2)).isEqualTo(90);
            assertThat(materialized[0]).isEqualTo(1);
            assertThatThrownBy(() -> linker.defineData("d", java.lang.foreign.Arena.global().allocate(8)))
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("child-process executor");
        }
    }

    static final FunctionDescriptor INT_INT = FunctionDescriptor.of(JAVA_INT, JAVA_INT);

    static int callInner(MethodHandle[] inner, int x) {
        try {
            return (int) inner[0].invokeExact(x);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private static dev.jdyld.core.ObjectFile readObject(Path object) {
        try {
            return new dev.jdyld.core.ObjectFile(object.getFileName().toString(), Files.readAllBytes(object));
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    private static long count(String directory) {
        try (var entries = Files.list(Path.of(directory))) {
            return entries.count();
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    static int childPid(JitLinker linker) {
        return ((dev.jdyld.runtime.child.ChildTarget) linker.target).pid();
    }

    static String permissionsAt(String process, long address) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + process + "/maps"))) {
                String[] fields = line.split("\\s+");
                String[] range = fields[0].split("-");
                if (Long.parseUnsignedLong(range[0], 16) <= address && address < Long.parseUnsignedLong(range[1], 16)) {
                    return fields[1];
                }
            }
            return null;
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }
}
