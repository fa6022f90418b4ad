package dev.jdyld.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

/** {@code jdyld repl} driven through a pipe and through a pseudo-terminal, as a user drives it. */
class ReplTest {
    /** The user's own history file, as it was before these tests: they must never touch it. */
    private static final Path USERS_HISTORY = Path.of(System.getProperty("user.home"), ".jdyld_history");
    private static String historyBefore;

    @org.junit.jupiter.api.BeforeAll
    static void noteTheUsersHistory() throws IOException {
        historyBefore = describe(USERS_HISTORY);
    }

    @org.junit.jupiter.api.AfterAll
    static void theUsersHistoryIsUntouched() throws IOException {
        assertThat(describe(USERS_HISTORY)).as("tests never touch the user's home").isEqualTo(historyBefore);
    }

    private static String describe(Path file) throws IOException {
        return Files.exists(file) ? Files.size(file) + " bytes, modified " + Files.getLastModifiedTime(file) : "absent";
    }

    @TempDir
    Path dir;

    private record Session(String stdout, String stderr, int exitCode) {}

    private Session run(List<String> command, String input) throws IOException, InterruptedException {
        Path in = Files.writeString(dir.resolve("input.txt"), input);
        Path out = dir.resolve("stdout.txt");
        Path err = dir.resolve("stderr.txt");
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile())
                .redirectInput(in.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile());
        builder.environment().put("JDYLD_HISTORY", dir.resolve("history").toString()); // never the user's own
        Process process = builder.start();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("the REPL did not finish");
        }
        return new Session(Files.readString(out), Files.readString(err), process.exitValue());
    }

    /** The REPL with a pseudo-terminal of its own (util-linux script), as a person runs it: JLine edits its lines. */
    private List<String> inATerminal() {
        assumeThat(Path.of("/usr/bin/script")).as("util-linux script gives the REPL a terminal").exists();
        return new ArrayList<>(List.of("script", "-qfec", String.join(" ", repl().stream()
                .map(word -> "'" + word + "'").toList()), "/dev/null"));
    }

    private List<String> repl() {
        List<String> command = NativeToolchain.jdyldCommand(dir);
        command.add("repl");
        return command;
    }

    @Test
    void fromAPipeItPrintsOnlyResults() throws Exception {
        Session session = run(repl(), "int sq(int x){return x*x;}\nsq(12)\n");
        assertThat(session.stdout()).isEqualTo("144\n");
        assertThat(session.stderr()).isEmpty();
        assertThat(session.exitCode()).isZero();
    }

    /** In process and with the code in a child-process executor (--isolate), the same session prints the same. */
    @org.junit.jupiter.params.ParameterizedTest(name = "isolated: {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void redefinitionReachesEarlierCallersGlobalsKeepTheirValueAndCompilerErrorsAreShown(boolean isolated) throws Exception {
        List<String> command = repl();
        if (isolated) {
            command.add("--isolate");
        }
        Session session = run(command, """
                #include <stdio.h>
                int counter = 5;
                int bump(void) { return ++counter; }
                int sq(int x) { return x * x; }
                int use(int x) { return sq(x) + 1; }
                use(3)
                int sq(int x) { return x * x * x; }
                use(3)
                bump()
                int counter = 40;
                bump()
                int broken(void) { return nothing_here; }
                "still" " going"
                3.5 / 2
                sq(2) +
                  sq(3)
                printf("from C %d\\n", 7);
                (char) 65
                """);
        assertThat(session.stdout()).isEqualTo("""
                10
                28
                6
                41
                "still going"
                1.75
                35
                from C 7
                65 'A'
                """);
        assertThat(session.stderr()).contains("input:1:").contains("error:").contains("nothing_here")
                .doesNotContain("__jdyld_"); // the wrapper's name is jdyld's business
        assertThat(session.exitCode()).isZero();
    }

    /** Calling a function nothing declared is a compiler error, as in clang-repl, not a call with int arguments. */
    @Test
    void anUndeclaredFunctionIsAnError() throws Exception {
        Session session = run(repl(), "nosuch(3)\n");
        assertThat(session.stderr()).contains("implicit declaration of function").doesNotContain("undefined symbol");
    }

    /** A compiler message points at what was typed, line and column, without the wrapper's name. */
    @Test
    void compilerMessagesPointAtWhatWasTyped() throws Exception {
        Session session = run(repl(), "#include <stdio.h>\nprintf(\"%d\\n\", 1 +);\n");
        assertThat(session.stderr()).contains("input:1:19: error").doesNotContain("__jdyld_").doesNotContain("In function");
    }

    /** :disasm names a call to an earlier definition (through its redefinable stub), as it names printf's. */
    @Test
    void disassemblyNamesCallsToEarlierDefinitions() throws Exception {
        Session session = run(repl(), "int sq(int x) { return x * x; }\nint use(int x) { return sq(x) + 1; }\n:disasm use\n");
        assertThat(session.stdout()).contains("<use>:").contains("<stub: sq>");
    }

    /**
     * In the JVM's process a crashing snippet ends the REPL as a native program ends: one line
     * naming the fault, exit status 139, no JVM crash report in the user's directory.
     */
    @Test
    void inProcessACrashingSnippetEndsTheReplWithOneLine() throws Exception {
        Session session = run(repl(), "int x = 3;\n*(volatile int *) 0 = 1;\nx\n");
        assertThat(session.exitCode()).isEqualTo(139);
        assertThat(session.stderr().lines().toList()).hasSize(1);
        assertThat(session.stderr()).startsWith("jdyld: SIGSEGV in loaded code: write to 0x0");
        try (var files = Files.list(dir)) {
            assertThat(files.map(Path::getFileName).map(Path::toString)).noneMatch(name -> name.startsWith("hs_err"));
        }
    }

    @Test
    void isolatedACrashingSnippetIsReportedAndTheSessionGoesOn() throws Exception {
        List<String> command = repl();
        command.add("--isolate");
        Session session = run(command, """
                int twice(int x) { return 2 * x; }
                int counter = 5;
                counter = 9;
                counter
                *(volatile int *) 0 = 1;
                twice(21)
                counter
                """);
        assertThat(session.stdout()).isEqualTo("9\n42\n5\n");
        assertThat(session.stderr()).contains("Segmentation fault at address 0x0 in the snippet")
                .contains("a new executor was started and 2 definitions loaded again");
        assertThat(session.exitCode()).isZero();
    }

    /** Line editing passes C through as typed: backslash escapes reach the compiler. */
    @Test
    void throughAPseudoTerminalBackslashesAreKept() throws Exception {
        List<String> command = inATerminal();
        Session session = run(command, "#include <stdio.h>\nint c = 7;\nprintf(\"hi %d\\n\", c);\n\"tab\\there\"\n"
                + "(int) '\\\\'\n:quit\n");
        assertThat(session.stdout()).contains("hi 7\r\n").doesNotContain("hi 7n").contains("*) \"tab\\there\"")
                .contains("(int) 92");
        assertThat(Files.exists(dir.resolve("history"))).as("the history goes where JDYLD_HISTORY says").isTrue();
    }

    /**
     * What a person types after {@code :load}: prototypes (kept for later snippets, so a pointer is
     * not cut to an int), a header of the working directory, {@code :symbols} listing the file's
     * functions, and a definition without its ';'.
     */
    @Test
    void throughAPseudoTerminalLoadedObjectsAreUsableAsInC() throws Exception {
        List<String> command = inATerminal();
        Files.writeString(dir.resolve("table.h"), "void *table_new(unsigned long n);\nlong table_total(void *t);\n");
        Path source = Files.writeString(dir.resolve("table.c"), """
                #include <stdlib.h>
                void *table_new(unsigned long n) {
                    long *t = calloc(n + 1, sizeof(long));
                    t[0] = (long) n;
                    for (unsigned long i = 1; i <= n; i++) t[i] = (long) i;
                    return t;
                }
                long table_total(void *p) { long *t = p; long s = 0; for (long i = 1; i <= t[0]; i++) s += t[i]; return s; }
                """);
        NativeToolchain.run(List.of("gcc", "-c", "-O1", "-fPIC", source.toString(), "-o", dir.resolve("table.o").toString()),
                dir, java.time.Duration.ofSeconds(60));
        Session session = run(command, ":load table.o\nvoid *table_new(unsigned long);\nlong table_total(void *);\n"
                + "table_total(table_new(4))\n#include \"table.h\"\ntable_total(table_new(3))\n:symbols\n"
                + "int counter = 5\ncounter + 1\n:quit\n");
        assertThat(session.stdout()).contains("(long) 10").contains("(long) 6").contains("(int) 6")
                .containsPattern("0x[0-9a-f]+  table_new").containsPattern("0x[0-9a-f]+  table_total")
                .doesNotContain("error");
    }

    @Test
    void throughAPseudoTerminalValuesPrintWithTheirType() throws Exception {
        List<String> command = inATerminal();
        Session session = run(command, "int sq(int x){return x*x;}\nsq(12)\nint sq(int x){return x+1;}\nsq(12)\n:quit\n");
        assertThat(session.stdout()).contains("jdyld C REPL").contains("(int) 144").contains("(int) 13");
        assertThat(session.exitCode()).isZero();
    }
}
