package dev.jdyld.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jdyld.cli.NativeToolchain.Result;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code jdyld run} contract details the differential tests cannot see because the native run
 * differs by design: argv[0] is the first FILE as given, {@code --entry}, envp, and exit() called
 * by the loaded program.
 */
class CliRunTest {

    private static Path workRoot;

    @BeforeAll
    static void createWorkRoot() {
        workRoot = NativeToolchain.newWorkDir("jdyld-clirun");
    }

    @AfterAll
    static void deleteWorkRoot() {
        NativeToolchain.deleteRecursively(workRoot);
    }

    /** Writes {@code name.c} into a fresh directory and compiles it with -O2 -fPIE. */
    private static Path compile(String test, String name, String source) {
        try {
            Path dir = Files.createDirectories(workRoot.resolve(test));
            Path c = Files.writeString(dir.resolve(name + ".c"), source);
            return NativeToolchain.compile(List.of(c), dir, List.of("-O2", "-fPIE")).files().getFirst();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void assertRun(Result r, Path dir, String stdout, int exitCode) {
        assertThat(r.timedOut()).as(r::describe).isFalse();
        assertThat(NativeToolchain.crashReports(dir)).as(r::describe).isEmpty();
        assertThat(r.stdout()).as(r::describe).isEqualTo(stdout);
        assertThat(r.exitCode()).as(r::describe).isEqualTo(exitCode);
    }

    @Test
    void argv0IsTheFirstFileAsGiven() {
        Path first = compile("argv0", "first", """
                #include <stdio.h>
                int helper(int);
                int main(int argc, char **argv) {
                    printf("argc=%d argv0=%s helper=%d\\n", argc, argv[0], helper(argc));
                    return argv[argc] == NULL ? 0 : 1;
                }
                """);
        Path second = compile("argv0", "second", "int helper(int x) { return x * 10; }\n");
        Path dir = first.getParent();
        // Relative paths, resolved against the working directory, and passed through verbatim.
        Result r = NativeToolchain.runJdyld(List.of(), List.of(Path.of("first.o"), Path.of("second.o")),
                List.of("a", "b"), dir);
        assertRun(r, dir, "argc=3 argv0=first.o helper=30\n", 0);
        // Absolute path, and no program arguments.
        r = NativeToolchain.runJdyld(List.of(), List.of(first, second), List.of(), dir);
        assertRun(r, dir, "argc=1 argv0=" + first + " helper=10\n", 0);
    }

    @Test
    void entryOptionSelectsTheFunctionToCall() {
        Path obj = compile("entry", "entry", """
                #include <stdio.h>
                int main(void) { puts("main must not run"); return 1; }
                int alt_main(int argc, char **argv) {
                    printf("alt_main argc=%d argv1=%s\\n", argc, argv[1]);
                    return 9;
                }
                """);
        Path dir = obj.getParent();
        Result r = NativeToolchain.runJdyld(List.of("--entry", "alt_main"), List.of(obj), List.of("x"), dir);
        assertRun(r, dir, "alt_main argc=2 argv1=x\n", 9);
    }

    @Test
    void envpHoldsTheEnvironment() {
        Path obj = compile("envp", "envp", """
                #include <stdio.h>
                #include <stdlib.h>
                #include <string.h>
                int main(int argc, char **argv, char **envp) {
                    const char *key = "JDYLD_TEST_VAR=";
                    for (char **e = envp; *e; e++) {
                        if (strncmp(*e, key, strlen(key)) == 0) {
                            printf("envp: %s\\n", *e + strlen(key));
                        }
                    }
                    printf("getenv: %s\\n", getenv("JDYLD_TEST_VAR"));
                    return 0;
                }
                """);
        Path dir = obj.getParent();
        Result r = NativeToolchain.runJdyld(List.of(), List.of(obj), List.of(), dir,
                Map.of("JDYLD_TEST_VAR", "hello env"));
        assertRun(r, dir, "envp: hello env\ngetenv: hello env\n", 0);
    }

    @Test
    void exitFromANestedCallKeepsBufferedOutputAndItsStatus() {
        Path obj = compile("exit", "exit", """
                #include <stdio.h>
                #include <stdlib.h>
                static void deep(int n) {
                    if (n == 0) exit(5);
                    deep(n - 1);
                }
                int main(void) {
                    printf("partial line");
                    deep(3);
                    return 0;
                }
                """);
        Path dir = obj.getParent();
        Result r = NativeToolchain.runJdyld(List.of(), List.of(obj), List.of(), dir);
        assertRun(r, dir, "partial line", 5);
    }

    /**
     * {@code atexit} is not exported by libc.so.6 (glibc links it statically from
     * libc_nonshared.a as a call to {@code __cxa_atexit}), so a loader must provide it itself.
     */
    @Test
    void atexitHandlersOfTheLoadedProgramRun() {
        Path obj = compile("atexit", "atexit", """
                #include <stdio.h>
                #include <stdlib.h>
                static void second(void) { printf("[second]\\n"); }
                static void first(void) { printf("[first]"); }
                int main(void) {
                    atexit(second);
                    atexit(first);
                    printf("main done\\n");
                    return 4;
                }
                """);
        Path dir = obj.getParent();
        Result r = NativeToolchain.runJdyld(List.of(), List.of(obj), List.of(), dir);
        assertRun(r, dir, "main done\n[first][second]\n", 4);
    }

    /**
     * Non-PIC code that reads host data directly (a native link copies stderr into the program, a
     * copy relocation) cannot be both below 2 GiB and near the C library: one line says what to do.
     */
    @Test
    void nonPicCodeReadingHostDataIsRefusedWithWhatToDo() throws IOException {
        Path dir = Files.createDirectories(workRoot.resolve("copy-relocation"));
        Path c = Files.writeString(dir.resolve("err.c"), """
                #include <stdio.h>
                static int table[4] = {1, 2, 3, 4};
                int main(void) { fprintf(stderr, "%d\\n", table[1]); return 0; }
                """);
        Path obj = NativeToolchain.compile(List.of(c), dir, List.of("-O2", "-fno-pic")).files().getFirst();
        Result r = NativeToolchain.runJdyld(List.of(), List.of(obj), List.of(), dir);
        assertThat(r.exitCode()).as(r::describe).isEqualTo(1);
        assertThat(r.stderr().lines().toList()).as(r::describe).hasSize(1);
        assertThat(r.stderr()).as(r::describe).contains("stderr").contains("no address satisfies both")
                .endsWith("recompile with -fPIE or -fPIC (gcc's default is -fPIE)\n");
    }
}
