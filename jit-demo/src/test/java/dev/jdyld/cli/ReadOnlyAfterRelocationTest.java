package dev.jdyld.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jdyld.cli.NativeToolchain.Result;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The GOT is written by relocation and then made read-only (the RELRO analogue): loaded code that
 * writes to its own GOT slot faults, while the same write to a data variable succeeds. Each case
 * runs in a child JVM, since the fault ends the process.
 */
class ReadOnlyAfterRelocationTest {
    private Path dir;

    @BeforeEach
    void createDir() {
        dir = NativeToolchain.newWorkDir("jdyld-relro");
    }

    @AfterEach
    void deleteDir() {
        NativeToolchain.deleteRecursively(dir);
    }

    /** A program that prints "before", stores 0 into {@code target}, then prints "after". */
    private Path program(String name, String store) throws IOException {
        Path source = dir.resolve(name + ".s");
        Files.writeString(source, """
                .text
                .globl main
                main:
                  push %rbx
                  lea before(%rip), %rdi
                  call puts@PLT
                  xor %edi, %edi
                  call fflush@PLT
                  STORE
                  lea after(%rip), %rdi
                  call puts@PLT
                  xor %eax, %eax
                  pop %rbx
                  ret
                .data
                .globl counter
                counter: .quad 5
                .section .rodata
                before: .asciz "before"
                after: .asciz "after"
                """.replace("STORE", store));
        return NativeToolchain.assemble(source, dir.resolve(name + ".o"));
    }

    @Test
    void writingTheGotFromLoadedCodeFaults() throws IOException {
        Path object = program("got-write", "movq $0, counter@GOTPCREL(%rip)");
        Result result = NativeToolchain.runJdyld(List.of(), List.of(object), List.of(), dir);
        // The JVM's fatal-error banner goes to stdout after the program's own line.
        assertThat(result.stdout()).as(result.describe()).startsWith("before\n").doesNotContain("after");
        assertThat(result.exitCode()).as(result.describe()).isNotZero();
        assertThat(result.stdout() + result.stderr()).as(result.describe()).contains("SIGSEGV");
    }

    @Test
    void writingDataFromLoadedCodeWorks() throws IOException {
        Path object = program("data-write", "movq $0, counter(%rip)");
        Result result = NativeToolchain.runJdyld(List.of(), List.of(object), List.of(), dir);
        assertThat(result.stdout()).as(result.describe()).isEqualTo("before\nafter\n");
        assertThat(result.exitCode()).as(result.describe()).isZero();
    }
}
