package dev.jdyld.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code jdyld demo}, as a newcomer runs it: the gcc-built program, then the JIT compiled in Java. */
class DemoTest {
    @TempDir
    Path dir;

    @Test
    void theTourRunsTheProgramThenTheJitAndItsRedefinition() {
        List<String> command = NativeToolchain.jdyldCommand(dir);
        command.add("demo");
        NativeToolchain.Result result = NativeToolchain.run(command, dir, Duration.ofMinutes(2));
        assertThat(result.exitCode()).as(result.stderr()).isZero();
        assertThat(result.stdout())
                .contains("main returned 0")
                .containsPattern("in a \\d+-byte ELF object; loaded it from memory with \\d+ relocations")
                .containsPattern("<hello>:\\n\\s+[0-9a-f]+:\\s+53\\s+pushq %rbx")
                .contains("hello(tape) prints: Hello World!")
                .containsPattern("busy: 16.6 million loop iterations: compiled [0-9.]+ ms, Java interpreter [0-9.]+ ms \\(\\d+x\\), same tape: yes")
                .contains("the same compiled hello now prints: HELLO WORLD!")
                .contains("java_done was called back 3 times");
    }
}
