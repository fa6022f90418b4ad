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
    @TempDir
    Path dir;

    private record Session(String stdout, String stderr, int exitCode) {}

    private Session run(List<String> command, String input) throws IOException, InterruptedException {
        Path in = Files.writeString(dir.resolve("input.txt"), input);
        Path out = dir.resolve("stdout.txt");
        Path err = dir.resolve("stderr.txt");
        Process process = new ProcessBuilder(command).directory(dir.toFile())
                .redirectInput(in.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("the REPL did not finish");
        }
        return new Session(Files.readString(out), Files.readString(err), process.exitValue());
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

    @Test
    void redefinitionReachesEarlierCallersGlobalsKeepTheirValueAndCompilerErrorsAreShown() throws Exception {
        Session session = run(repl(), """
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
        assertThat(session.stderr()).contains("input:1:").contains("error:").contains("nothing_here");
        assertThat(session.exitCode()).isZero();
    }

    /** The same session with the code in a child-process executor prints the same. */
    @Test
    void isolatedTheSessionPrintsTheSame() throws Exception {
        List<String> command = repl();
        command.add("--isolate");
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
                "still" " going"
                3.5 / 2
                printf("from C %d\\n", 7);
                (char) 65
                """);
        assertThat(session.stdout()).isEqualTo("""
                10
                28
                6
                "still going"
                1.75
                from C 7
                65 'A'
                """);
        assertThat(session.stderr()).isEmpty();
    }

    /**
     * A snippet that crashes ends the child-process executor, not the REPL: it says so, starts a new
     * executor, loads the session's definitions again, and goes on.
     */
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
        assertThat(session.stderr()).contains("Segmentation fault at address 0x0 in __jdyld_")
                .contains("the executor was restarted and 2 definitions loaded again");
        assertThat(session.exitCode()).isZero();
    }

    @Test
    void throughAPseudoTerminalValuesPrintWithTheirType() throws Exception {
        assumeThat(Path.of("/usr/bin/script")).as("util-linux script gives the REPL a terminal").exists();
        List<String> command = new ArrayList<>(List.of("script", "-qfec", String.join(" ", repl().stream()
                .map(word -> "'" + word + "'").toList()), "/dev/null"));
        Session session = run(command, "int sq(int x){return x*x;}\nsq(12)\nint sq(int x){return x+1;}\nsq(12)\n:quit\n");
        assertThat(session.stdout()).contains("jdyld C REPL").contains("(int) 144").contains("(int) 13");
        assertThat(session.exitCode()).isZero();
    }
}
