package dev.jdyld.link.x86_64;

import dev.jdyld.elf.ElfObject;
import dev.jdyld.link.arch.Relocation;
import dev.jdyld.link.arch.RelocationTarget;

import java.lang.foreign.MemorySegment;

import static dev.jdyld.link.x86_64.X86_64Relocation.R_X86_64_REX_GOTPCRELX;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * The psABI's optimisation of {@code R_X86_64_GOTPCRELX} and {@code R_X86_64_REX_GOTPCRELX}
 * (x86-64 psABI, "Optimize GOTPCRELX Relocations"): when the symbol is the set's own and not an
 * IFUNC, an absolute or a thread-local, the instruction that loads its address from the GOT is
 * rewritten to compute it, and the symbol needs no GOT slot. The rewritten forms are GNU ld's and
 * mold's, byte for byte:
 * <ul>
 *   <li>{@code mov foo@GOTPCREL(%rip), %reg} ({@code [REX] 8b modrm}, RIP-relative) becomes
 *       {@code lea foo(%rip), %reg} ({@code [REX] 8d modrm}); the field becomes {@code S + A - P},
 *       32-bit signed.</li>
 *   <li>{@code call *foo@GOTPCREL(%rip)} ({@code ff 15}) becomes {@code addr32 call foo}
 *       ({@code 67 e8}); the field becomes {@code S + A - P}, 32-bit signed.</li>
 *   <li>{@code jmp *foo@GOTPCREL(%rip)} ({@code ff 25}) becomes {@code jmp foo; nop}
 *       ({@code e9 rel32 90}): the field moves one byte back and becomes {@code S + A - P + 1},
 *       32-bit signed.</li>
 * </ul>
 * The scan decides ({@link #isRelaxable(Relocation)}, with the engine saying whether the symbol
 * qualifies) and then requests no GOT slot; the apply loop relaxes exactly the entries whose symbol
 * has no slot, so a symbol that some other reference still needs a slot for keeps every load
 * through the GOT. Plain {@code R_X86_64_GOTPCREL} is never rewritten: its instruction is unknown.
 * Nor is an entry whose addend is not {@code -4}: {@code movl foo@GOTPCREL+4(%rip), %eax} reads
 * the upper half of the slot, which no {@code lea} computes (GNU ld and lld keep it too).
 */
final class X86_64GotRelaxation {
    private X86_64GotRelaxation() {}

    private static final int MOV = 0x8b, LEA = 0x8d, INDIRECT = 0xff, CALL_RIP = 0x15, JMP_RIP = 0x25;
    private static final int ADDR32 = 0x67, CALL = 0xe8, JMP = 0xe9, NOP = 0x90;

    /**
     * Whether the instruction before a {@code GOTPCRELX}/{@code REX_GOTPCRELX} field is one of the
     * rewritable forms, reading the slot it ends with (addend {@code -4}).
     */
    static boolean isRelaxable(Relocation relocation) {
        ElfObject object = relocation.object();
        long offset = relocation.offset();
        boolean rex = relocation.type() == R_X86_64_REX_GOTPCRELX;
        if (relocation.addend() != -4 || offset < (rex ? 3 : 2)) {
            return false;
        }
        long at = object.sectionOffset[relocation.targetSection()] + offset;
        return form(object.data, at, rex) != Form.NONE;
    }

    private enum Form { NONE, MOV, CALL, JMP }

    /** The form of the instruction whose field is at {@code at} of {@code bytes}. */
    private static Form form(MemorySegment bytes, long at, boolean rex) {
        int opcode = Byte.toUnsignedInt(bytes.get(JAVA_BYTE, at - 2));
        int modrm = Byte.toUnsignedInt(bytes.get(JAVA_BYTE, at - 1));
        if (rex && (Byte.toUnsignedInt(bytes.get(JAVA_BYTE, at - 3)) & 0xf0) != 0x40) {
            return Form.NONE;
        }
        if (opcode == MOV && (modrm & 0xc7) == 0x05) { // mod 00, r/m 101: RIP-relative
            return Form.MOV;
        }
        if (!rex && opcode == INDIRECT && modrm == CALL_RIP) {
            return Form.CALL;
        }
        if (!rex && opcode == INDIRECT && modrm == JMP_RIP) {
            return Form.JMP;
        }
        return Form.NONE;
    }

    /**
     * Rewrites the instruction of the entry at {@code entry} (field at {@code offset}) to reach
     * {@code value} = {@code S + A - P} directly, range-checked as any 32-bit signed field.
     */
    static void relax(RelocationTarget target, long offset, int type, long value, long entry) {
        MemorySegment bytes = target.bytes;
        switch (offset < 3 && type == R_X86_64_REX_GOTPCRELX || offset < 2 ? Form.NONE
                : form(bytes, offset, type == R_X86_64_REX_GOTPCRELX)) {
            case MOV -> {
                target.putSigned32(offset, value, entry); // range-checked before the opcode changes
                bytes.set(JAVA_BYTE, offset - 2, (byte) LEA);
            }
            case CALL -> {
                target.putSigned32(offset, value, entry);
                bytes.set(JAVA_BYTE, offset - 2, (byte) ADDR32);
                bytes.set(JAVA_BYTE, offset - 1, (byte) CALL);
            }
            case JMP -> {
                target.putSigned32(offset - 1, value + 1, entry);
                bytes.set(JAVA_BYTE, offset - 2, (byte) JMP);
                bytes.set(JAVA_BYTE, offset + 3, (byte) NOP);
            }
            case NONE -> throw target.error(entry, "the symbol has no GOT slot and the instruction is not one"
                    + " that can be rewritten to reach it directly");
        }
    }
}
