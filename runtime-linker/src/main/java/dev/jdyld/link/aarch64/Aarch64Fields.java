package dev.jdyld.link.aarch64;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * The fields AArch64 relocations write. A writer takes the formula's result {@code X}, puts it
 * into the instruction or data word (an instruction keeps its other bits) and returns null, or
 * returns why it does not fit and writes nothing: nothing is silently truncated (the {@code _NC}
 * kinds take the low bits by definition). Returning the reason, not throwing, keeps the apply
 * loop free of allocation; the caller adds the location.
 */
final class Aarch64Fields {
    private Aarch64Fields() {}

    static String word64(MemorySegment section, long offset, long x) {
        section.set(JAVA_LONG_UNALIGNED, offset, x);
        return null;
    }

    static String word32(MemorySegment section, long offset, long x, long min, long max) {
        if (x < min || x > max) {
            return outside(x, min, max);
        }
        section.set(JAVA_INT_UNALIGNED, offset, (int) x);
        return null;
    }

    static String word16(MemorySegment section, long offset, long x) {
        if (x < -(1L << 15) || x > (1L << 16) - 1) {
            return outside(x, -(1L << 15), (1L << 16) - 1);
        }
        section.set(JAVA_SHORT_UNALIGNED, offset, (short) x);
        return null;
    }

    private static String outside(long x, long min, long max) {
        return "value 0x" + Long.toHexString(x) + " does not fit its field (" + min + ".." + max + ")";
    }

    private static void patch(MemorySegment section, long offset, int mask, int bits) {
        int instruction = section.get(JAVA_INT_UNALIGNED, offset);
        section.set(JAVA_INT_UNALIGNED, offset, (instruction & ~mask) | (bits & mask));
    }

    /** MOVZ/MOVK imm16 at [20:5] from bits [shift+15:shift]; a checked kind refuses higher bits and negative values. */
    static String movk(MemorySegment section, long offset, long x, int shift, boolean checked) {
        if (checked && (x < 0 || (shift + 16 < 64 && (x >>> (shift + 16)) != 0))) {
            return "value 0x" + Long.toHexString(x) + " does not fit 16 bits at bit " + shift;
        }
        patch(section, offset, 0xffff << 5, (int) ((x >>> shift) & 0xffff) << 5);
        return null;
    }

    /**
     * A signed MOVW kind: MOVZ with bits [shift+15:shift] of {@code x}, or MOVN with those of
     * {@code ~x} when it is negative (bit 30 of the opcode chooses); {@code x} must fit
     * {@code shift + 17} signed bits, but at bit 48.
     */
    static String movnz(MemorySegment section, long offset, long x, int shift) {
        if (shift < 48 && (x < -(1L << (shift + 16)) || x >= (1L << (shift + 16)))) {
            return "value 0x" + Long.toHexString(x) + " does not fit a signed " + (shift + 17) + "-bit MOVN/MOVZ";
        }
        long value = x < 0 ? ~x : x;
        int opcode = x < 0 ? 0 : 1 << 30;
        patch(section, offset, (1 << 30) | (0xffff << 5), opcode | (int) ((value >>> shift) & 0xffff) << 5);
        return null;
    }

    /** A PC-relative branch or literal load: {@code x} a multiple of 4, {@code bits} signed bits of it / 4 at {@code at}. */
    static String branch(MemorySegment section, long offset, long x, int bits, int at) {
        if ((x & 3) != 0) {
            return "target offset 0x" + Long.toHexString(x) + " is not a multiple of 4";
        }
        if (x < -(1L << (bits + 1)) || x > (1L << (bits + 1)) - 4) {
            return outside(x, -(1L << (bits + 1)), (1L << (bits + 1)) - 4);
        }
        int mask = (int) (((1L << bits) - 1) << at);
        patch(section, offset, mask, (int) ((x >> 2) << at));
        return null;
    }

    /** ADR: the 21-bit {@code x}, ±1 MiB, as immlo (2 bits) at [30:29] and immhi (19 bits) at [23:5]. */
    static String adr(MemorySegment section, long offset, long x) {
        if (x < -(1L << 20) || x > (1L << 20) - 1) {
            return outside(x, -(1L << 20), (1L << 20) - 1);
        }
        immediate21(section, offset, x);
        return null;
    }

    /** ADRP: {@code x} is {@code Page(target) - Page(P)}, ±4 GiB when checked; its pages go into immhi:immlo. */
    static String adrp(MemorySegment section, long offset, long x, boolean checked) {
        if (checked && (x < -(1L << 32) || x > (1L << 32) - 1)) {
            return outside(x, -(1L << 32), (1L << 32) - 1);
        }
        immediate21(section, offset, x >> 12);
        return null;
    }

    private static void immediate21(MemorySegment section, long offset, long value) {
        int immlo = (int) (value & 3);
        int immhi = (int) ((value >> 2) & 0x7ffff);
        patch(section, offset, (3 << 29) | (0x7ffff << 5), (immlo << 29) | (immhi << 5));
    }

    /**
     * imm12 at [21:10]: bits [11:scale] of {@code x}; a misaligned low part cannot be encoded. A
     * checked kind (the TLS offsets without {@code _NC}) also needs {@code 0 <= x < 2^12}.
     */
    static String lo12(MemorySegment section, long offset, long x, int scale, boolean checked) {
        if (checked && (x < 0 || x >= 1L << 12)) {
            return outside(x, 0, (1L << 12) - 1);
        }
        long low = x & 0xfff;
        if ((low & ((1L << scale) - 1)) != 0) {
            return "address 0x" + Long.toHexString(x) + " is not aligned to the access's " + (1 << scale) + " bytes";
        }
        patch(section, offset, 0xfff << 10, (int) (low >> scale) << 10);
        return null;
    }

    /** ADD imm12 from bits [23:12] of {@code x}, {@code 0 <= x < 2^24}. */
    static String hi12(MemorySegment section, long offset, long x) {
        if (x < 0 || x >= 1L << 24) {
            return outside(x, 0, (1L << 24) - 1);
        }
        patch(section, offset, 0xfff << 10, (int) (x >> 12) << 10);
        return null;
    }

    /** LDR (64-bit) imm12 from bits [14:3] of {@code x}, {@code 0 <= x < 2^15}, 8-byte aligned. */
    static String lo15(MemorySegment section, long offset, long x) {
        if (x < 0 || x >= 1L << 15) {
            return outside(x, 0, (1L << 15) - 1);
        }
        if ((x & 7) != 0) {
            return "GOT offset 0x" + Long.toHexString(x) + " is not a multiple of 8";
        }
        patch(section, offset, 0xfff << 10, (int) (x >> 3) << 10);
        return null;
    }
}
