package dev.jdyld.link.aarch64;

import dev.jdyld.core.Location;
import dev.jdyld.core.RelocationException;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * The AArch64 relocation types of "ELF for the Arm 64-bit Architecture" (AAELF64, section 5.7),
 * each with its formula, the field it writes and the range it checks; the first part of AArch64
 * support, not yet wired into a load. {@link #write} takes the formula's result {@code X} and
 * puts it into the instruction or data word, refusing a value that does not fit: nothing is
 * silently truncated (the {@code _NC} kinds take the low bits by definition).
 *
 * <p>Notation as in AAELF64: {@code S} symbol address, {@code A} addend, {@code P} address of the
 * place, {@code Page(x)} is {@code x & ~0xfff}.
 */
final class Aarch64Relocation {
    private Aarch64Relocation() {}

    /** {@code S + A}, 64 bits. */
    static final int R_AARCH64_ABS64 = 257;
    /** {@code S + A}, 32 bits, -2^31 <= X < 2^32. */
    static final int R_AARCH64_ABS32 = 258;
    /** {@code S + A}, 16 bits, -2^15 <= X < 2^16. */
    static final int R_AARCH64_ABS16 = 259;
    /** {@code S + A - P}, 64 bits. */
    static final int R_AARCH64_PREL64 = 260;
    /** {@code S + A - P}, 32 bits, -2^31 <= X < 2^32. */
    static final int R_AARCH64_PREL32 = 261;
    /** {@code S + A - P}, 16 bits, -2^15 <= X < 2^16. */
    static final int R_AARCH64_PREL16 = 262;
    /** {@code S + A}, bits [15:0] into MOVZ/MOVK imm16, 0 <= X < 2^16. */
    static final int R_AARCH64_MOVW_UABS_G0 = 263;
    /** {@code S + A}, bits [15:0] into imm16, no check. */
    static final int R_AARCH64_MOVW_UABS_G0_NC = 264;
    /** {@code S + A}, bits [31:16] into imm16, 0 <= X < 2^32. */
    static final int R_AARCH64_MOVW_UABS_G1 = 265;
    /** {@code S + A}, bits [31:16] into imm16, no check. */
    static final int R_AARCH64_MOVW_UABS_G1_NC = 266;
    /** {@code S + A}, bits [47:32] into imm16, 0 <= X < 2^48. */
    static final int R_AARCH64_MOVW_UABS_G2 = 267;
    /** {@code S + A}, bits [47:32] into imm16, no check. */
    static final int R_AARCH64_MOVW_UABS_G2_NC = 268;
    /** {@code S + A}, bits [63:48] into imm16. */
    static final int R_AARCH64_MOVW_UABS_G3 = 269;
    /** {@code S + A - P}, bits [20:2] into LDR (literal) imm19, ±1 MiB, 4-byte aligned. */
    static final int R_AARCH64_LD_PREL_LO19 = 273;
    /** {@code S + A - P}, 21 bits into ADR immhi:immlo, ±1 MiB. */
    static final int R_AARCH64_ADR_PREL_LO21 = 274;
    /** {@code Page(S + A) - Page(P)}, bits [32:12] into ADRP immhi:immlo, ±4 GiB. */
    static final int R_AARCH64_ADR_PREL_PG_HI21 = 275;
    /** {@code Page(S + A) - Page(P)}, bits [32:12] into ADRP, no check. */
    static final int R_AARCH64_ADR_PREL_PG_HI21_NC = 276;
    /** {@code S + A}, bits [11:0] into ADD imm12, no check. */
    static final int R_AARCH64_ADD_ABS_LO12_NC = 277;
    /** {@code S + A}, bits [11:0] into LDRB/STRB imm12, no check. */
    static final int R_AARCH64_LDST8_ABS_LO12_NC = 278;
    /** {@code S + A - P}, bits [15:2] into TBZ/TBNZ imm14, ±32 KiB, 4-byte aligned. */
    static final int R_AARCH64_TSTBR14 = 279;
    /** {@code S + A - P}, bits [20:2] into B.cond/CBZ/CBNZ imm19, ±1 MiB, 4-byte aligned. */
    static final int R_AARCH64_CONDBR19 = 280;
    /** {@code S + A - P}, bits [27:2] into B imm26, ±128 MiB, 4-byte aligned. */
    static final int R_AARCH64_JUMP26 = 282;
    /** {@code S + A - P}, bits [27:2] into BL imm26, ±128 MiB, 4-byte aligned. */
    static final int R_AARCH64_CALL26 = 283;
    /** {@code S + A}, bits [11:1] into LDRH/STRH imm12, no check (2-byte aligned). */
    static final int R_AARCH64_LDST16_ABS_LO12_NC = 284;
    /** {@code S + A}, bits [11:2] into LDR/STR (32-bit) imm12, no check (4-byte aligned). */
    static final int R_AARCH64_LDST32_ABS_LO12_NC = 285;
    /** {@code S + A}, bits [11:3] into LDR/STR (64-bit) imm12, no check (8-byte aligned). */
    static final int R_AARCH64_LDST64_ABS_LO12_NC = 286;
    /** {@code S + A}, bits [11:4] into LDR/STR (128-bit) imm12, no check (16-byte aligned). */
    static final int R_AARCH64_LDST128_ABS_LO12_NC = 299;

    /** Its name as AAELF64 spells it, for messages. */
    static String name(int type) {
        return switch (type) {
            case R_AARCH64_ABS64 -> "R_AARCH64_ABS64";
            case R_AARCH64_ABS32 -> "R_AARCH64_ABS32";
            case R_AARCH64_ABS16 -> "R_AARCH64_ABS16";
            case R_AARCH64_PREL64 -> "R_AARCH64_PREL64";
            case R_AARCH64_PREL32 -> "R_AARCH64_PREL32";
            case R_AARCH64_PREL16 -> "R_AARCH64_PREL16";
            case R_AARCH64_MOVW_UABS_G0 -> "R_AARCH64_MOVW_UABS_G0";
            case R_AARCH64_MOVW_UABS_G0_NC -> "R_AARCH64_MOVW_UABS_G0_NC";
            case R_AARCH64_MOVW_UABS_G1 -> "R_AARCH64_MOVW_UABS_G1";
            case R_AARCH64_MOVW_UABS_G1_NC -> "R_AARCH64_MOVW_UABS_G1_NC";
            case R_AARCH64_MOVW_UABS_G2 -> "R_AARCH64_MOVW_UABS_G2";
            case R_AARCH64_MOVW_UABS_G2_NC -> "R_AARCH64_MOVW_UABS_G2_NC";
            case R_AARCH64_MOVW_UABS_G3 -> "R_AARCH64_MOVW_UABS_G3";
            case R_AARCH64_LD_PREL_LO19 -> "R_AARCH64_LD_PREL_LO19";
            case R_AARCH64_ADR_PREL_LO21 -> "R_AARCH64_ADR_PREL_LO21";
            case R_AARCH64_ADR_PREL_PG_HI21 -> "R_AARCH64_ADR_PREL_PG_HI21";
            case R_AARCH64_ADR_PREL_PG_HI21_NC -> "R_AARCH64_ADR_PREL_PG_HI21_NC";
            case R_AARCH64_ADD_ABS_LO12_NC -> "R_AARCH64_ADD_ABS_LO12_NC";
            case R_AARCH64_LDST8_ABS_LO12_NC -> "R_AARCH64_LDST8_ABS_LO12_NC";
            case R_AARCH64_TSTBR14 -> "R_AARCH64_TSTBR14";
            case R_AARCH64_CONDBR19 -> "R_AARCH64_CONDBR19";
            case R_AARCH64_JUMP26 -> "R_AARCH64_JUMP26";
            case R_AARCH64_CALL26 -> "R_AARCH64_CALL26";
            case R_AARCH64_LDST16_ABS_LO12_NC -> "R_AARCH64_LDST16_ABS_LO12_NC";
            case R_AARCH64_LDST32_ABS_LO12_NC -> "R_AARCH64_LDST32_ABS_LO12_NC";
            case R_AARCH64_LDST64_ABS_LO12_NC -> "R_AARCH64_LDST64_ABS_LO12_NC";
            case R_AARCH64_LDST128_ABS_LO12_NC -> "R_AARCH64_LDST128_ABS_LO12_NC";
            default -> "AArch64 relocation type " + type;
        };
    }

    /**
     * Writes {@code x}, the type's formula result, into its field at {@code offset} of
     * {@code section} (an instruction keeps its other bits).
     *
     * @throws RelocationException naming the type when {@code x} is out of range or misaligned,
     *                             or the type is not one of these
     */
    static void write(MemorySegment section, long offset, int type, long x, Location where) {
        switch (type) {
            case R_AARCH64_ABS64, R_AARCH64_PREL64 -> section.set(JAVA_LONG_UNALIGNED, offset, x);
            case R_AARCH64_ABS32, R_AARCH64_PREL32 -> {
                check(type, x, -(1L << 31), (1L << 32) - 1, where);
                section.set(JAVA_INT_UNALIGNED, offset, (int) x);
            }
            case R_AARCH64_ABS16, R_AARCH64_PREL16 -> {
                check(type, x, -(1L << 15), (1L << 16) - 1, where);
                section.set(JAVA_SHORT_UNALIGNED, offset, (short) x);
            }
            case R_AARCH64_MOVW_UABS_G0 -> movw(section, offset, type, x, 0, true, where);
            case R_AARCH64_MOVW_UABS_G0_NC -> movw(section, offset, type, x, 0, false, where);
            case R_AARCH64_MOVW_UABS_G1 -> movw(section, offset, type, x, 16, true, where);
            case R_AARCH64_MOVW_UABS_G1_NC -> movw(section, offset, type, x, 16, false, where);
            case R_AARCH64_MOVW_UABS_G2 -> movw(section, offset, type, x, 32, true, where);
            case R_AARCH64_MOVW_UABS_G2_NC -> movw(section, offset, type, x, 32, false, where);
            case R_AARCH64_MOVW_UABS_G3 -> movw(section, offset, type, x, 48, false, where);
            case R_AARCH64_LD_PREL_LO19, R_AARCH64_CONDBR19 -> branch(section, offset, type, x, 19, 5, where);
            case R_AARCH64_TSTBR14 -> branch(section, offset, type, x, 14, 5, where);
            case R_AARCH64_JUMP26, R_AARCH64_CALL26 -> branch(section, offset, type, x, 26, 0, where);
            case R_AARCH64_ADR_PREL_LO21 -> {
                check(type, x, -(1L << 20), (1L << 20) - 1, where);
                adr(section, offset, x);
            }
            case R_AARCH64_ADR_PREL_PG_HI21 -> {
                check(type, x, -(1L << 32), (1L << 32) - 1, where);
                adr(section, offset, x >> 12);
            }
            case R_AARCH64_ADR_PREL_PG_HI21_NC -> adr(section, offset, x >> 12);
            case R_AARCH64_ADD_ABS_LO12_NC, R_AARCH64_LDST8_ABS_LO12_NC -> lo12(section, offset, type, x, 0, where);
            case R_AARCH64_LDST16_ABS_LO12_NC -> lo12(section, offset, type, x, 1, where);
            case R_AARCH64_LDST32_ABS_LO12_NC -> lo12(section, offset, type, x, 2, where);
            case R_AARCH64_LDST64_ABS_LO12_NC -> lo12(section, offset, type, x, 3, where);
            case R_AARCH64_LDST128_ABS_LO12_NC -> lo12(section, offset, type, x, 4, where);
            default -> throw new RelocationException(where, "unsupported relocation type " + name(type));
        }
    }

    private static void check(int type, long x, long min, long max, Location where) {
        if (x < min || x > max) {
            throw new RelocationException(where, name(type) + ": value 0x" + Long.toHexString(x)
                    + " does not fit its field (" + min + ".." + max + ")");
        }
    }

    private static void patch(MemorySegment section, long offset, int mask, int bits) {
        int instruction = section.get(JAVA_INT_UNALIGNED, offset);
        section.set(JAVA_INT_UNALIGNED, offset, (instruction & ~mask) | (bits & mask));
    }

    /** MOVZ/MOVK imm16 at [20:5] from bits [shift+15:shift]; a checked kind refuses higher bits. */
    private static void movw(MemorySegment section, long offset, int type, long x, int shift, boolean checked,
                             Location where) {
        if (checked && (x < 0 || (shift + 16 < 64 && (x >>> (shift + 16)) != 0))) {
            throw new RelocationException(where, name(type) + ": value 0x" + Long.toHexString(x)
                    + " does not fit 16 bits at bit " + shift);
        }
        patch(section, offset, 0xffff << 5, (int) ((x >>> shift) & 0xffff) << 5);
    }

    /** A PC-relative branch or literal load: {@code x} a multiple of 4, {@code bits} signed bits of it / 4 at {@code at}. */
    private static void branch(MemorySegment section, long offset, int type, long x, int bits, int at, Location where) {
        if ((x & 3) != 0) {
            throw new RelocationException(where, name(type) + ": target offset 0x" + Long.toHexString(x)
                    + " is not a multiple of 4");
        }
        long words = x >> 2;
        check(type, x, -(1L << (bits + 1)), (1L << (bits + 1)) - 4, where);
        int mask = (int) (((1L << bits) - 1) << at);
        patch(section, offset, mask, (int) (words << at));
    }

    /** ADR/ADRP: immlo (2 bits) at [30:29], immhi (19 bits) at [23:5], of the 21-bit value. */
    private static void adr(MemorySegment section, long offset, long value) {
        int immlo = (int) (value & 3);
        int immhi = (int) ((value >> 2) & 0x7ffff);
        patch(section, offset, (3 << 29) | (0x7ffff << 5), (immlo << 29) | (immhi << 5));
    }

    /** imm12 at [21:10]: bits [11:scale] of {@code x}; a misaligned low part cannot be encoded. */
    private static void lo12(MemorySegment section, long offset, int type, long x, int scale, Location where) {
        long low = x & 0xfff;
        if ((low & ((1L << scale) - 1)) != 0) {
            throw new RelocationException(where, name(type) + ": address 0x" + Long.toHexString(x)
                    + " is not aligned to the access's " + (1 << scale) + " bytes");
        }
        patch(section, offset, 0xfff << 10, (int) (low >> scale) << 10);
    }
}
