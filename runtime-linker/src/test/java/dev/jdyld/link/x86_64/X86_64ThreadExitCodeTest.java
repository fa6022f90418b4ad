package dev.jdyld.link.x86_64;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The thread-exit entries, disassembled by GNU objdump, are the documented listing: each asks how
 * many JVMs exist and goes to its upcall, or with none does glibc's part itself.
 */
class X86_64ThreadExitCodeTest {
    private static final long JVMS = 0x1111111111111111L;
    private static final long REGISTER_UPCALL = 0x2222222222222222L;
    private static final long CXA_THREAD_ATEXIT_IMPL = 0x3333333333333333L;
    private static final long RUN_UPCALL = 0x4444444444444444L;
    private static final long FREE = 0x5555555555555555L;

    @TempDir
    Path dir;

    /** Address and text of each instruction, spaces collapsed ({@code push %rdi}). */
    private List<String[]> disassembled() throws Exception {
        byte[] code = new byte[X86_64ThreadExitCode.SIZE];
        X86_64ThreadExitCode.write(MemorySegment.ofArray(code), 0, JVMS, REGISTER_UPCALL, CXA_THREAD_ATEXIT_IMPL,
                RUN_UPCALL, FREE);
        Path file = Files.write(dir.resolve("thread-exit.bin"), code);
        Process objdump = new ProcessBuilder("objdump", "-D", "-b", "binary", "-m", "i386:x86-64", "--insn-width=16",
                file.toString()).redirectErrorStream(true).start();
        String listing = new String(objdump.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(objdump.waitFor()).as(listing).isZero();
        List<String[]> instructions = new ArrayList<>();
        for (String line : listing.lines().toList()) {
            String[] columns = line.split("\t");
            if (columns.length == 3 && columns[0].trim().matches("[0-9a-f]+:")) {
                instructions.add(new String[] {columns[0].trim().replace(":", ""),
                        columns[2].trim().replaceAll(" +", " ")});
            }
        }
        return instructions;
    }

    private List<String> listing(int from, int to) throws Exception {
        return disassembled().stream().filter(i -> Long.parseLong(i[0], 16) >= from && Long.parseLong(i[0], 16) < to)
                .map(i -> i[1]).filter(text -> !text.equals("int3")).toList();
    }

    @Test
    void everyByteDecodesAndTheEntriesStartInstructions() throws Exception {
        List<String[]> code = disassembled();
        assertThat(code).noneMatch(i -> i[1].startsWith("(bad)"));
        assertThat(code).extracting(i -> Long.parseLong(i[0], 16))
                .contains((long) X86_64ThreadExitCode.REGISTER, (long) X86_64ThreadExitCode.RUN, 0x70L);
    }

    @Test
    void registrationGoesToTheUpcallWhileAJvmExistsAndToGlibcUnchangedAfter() throws Exception {
        assertThat(listing(X86_64ThreadExitCode.REGISTER, X86_64ThreadExitCode.RUN)).containsExactly(
                "push %rdi", "push %rsi", "push %rdx",
                "call 0x70",
                "pop %rdx", "pop %rsi", "pop %rdi",
                "test %eax,%eax",
                "je 0x1b",
                "movabs $0x2222222222222222,%rax",
                "jmp *%rax",
                "movabs $0x3333333333333333,%rax",
                "jmp *%rax");
    }

    @Test
    void runGoesToTheUpcallWhileAJvmExistsAndCallsTheDestructorAndFreesTheRecordAfter() throws Exception {
        assertThat(listing(X86_64ThreadExitCode.RUN, 0x70)).containsExactly(
                "push %rbx",
                "mov %rdi,%rbx",
                "call 0x70",
                "mov %rbx,%rdi",
                "test %eax,%eax",
                "je 0x4d",
                "pop %rbx",
                "movabs $0x4444444444444444,%rax",
                "jmp *%rax",
                "mov 0x8(%rbx),%rdi",
                "call *(%rbx)",
                "mov %rbx,%rdi",
                "pop %rbx",
                "movabs $0x5555555555555555,%rax",
                "jmp *%rax");
    }

    @Test
    void theJvmCountComesFromJniGetCreatedJavaVmsWithNoBuffer() throws Exception {
        assertThat(listing(0x70, X86_64ThreadExitCode.SIZE)).containsExactly(
                "sub $0x18,%rsp",
                "movl $0x0,(%rsp)",
                "xor %edi,%edi",
                "xor %esi,%esi",
                "mov %rsp,%rdx",
                "movabs $0x1111111111111111,%rax",
                "call *%rax",
                "mov (%rsp),%eax",
                "add $0x18,%rsp",
                "ret");
    }
}
