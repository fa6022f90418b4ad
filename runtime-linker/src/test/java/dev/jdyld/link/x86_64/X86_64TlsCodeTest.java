package dev.jdyld.link;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/** The emitted TLS runtime code, disassembled with Capstone, is the documented listing. */
class X86_64TlsCodeTest {
    private static final long GETSPECIFIC = 0x1122334455667788L;
    private static final long SLOW_PATH = 0x0102030405060708L;
    private static final long FREE = 0x0a0b0c0d0e0f1011L;

    private static List<Disassembler.Instruction> disassembled() {
        MemorySegment text = MemorySegment.ofArray(new byte[X86_64TlsCode.SIZE]);
        X86_64TlsCode.write(text, 0, GETSPECIFIC, SLOW_PATH, FREE);
        try (Disassembler disassembler = new Disassembler()) {
            return disassembler.disassemble(text, 0);
        }
    }

    private static List<String> listing(List<Disassembler.Instruction> code, long from, long to) {
        return code.stream().filter(i -> i.address() >= from && i.address() < to).map(Object::toString).toList();
    }

    @Test
    void everyByteDecodesAndTheEntryPointsStartInstructions() {
        List<Disassembler.Instruction> code = disassembled();
        assertThat(code.stream().mapToInt(Disassembler.Instruction::size).sum()).isEqualTo(X86_64TlsCode.SIZE);
        assertThat(code).extracting(Disassembler.Instruction::address)
                .contains((long) X86_64TlsCode.TLS_GET_ADDR, (long) X86_64TlsCode.TLSDESC_RESOLVER,
                        (long) X86_64TlsCode.DESTRUCTOR);
    }

    @Test
    void tlsGetAddrFindsTheBlockWithPthreadGetspecificAndFallsBackToTheUpcall() {
        assertThat(listing(disassembled(), X86_64TlsCode.TLS_GET_ADDR, X86_64TlsCode.TLSDESC_RESOLVER)).containsExactly(
                "pushq %rdi",
                "movl (%rdi), %edi",
                "movabsq $0x1122334455667788, %rax",
                "callq *%rax",
                "popq %rdi",
                "testq %rax, %rax",
                "je 0x1a",
                "addq 8(%rdi), %rax",
                "retq",
                "movabsq $0x102030405060708, %rax",
                "jmpq *%rax",
                "int3",
                "int3");
    }

    @Test
    void descriptorResolverPreservesEveryRegisterButRaxAndReturnsAThreadPointerOffset() {
        List<String> resolver = listing(disassembled(), X86_64TlsCode.TLSDESC_RESOLVER, X86_64TlsCode.DESTRUCTOR);
        List<String> saved = List.of("%rdi", "%rsi", "%rdx", "%rcx", "%r8", "%r9", "%r10", "%r11", "%rbp");
        assertThat(resolver.subList(0, saved.size())).containsExactlyElementsOf(saved.stream().map(r -> "pushq " + r).toList());
        assertThat(resolver).contains("andq $0xfffffffffffffff0, %rsp", "leaq 8(%rax), %rdi",
                "movabsq $0x1122334455667788, %rax", "movabsq $0x102030405060708, %rax", "subq %fs:0, %rax",
                "jmp 0x5b");
        int ret = resolver.indexOf("retq");
        assertThat(resolver.subList(ret - saved.size(), ret))
                .containsExactlyElementsOf(saved.reversed().stream().map(r -> "popq " + r).toList());
        // The slow path is an upcall into the JVM: every xmm register is saved around it.
        IntStream.range(0, 16).forEach(x -> {
            assertThat(resolver).anyMatch(i -> i.startsWith("movdqu %xmm" + x + ", "));
            assertThat(resolver).anyMatch(i -> i.startsWith("movdqu ") && i.endsWith(", %xmm" + x));
        });
    }

    @Test
    void destructorTakesTheBlockFromItsSlotAtomicallyAndFreesIt() {
        List<String> destructor = listing(disassembled(), X86_64TlsCode.DESTRUCTOR, X86_64TlsCode.SIZE);
        assertThat(destructor.subList(0, 9)).containsExactly(
                "movq -8(%rdi), %rax",
                "xorl %ecx, %ecx",
                "xchgq %rcx, (%rax)",
                "testq %rcx, %rcx",
                "je 0x1b1",
                "movq -0x10(%rdi), %rdi",
                "movabsq $0xa0b0c0d0e0f1011, %rax",
                "jmpq *%rax",
                "retq");
        assertThat(destructor.subList(9, destructor.size())).containsOnly("int3");
    }
}
