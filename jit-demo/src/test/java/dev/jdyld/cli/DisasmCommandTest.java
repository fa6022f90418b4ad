package dev.jdyld.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code jdyld disasm}: relocated code in memory, with calls, stubs and GOT slots named. */
class DisasmCommandTest {
    @TempDir
    Path dir;

    private String disasm(String... args) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream original = System.out;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            String[] command = new String[args.length + 1];
            command[0] = "disasm";
            System.arraycopy(args, 0, command, 1, args.length);
            assertThat(Main.execute(command)).isZero();
        } finally {
            System.setOut(original);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private Path compile() throws Exception {
        Path c = Files.writeString(dir.resolve("fib.c"), """
                #include <stdio.h>
                static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
                int main(void) { fputs("start\\n", stderr); printf("%d\\n", fib(10)); return 0; }
                """);
        return NativeToolchain.compile(List.of(c), dir, List.of("-O1", "-fPIC")).files().get(0);
    }

    @Test
    void callsToALocalFunctionStubsAndGotSlotsAreNamed() throws Exception {
        String text = disasm(compile().toString());
        assertThat(text).contains("section .text").contains("<fib>:").contains("<main>:")
                .containsPattern("\\s[0-9a-f]+:\\s+e8( [0-9a-f]{2}){4}\\s+callq 0x[0-9a-f]+  <fib>")
                .containsPattern("callq 0x[0-9a-f]+  <stub: printf>")
                .containsPattern("movq 0x[0-9a-f]+\\(%rip\\), %r[a-z0-9]+  <GOT: stderr>")
                .containsPattern("leaq 0x[0-9a-f]+\\(%rip\\), %rdi  <\\.rodata\\.str1\\.1(\\+0x[0-9a-f]+)?>")
                .containsPattern("<stub: printf>:\\n.*jmpq \\*0x[0-9a-f]+\\(%rip\\)  <GOT: printf>");
    }

    /** AArch64 code, loaded through the AArch64 executor: Capstone's ARM64 mode, with the same names. */
    @Test
    @org.junit.jupiter.api.condition.EnabledIf("dev.jdyld.cli.Aarch64DifferentialTest#toolchainInstalled")
    void aarch64CodeWithItsStubsAndGotSlotsNamed() throws Exception {
        Path c = Files.writeString(dir.resolve("fib64.c"), """
                #include <stdio.h>
                static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
                int main(void) { fputs("start\\n", stderr); printf("%d\\n", fib(10)); return 0; }
                """);
        Path object = NativeToolchain.compile(Aarch64DifferentialTest.CC, List.of(c), dir, List.of("-O1", "-fPIC"))
                .files().get(0);
        String text = disasm("--target", "aarch64", object.toString());
        assertThat(text).contains("<fib>:").contains("<main>:")
                .containsPattern("\\s[0-9a-f]+:\\s+([0-9a-f]{2} ){3}9[4-7]\\s+bl #0x[0-9a-f]+  <fib>")
                .containsPattern("bl #0x[0-9a-f]+  <stub: printf>")
                .containsPattern("ldr x\\d+, \\[x\\d+, #0x[0-9a-f]+\\]  <GOT: stderr>")
                .containsPattern("<stub: printf>:\\n.*adrp x16, #0x[0-9a-f]+\\n.*ldr x16, \\[x16, #0x[0-9a-f]+\\]  <GOT: printf>\\n"
                        + ".*br x16");
    }

    @Test
    void oneSymbolOnly() throws Exception {
        String text = disasm(compile().toString(), "--symbol", "fib");
        assertThat(text).contains("<fib>:").doesNotContain("<main>:").doesNotContain("stub: printf>:");
    }
}
