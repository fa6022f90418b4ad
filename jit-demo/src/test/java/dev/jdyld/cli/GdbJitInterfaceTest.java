package dev.jdyld.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

/**
 * GDB's JIT interface: a batch gdb runs {@code jdyld run --gdb} in a child JVM, stops at a
 * breakpoint set by name on a loaded function before it was loaded, and {@code bt} names the
 * loaded frames; with {@code -g}, the source line and the arguments too (the object's DWARF,
 * relocated by gdb against the load addresses).
 */
class GdbJitInterfaceTest {
    @TempDir
    Path dir;

    @Test
    void gdbStopsInALoadedFunctionByNameAndNamesItsFrames() throws Exception {
        assertThat(gdb("-O0"))
                .containsPattern("hit Breakpoint 1, 0x[0-9a-f]+ in loaded_function \\(\\)")
                .containsPattern("#0 +0x[0-9a-f]+ in loaded_function \\(\\)")
                .containsPattern("#1 +0x[0-9a-f]+ in main \\(\\)");
    }

    @Test
    void withDebugInformationGdbShowsSourceLinesAndArguments() throws Exception {
        assertThat(gdb("-O0", "-g"))
                .containsPattern("hit Breakpoint 1, loaded_function \\(x=20\\) at .*prog\\.c:2")
                .containsPattern("#0 +loaded_function \\(x=20\\) at .*prog\\.c:2")
                .containsPattern("#1 +0x[0-9a-f]+ in main \\(\\) at .*prog\\.c:3");
    }

    /** The README's gdb example, its commands as written (bin/jdyld by its path), on the classes under test. */
    @Test
    void theReadmesGdbExampleRunsAsWritten() throws Exception {
        assumeThat(NativeToolchain.onPath("gdb")).as("gdb (installed by .ci/run)").isTrue();
        Path root = Path.of("").toAbsolutePath().getParent();
        String readme = Files.readString(root.resolve("README.md"));
        int marker = readme.indexOf("<!-- gdb example");
        assertThat(marker).as("the README's gdb example").isPositive();
        String program = readme.substring(readme.indexOf("prog.c is\n", marker) + "prog.c is\n".length(),
                readme.indexOf(" -->", marker));
        Files.writeString(dir.resolve("prog.c"), program + "\n");
        int start = readme.indexOf("```\n", marker) + 4;
        String block = readme.substring(start, readme.indexOf("\n```", start));
        StringBuilder script = new StringBuilder("set -e\n");
        String pending = "";
        for (String line : block.lines().toList()) {
            if (line.startsWith("$ ") || !pending.isEmpty()) {
                String command = (pending + (line.startsWith("$ ") ? line.substring(2) : line.strip()));
                if (command.endsWith("\\")) {
                    pending = command.substring(0, command.length() - 1) + " ";
                    continue;
                }
                pending = "";
                script.append(command.replaceFirst("^bin/jdyld ", root.resolve("bin/jdyld") + " ")).append('\n');
            }
        }
        ProcessBuilder builder = new ProcessBuilder("bash", "-c", script.toString()).directory(dir.toFile())
                .redirectErrorStream(true);
        builder.environment().put("JDYLD_CLASSPATH", System.getProperty("java.class.path"));
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(process.waitFor(3, java.util.concurrent.TimeUnit.MINUTES)).as(output).isTrue();
        assertThat(script.toString()).contains("gcc -c prog.c").contains("--under gdb -batch");
        assertThat(output).contains("hit Breakpoint 1").containsPattern("#0 .* in loaded_function")
                .containsPattern("#1 .* in main");
    }

    private String gdb(String... flags) throws Exception {
        assumeThat(NativeToolchain.onPath("gdb")).as("gdb (installed by .ci/run)").isTrue();
        Path c = Files.writeString(dir.resolve("prog.c"), """
                #include <stdio.h>
                int loaded_function(int x) { return x * 2 + 1; }
                int main(void) { printf("%d\\n", loaded_function(20)); return 0; }
                """);
        Path object = NativeToolchain.compile(List.of(c), dir, List.of(flags)).files().get(0);
        List<String> command = new ArrayList<>(List.of("gdb", "-batch", "-nx",
                "-ex", "handle SIGSEGV nostop noprint pass", "-ex", "handle SIGILL nostop noprint pass",
                "-ex", "set breakpoint pending on", "-ex", "break loaded_function", "-ex", "run", "-ex", "bt 2",
                "-ex", "kill", "--args"));
        command.addAll(NativeToolchain.jdyldCommand(dir));
        command.addAll(List.of("run", "--gdb", object.toString()));
        NativeToolchain.Result result = NativeToolchain.run(command, dir, Duration.ofMinutes(3));
        return result.stdout() + result.stderr();
    }
}
