package dev.jdyld.jit;

import dev.jdyld.core.ObjectFile;
import dev.jdyld.core.SetLayout;
import dev.jdyld.runtime.HostSymbols;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Which GOT references relaxation may bypass, on an assembled object with one function per case:
 * the set's own function and data (a global, a local, a {@code jmp *} at the very start of its
 * section, a {@code mov} without REX) lose their slots; a binary operation, plain
 * {@code GOTPCREL}, a load with another addend than -4, a host variable, an absolute symbol, an
 * IFUNC and a function of an earlier set keep theirs, and the earlier set's function still follows
 * a redefinition. Every function returns what it would without relaxation.
 */
class GotRelaxationFormsTest {
    private static final String FORMS = """
                .section .text.first,"ax",@progbits
                .globl first
            first:
                jmp *own_function@GOTPCREL(%rip)

                .text
                .globl own_function, own_data_low, local_value, binop, host_stderr, absolute_value, ifunc_call
                .globl plain_gotpcrel, earlier_call, high_half, low_half, own_data, binop_data, plain_data, foo, absolute
            own_function:
                movl $42, %eax
                ret
            own_data_low:
                movl own_data@GOTPCREL(%rip), %eax
                ret
            local_value:
                movq local_data@GOTPCREL(%rip), %rax
                movq (%rax), %rax
                ret
            binop:
                xorl %eax, %eax
                addq binop_data@GOTPCREL(%rip), %rax
                ret
            host_stderr:
                movq stderr@GOTPCREL(%rip), %rax
                movq (%rax), %rax
                ret
            absolute_value:
                movq absolute@GOTPCREL(%rip), %rax
                ret
            ifunc_call:
                jmp *pick@GOTPCREL(%rip)
            plain_gotpcrel:
                .byte 0x48, 0x8b, 0x05
                .reloc ., R_X86_64_GOTPCREL, plain_data - 4
                .long 0
                ret
            earlier_call:
                call *earlier_function@GOTPCREL(%rip)
                addl $1, %eax
                ret
            # movl foo@GOTPCREL+4(%rip), %eax: the upper half of foo's slot
            high_half:
                .byte 0x8b, 0x05
                .reloc ., R_X86_64_GOTPCRELX, foo
                .long 0
                ret
            low_half:
                movl foo@GOTPCREL(%rip), %eax
                ret
            picked:
                movl $7, %eax
                ret
                .globl pick
                .type pick, @gnu_indirect_function
            pick:
                leaq picked(%rip), %rax
                ret

                .data
                .p2align 3
            own_data: .quad 1
            local_data: .quad 0x1122334455667788
            binop_data: .quad 2
            plain_data: .quad 3
            foo: .quad 4
                .set absolute, 0x1234
            """;
    private static final Set<String> KEPT = Set.of("binop_data", "plain_data", "foo", "stderr", "absolute", "pick",
            "earlier_function");
    private static final FunctionDescriptor LONG = FunctionDescriptor.of(JAVA_LONG);
    private static final FunctionDescriptor INT = FunctionDescriptor.of(JAVA_INT);

    @TempDir
    Path dir;

    @Test
    void onlyTheSetsOwnSymbolsReadByMovCallOrJmpLoseTheirSlots() throws Throwable {
        Path forms = Toolchain.assemble(dir, "forms", FORMS);
        Path earlier = Toolchain.compile(dir, "earlier", "int earlier_function(void) { return 10; }", "-O2", "-fPIC");
        Path later = Toolchain.compile(dir, "later", "int earlier_function(void) { return 20; }", "-O2", "-fPIC");
        for (boolean relax : new boolean[] {true, false}) {
            try (JitLinker linker = JitLinker.builder().relaxGot(relax).build()) {
                linker.load(earlier);
                LoadedSet set = linker.load(forms);
                Set<String> slots = set.layout().symbols().stream()
                        .filter(s -> s.kind() == SetLayout.Symbol.Kind.GOT).map(SetLayout.Symbol::name)
                        .collect(Collectors.toSet());
                if (relax) {
                    assertThat(slots).isEqualTo(KEPT);
                    assertThat(set.layout().gotEntries()).as("no slot for local_data either").isEqualTo(KEPT.size());
                } else {
                    assertThat(slots).containsAll(KEPT).contains("own_function", "own_data");
                    assertThat(set.layout().gotEntries()).isEqualTo(KEPT.size() + 3);
                }
                assertThat(code(set, "first", 6)).isEqualTo(relax ? "e9" + rel32(set, "first", 1, "own_function") + "90"
                        : "ff25" + code(set, "first", 6).substring(4));
                assertThat(code(set, "own_data_low", 2)).isEqualTo(relax ? "8d05" : "8b05");
                assertThat(code(set, "local_value", 3)).isEqualTo(relax ? "488d05" : "488b05");
                assertThat(code(set, "binop", 5)).isEqualTo("31c0480305");
                assertThat(code(set, "plain_gotpcrel", 3)).isEqualTo("488b05");
                assertThat(code(set, "earlier_call", 2)).isEqualTo("ff15");
                assertThat(code(set, "ifunc_call", 2)).isEqualTo("ff25");
                assertThat(code(set, "high_half", 2)).isEqualTo("8b05");
                assertThat(code(set, "low_half", 2)).as("foo has a slot, which every load of it uses").isEqualTo("8b05");

                assertThat((int) set.function("first", INT).invokeExact()).isEqualTo(42);
                assertThat((int) set.function("own_data_low", INT).invokeExact()).isEqualTo((int) set.address("own_data"));
                assertThat((long) set.function("local_value", LONG).invokeExact()).isEqualTo(0x1122334455667788L);
                assertThat((long) set.function("binop", LONG).invokeExact()).isEqualTo(set.address("binop_data"));
                long stderr = MemorySegment.ofAddress(new HostSymbols("x86_64-linux-gnu").find("stderr")).reinterpret(8)
                        .get(JAVA_LONG, 0);
                assertThat((long) set.function("host_stderr", LONG).invokeExact()).isEqualTo(stderr);
                assertThat((long) set.function("absolute_value", LONG).invokeExact()).isEqualTo(0x1234);
                assertThat((int) set.function("ifunc_call", INT).invokeExact()).isEqualTo(7);
                assertThat((long) set.function("plain_gotpcrel", LONG).invokeExact()).isEqualTo(set.address("plain_data"));
                long foo = set.address("foo");
                assertThat((int) set.function("high_half", INT).invokeExact()).isEqualTo((int) (foo >>> 32));
                assertThat((int) set.function("low_half", INT).invokeExact()).isEqualTo((int) foo);
                assertThat((int) set.function("earlier_call", INT).invokeExact()).isEqualTo(11);
                linker.redefine(List.of(ObjectFile.read(later)));
                assertThat((int) set.function("earlier_call", INT).invokeExact()).as("through the redirectable stub")
                        .isEqualTo(21);
            }
        }
    }

    /** The first {@code length} bytes of a loaded function, in hex. */
    private static String code(LoadedSet set, String function, int length) {
        return HexFormat.of().formatHex(MemorySegment.ofAddress(set.address(function)).reinterpret(length)
                .toArray(JAVA_BYTE));
    }

    /** The little-endian rel32 at {@code at} bytes into {@code function} that reaches {@code target}. */
    private static String rel32(LoadedSet set, String function, int at, String target) {
        int value = (int) (set.address(target) - (set.address(function) + at + 4));
        return HexFormat.of().formatHex(new byte[] {(byte) value, (byte) (value >> 8), (byte) (value >> 16),
                (byte) (value >> 24)});
    }
}
