package dev.jdyld.link.x86_64;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/** The emitted TLS runtime code, disassembled by GNU objdump (an independent decoder), is the documented listing. */
class X86_64TlsCodeTest {
    private static final long GETSPECIFIC = 0x1122334455667788L;
    private static final long SLOW_PATH = 0x0102030405060708L;
    private static final long FREE = 0x0a0b0c0d0e0f1011L;

    @TempDir
    static Path dir;

    /** One decoded instruction: where, how long, and its text with single spaces ({@code mov (%rdi),%edi}). */
    record Instruction(long address, int size, String text) {}

    private static List<Instruction> disassembled() throws IOException, InterruptedException {
        byte[] code = new byte[X86_64TlsCode.SIZE];
        X86_64TlsCode.write(MemorySegment.ofArray(code), 0, GETSPECIFIC, SLOW_PATH, FREE);
        return disassembled(code);
    }

    private static List<Instruction> disassembled(byte[] code) throws IOException, InterruptedException {
        Path file = Files.write(dir.resolve("tls-code.bin"), code);
        Process objdump = new ProcessBuilder("objdump", "-D", "-b", "binary", "-m", "i386:x86-64", "--insn-width=16",
                file.toString()).redirectErrorStream(true).start();
        String listing = new String(objdump.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(objdump.waitFor()).as(listing).isZero();
        List<Instruction> instructions = new ArrayList<>();
        for (String line : listing.lines().toList()) {
            String[] columns = line.split("\t");
            if (columns.length == 3 && columns[0].trim().matches("[0-9a-f]+:")) {
                long address = Long.parseLong(columns[0].trim().replace(":", ""), 16);
                int size = columns[1].trim().split(" ").length;
                instructions.add(new Instruction(address, size, columns[2].trim().replaceAll(" +", " ")));
            }
        }
        return instructions;
    }

    private static List<String> listing(List<Instruction> code, long from, long to) {
        return code.stream().filter(i -> i.address() >= from && i.address() < to).map(Instruction::text).toList();
    }

    @Test
    void everyByteDecodesAndTheEntryPointsStartInstructions() throws Exception {
        List<Instruction> code = disassembled();
        assertThat(code).noneMatch(i -> i.text().startsWith("(bad)"));
        assertThat(code.stream().mapToInt(Instruction::size).sum()).isEqualTo(X86_64TlsCode.SIZE);
        assertThat(code).extracting(Instruction::address)
                .contains((long) X86_64TlsCode.TLS_GET_ADDR, (long) X86_64TlsCode.TLSDESC_RESOLVER,
                        (long) X86_64TlsCode.DESTRUCTOR);
    }

    @Test
    void tlsGetAddrFindsTheBlockWithPthreadGetspecificAndFallsBackToTheUpcall() throws Exception {
        assertThat(listing(disassembled(), X86_64TlsCode.TLS_GET_ADDR, X86_64TlsCode.TLSDESC_RESOLVER)).containsExactly(
                "push %rdi",
                "mov (%rdi),%edi",
                "movabs $0x1122334455667788,%rax",
                "call *%rax",
                "pop %rdi",
                "test %rax,%rax",
                "je 0x1a",
                "add 0x8(%rdi),%rax",
                "ret",
                "movabs $0x102030405060708,%rax",
                "jmp *%rax",
                "int3",
                "int3");
    }

    @Test
    void descriptorResolverPreservesEveryRegisterButRaxAndReturnsAThreadPointerOffset() throws Exception {
        List<String> resolver = listing(disassembled(), X86_64TlsCode.TLSDESC_RESOLVER, X86_64TlsCode.DESTRUCTOR);
        List<String> saved = List.of("%rdi", "%rsi", "%rdx", "%rcx", "%r8", "%r9", "%r10", "%r11", "%rbp");
        assertThat(resolver.subList(0, saved.size())).containsExactlyElementsOf(saved.stream().map(r -> "push " + r).toList());
        assertThat(resolver).contains("and $0xfffffffffffffff0,%rsp", "lea 0x8(%rax),%rdi",
                "movabs $0x1122334455667788,%rax", "movabs $0x102030405060708,%rax", "sub %fs:0x0,%rax",
                "jmp 0x5b");
        int ret = resolver.indexOf("ret");
        assertThat(resolver.subList(ret - saved.size(), ret))
                .containsExactlyElementsOf(saved.reversed().stream().map(r -> "pop " + r).toList());
        // The slow path is an upcall into the JVM: every xmm register is saved around it.
        IntStream.range(0, 16).forEach(x -> {
            assertThat(resolver).anyMatch(i -> i.startsWith("movdqu %xmm" + x + ","));
            assertThat(resolver).anyMatch(i -> i.startsWith("movdqu ") && i.endsWith(",%xmm" + x));
        });
    }

    @Test
    void destructorTakesTheBlockFromItsSlotAtomicallyAndFreesIt() throws Exception {
        List<String> destructor = listing(disassembled(), X86_64TlsCode.DESTRUCTOR, X86_64TlsCode.SIZE);
        assertThat(destructor.subList(0, 9)).containsExactly(
                "mov -0x8(%rdi),%rax",
                "xor %ecx,%ecx",
                "xchg %rcx,(%rax)",
                "test %rcx,%rcx",
                "je 0x1b1",
                "mov -0x10(%rdi),%rdi",
                "movabs $0xa0b0c0d0e0f1011,%rax",
                "jmp *%rax",
                "ret");
        assertThat(destructor.subList(9, destructor.size())).containsOnly("int3");
    }

    @Test
    void staticTlsRoutinesAddTheOffsetToTheThreadPointerAndTouchNothingElse() throws Exception {
        List<Instruction> code = disassembled(X86_64TlsCode.staticCode());
        assertThat(listing(code, X86_64TlsCode.TLS_GET_ADDR, X86_64TlsCode.TLS_GET_ADDR + 0x0e)).containsExactly(
                "mov %fs:0x0,%rax",
                "add 0x8(%rdi),%rax",
                "ret");
        assertThat(listing(code, X86_64TlsCode.TLSDESC_RESOLVER, X86_64TlsCode.TLSDESC_RESOLVER + 5)).containsExactly(
                "mov 0x10(%rax),%rax",
                "ret");
        assertThat(code).extracting(Instruction::address).contains((long) X86_64TlsCode.TLS_GET_ADDR,
                (long) X86_64TlsCode.TLSDESC_RESOLVER);
        assertThat(code.stream().filter(i -> i.address() >= 0x0e && i.address() < X86_64TlsCode.TLSDESC_RESOLVER
                || i.address() >= X86_64TlsCode.TLSDESC_RESOLVER + 5).map(Instruction::text)).containsOnly("int3");
    }
}
