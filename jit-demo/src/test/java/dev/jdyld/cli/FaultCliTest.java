package dev.jdyld.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jdyld.cli.NativeToolchain.Result;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code jdyld run} of programs that fault, as a native run of them does: the process ends within
 * seconds with the signal's exit status (139 for SIGSEGV, 132 for SIGILL), and says on one line
 * what happened, where, in which set and near which function; no JVM crash report, no banner. And
 * nested functions: {@code run} warns as {@code ld} does and runs them, {@code layout} shows it.
 */
class FaultCliTest {
    private static final Duration LIMIT = Duration.ofSeconds(30);
    private static final String FAULTS = """
            #include <string.h>
            static int depth(int n) { volatile char buffer[256]; buffer[0] = (char) n; return depth(n + 1) + buffer[0]; }
            int main(int argc, char **argv) {
                const char *what = argc > 1 ? argv[1] : "";
                if (!strcmp(what, "null")) *(volatile int *) 0 = 1;
                if (!strcmp(what, "ud2")) __builtin_trap();
                if (!strcmp(what, "unmapped")) ((void (*)(void)) 0x10)();
                if (!strcmp(what, "noexec")) { static char data[64] = {(char) 0xc3}; ((void (*)(void)) data)(); }
                if (!strcmp(what, "overflow")) return depth(1);
                return 0;
            }
            """;

    private static Path workRoot;
    private static Path faults;

    @BeforeAll
    static void compile() throws IOException {
        workRoot = NativeToolchain.newWorkDir("jdyld-faults");
        Path c = Files.writeString(workRoot.resolve("faults.c"), FAULTS);
        faults = NativeToolchain.compile(List.of(c), workRoot, List.of("-O0")).files().getFirst();
    }

    @AfterAll
    static void deleteWorkRoot() {
        NativeToolchain.deleteRecursively(workRoot);
    }

    private static Result jdyld(List<String> arguments) {
        List<String> command = NativeToolchain.jdyldCommand(workRoot);
        command.addAll(arguments);
        return NativeToolchain.run(command, workRoot, LIMIT);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "null     | 139 | SIGSEGV in loaded code: write to 0x0 \\(not mapped\\) at 0x[0-9a-f]+ \\(main\\+0x[0-9a-f]+\\) in set \\S*faults.o",
        "ud2      | 132 | SIGILL in loaded code: illegal instruction at 0x[0-9a-f]+ \\(main\\+0x[0-9a-f]+\\) in set \\S*faults.o",
        "unmapped | 139 | SIGSEGV in loaded code: jump to non-executable or unmapped memory at 0x10, called from 0x[0-9a-f]+ \\(main\\+0x[0-9a-f]+\\) in set \\S*faults.o",
        "noexec   | 139 | SIGSEGV in loaded code: jump to non-executable or unmapped memory at 0x[0-9a-f]+, called from 0x[0-9a-f]+ \\(main\\+0x[0-9a-f]+\\) in set \\S*faults.o",
        "overflow | 139 | SIGSEGV in loaded code: stack overflow \\(write to 0x[0-9a-f]+, by the stack pointer\\) at 0x[0-9a-f]+ \\(depth\\+0x[0-9a-f]+\\) in set \\S*faults.o",
    })
    void aFaultEndsTheProcessWithItsSignalAndOneLine(String fault, int status, String line) {
        Result result = jdyld(List.of("run", faults.toString(), "--", fault));
        assertThat(result.timedOut()).as(result::describe).isFalse();
        assertThat(result.exitCode()).as(result::describe).isEqualTo(status);
        assertThat(result.stderr()).as(result::describe).matches("jdyld: " + line + "\n");
        assertThat(NativeToolchain.crashReports(workRoot)).as(result::describe).isEmpty();
    }

    @Test
    void nestedFunctionsRunWithAWarningAsLdGivesAndLayoutSaysSo() throws IOException {
        Path c = Files.writeString(workRoot.resolve("nested.c"), """
                static int apply(int (*f)(int), int x) { return f(x); }
                int main(void) { int k = 3; int add(int x) { return x + k; } return apply(add, 4) == 7 ? 0 : 1; }
                """);
        Path nested = NativeToolchain.compile(List.of(c), workRoot, List.of("-O0")).files().getFirst();
        Result run = jdyld(List.of("run", nested.toString()));
        assertThat(run.timedOut()).as(run::describe).isFalse();
        assertThat(run.exitCode()).as(run::describe).isZero();
        assertThat(run.stderr()).isEqualTo("jdyld: warning: " + nested + ": its .note.GNU-stack section is executable;"
                + " the threads that run it get an executable stack\n");
        List<String> layout = new ArrayList<>(jdyld(List.of("layout", nested.toString())).stdout().lines().toList());
        assertThat(layout).contains("Executable stack: needed (" + nested + ": its .note.GNU-stack section is executable)");
        assertThat(jdyld(List.of("layout", "--json", nested.toString())).stdout())
                .contains("\"executableStack\": \"" + nested + ": its .note.GNU-stack section is executable\"");
        assertThat(jdyld(List.of("layout", faults.toString())).stdout()).contains("Executable stack: not needed");
    }
}
