package dev.jdyld.link.aarch64;

import dev.jdyld.core.Location;
import dev.jdyld.core.RelocationException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static dev.jdyld.link.aarch64.Aarch64Relocation.*;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

/**
 * Each AArch64 relocation kind writes its field as GNU as encodes the same instruction with the
 * same immediate, touches no other bit or byte, and refuses values outside its range.
 */
class Aarch64RelocationTest {
    @TempDir
    Path dir;

    /** A kind, the instruction with a zero immediate, and the instruction with {@code %d} for the value as as spells it. */
    private record Case(int type, String template, String withValue, long value, long asValue) {}

    private static List<Case> cases() {
        List<Case> cases = new ArrayList<>();
        for (long x : new long[] {0x100, -0x100, 0x7fffffc, -0x8000000}) {
            cases.add(new Case(Aarch64Relocation.R_AARCH64_CALL26, "bl .", "bl .+(%d)", x, x));
            cases.add(new Case(Aarch64Relocation.R_AARCH64_JUMP26, "b .", "b .+(%d)", x, x));
        }
        for (long x : new long[] {0x40, -0x40, 0xffffc, -0x100000}) {
            cases.add(new Case(Aarch64Relocation.R_AARCH64_CONDBR19, "b.eq .", "b.eq .+(%d)", x, x));
            cases.add(new Case(Aarch64Relocation.R_AARCH64_LD_PREL_LO19, "ldr x2, .", "ldr x2, .+(%d)", x, x));
        }
        for (long x : new long[] {0x40, -0x40, 0x7ffc, -0x8000}) {
            cases.add(new Case(Aarch64Relocation.R_AARCH64_TSTBR14, "tbz x0, #3, .", "tbz x0, #3, .+(%d)", x, x));
        }
        for (long x : new long[] {0x41, -0x43, 0xfffff, -0x100000}) {
            cases.add(new Case(Aarch64Relocation.R_AARCH64_ADR_PREL_LO21, "adr x4, .", "adr x4, .+(%d)", x, x));
        }
        for (long x : new long[] {0x1000, 0x7ffff000L, -0x1000, -0x100000000L}) {
            cases.add(new Case(Aarch64Relocation.R_AARCH64_ADR_PREL_PG_HI21, "adrp x0, .", "adrp x0, .+(%d)", x, x));
        }
        for (long x : new long[] {0x123, 0xfff}) {
            cases.add(new Case(Aarch64Relocation.R_AARCH64_ADD_ABS_LO12_NC, "add x0, x0, #0", "add x0, x0, #%d", x, x));
            cases.add(new Case(Aarch64Relocation.R_AARCH64_LDST8_ABS_LO12_NC, "ldrb w1, [x0, #0]", "ldrb w1, [x0, #%d]", x, x));
        }
        cases.add(new Case(Aarch64Relocation.R_AARCH64_LDST16_ABS_LO12_NC, "ldrh w1, [x0, #0]", "ldrh w1, [x0, #%d]", 0x7fe, 0x7fe));
        cases.add(new Case(Aarch64Relocation.R_AARCH64_LDST32_ABS_LO12_NC, "ldr w1, [x0, #0]", "ldr w1, [x0, #%d]", 0xffc, 0xffc));
        cases.add(new Case(Aarch64Relocation.R_AARCH64_LDST64_ABS_LO12_NC, "ldr x1, [x0, #0]", "ldr x1, [x0, #%d]", 0xff8, 0xff8));
        cases.add(new Case(Aarch64Relocation.R_AARCH64_LDST128_ABS_LO12_NC, "ldr q1, [x0, #0]", "ldr q1, [x0, #%d]", 0xff0, 0xff0));
        // The page part of an address is not this field's business: only bits [11:0] count.
        cases.add(new Case(Aarch64Relocation.R_AARCH64_LDST64_ABS_LO12_NC, "ldr x1, [x0, #0]", "ldr x1, [x0, #%d]", 0x7fff0008, 8));
        cases.add(new Case(Aarch64Relocation.R_AARCH64_MOVW_UABS_G0, "movz x3, #0", "movz x3, #%d", 0xbeef, 0xbeef));
        cases.add(new Case(Aarch64Relocation.R_AARCH64_MOVW_UABS_G1, "movz x3, #0, lsl 16", "movz x3, #%d, lsl 16",
                0xcafe_0000L, 0xcafe));
        cases.add(new Case(Aarch64Relocation.R_AARCH64_MOVW_UABS_G2_NC, "movk x3, #0, lsl 32", "movk x3, #%d, lsl 32",
                0x1234_5678_9abc_def0L, 0x5678));
        cases.add(new Case(Aarch64Relocation.R_AARCH64_MOVW_UABS_G3, "movk x3, #0, lsl 48", "movk x3, #%d, lsl 48",
                0x1234_5678_9abc_def0L, 0x1234));
        cases.addAll(sharedFieldCases());
        return cases;
    }

    /**
     * The GOT, TLS and PC-relative MOVW kinds write the same fields as the ones above: each with an
     * instruction of its form, at a value inside its range; the signed MOVW kinds both ways (MOVZ
     * for a positive value, MOVN of its complement for a negative one).
     */
    private static List<Case> sharedFieldCases() {
        List<Case> cases = new ArrayList<>();
        for (int type : new int[] {R_AARCH64_ADR_GOT_PAGE, R_AARCH64_TLSGD_ADR_PAGE21, R_AARCH64_TLSLD_ADR_PAGE21,
                R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21, R_AARCH64_TLSDESC_ADR_PAGE21}) {
            cases.add(new Case(type, "adrp x0, .", "adrp x0, .+(%d)", -0x5000, -0x5000));
        }
        for (int type : new int[] {R_AARCH64_TLSGD_ADR_PREL21, R_AARCH64_TLSLD_ADR_PREL21, R_AARCH64_TLSDESC_ADR_PREL21}) {
            cases.add(new Case(type, "adr x4, .", "adr x4, .+(%d)", 0x1235, 0x1235));
        }
        for (int type : new int[] {R_AARCH64_GOT_LD_PREL19, R_AARCH64_TLSLD_LD_PREL19, R_AARCH64_TLSIE_LD_GOTTPREL_PREL19,
                R_AARCH64_TLSDESC_LD_PREL19}) {
            cases.add(new Case(type, "ldr x2, .", "ldr x2, .+(%d)", -0x1000, -0x1000));
        }
        for (int type : new int[] {R_AARCH64_LD64_GOT_LO12_NC, R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC, R_AARCH64_TLSDESC_LD64_LO12,
                R_AARCH64_TLSLD_LDST64_DTPREL_LO12, R_AARCH64_TLSLD_LDST64_DTPREL_LO12_NC, R_AARCH64_TLSLE_LDST64_TPREL_LO12,
                R_AARCH64_TLSLE_LDST64_TPREL_LO12_NC}) {
            cases.add(new Case(type, "ldr x1, [x0, #0]", "ldr x1, [x0, #%d]", 0x7f8, 0x7f8));
        }
        for (int type : new int[] {R_AARCH64_TLSGD_ADD_LO12_NC, R_AARCH64_TLSLD_ADD_LO12_NC, R_AARCH64_TLSDESC_ADD_LO12,
                R_AARCH64_TLSLD_ADD_DTPREL_LO12, R_AARCH64_TLSLD_ADD_DTPREL_LO12_NC, R_AARCH64_TLSLE_ADD_TPREL_LO12,
                R_AARCH64_TLSLE_ADD_TPREL_LO12_NC}) {
            cases.add(new Case(type, "add x0, x0, #0", "add x0, x0, #%d", 0x9ab, 0x9ab));
        }
        for (int type : new int[] {R_AARCH64_TLSLD_LDST8_DTPREL_LO12, R_AARCH64_TLSLD_LDST8_DTPREL_LO12_NC,
                R_AARCH64_TLSLE_LDST8_TPREL_LO12, R_AARCH64_TLSLE_LDST8_TPREL_LO12_NC}) {
            cases.add(new Case(type, "ldrb w1, [x0, #0]", "ldrb w1, [x0, #%d]", 0x321, 0x321));
        }
        for (int type : new int[] {R_AARCH64_TLSLD_LDST16_DTPREL_LO12, R_AARCH64_TLSLD_LDST16_DTPREL_LO12_NC,
                R_AARCH64_TLSLE_LDST16_TPREL_LO12, R_AARCH64_TLSLE_LDST16_TPREL_LO12_NC}) {
            cases.add(new Case(type, "ldrh w1, [x0, #0]", "ldrh w1, [x0, #%d]", 0x7e, 0x7e));
        }
        for (int type : new int[] {R_AARCH64_TLSLD_LDST32_DTPREL_LO12, R_AARCH64_TLSLD_LDST32_DTPREL_LO12_NC,
                R_AARCH64_TLSLE_LDST32_TPREL_LO12, R_AARCH64_TLSLE_LDST32_TPREL_LO12_NC}) {
            cases.add(new Case(type, "ldr w1, [x0, #0]", "ldr w1, [x0, #%d]", 0x1fc, 0x1fc));
        }
        for (int type : new int[] {R_AARCH64_TLSLD_LDST128_DTPREL_LO12, R_AARCH64_TLSLD_LDST128_DTPREL_LO12_NC,
                R_AARCH64_TLSLE_LDST128_TPREL_LO12, R_AARCH64_TLSLE_LDST128_TPREL_LO12_NC}) {
            cases.add(new Case(type, "ldr q1, [x0, #0]", "ldr q1, [x0, #%d]", 0x3f0, 0x3f0));
        }
        for (int type : new int[] {R_AARCH64_TLSLD_ADD_DTPREL_HI12, R_AARCH64_TLSLE_ADD_TPREL_HI12}) {
            cases.add(new Case(type, "add x0, x0, #0, lsl 12", "add x0, x0, #%d, lsl 12", 0x456789, 0x456));
        }
        for (int type : new int[] {R_AARCH64_LD64_GOTPAGE_LO15, R_AARCH64_LD64_GOTOFF_LO15}) {
            cases.add(new Case(type, "ldr x1, [x0, #0]", "ldr x1, [x0, #%d]", 0x7ff8, 0x7ff8));
        }
        for (int type : new int[] {R_AARCH64_MOVW_PREL_G0_NC, R_AARCH64_TLSGD_MOVW_G0_NC, R_AARCH64_TLSLD_MOVW_G0_NC,
                R_AARCH64_TLSLD_MOVW_DTPREL_G0_NC, R_AARCH64_TLSIE_MOVW_GOTTPREL_G0_NC, R_AARCH64_TLSLE_MOVW_TPREL_G0_NC,
                R_AARCH64_TLSDESC_OFF_G0_NC}) {
            cases.add(new Case(type, "movk x3, #0", "movk x3, #%d", -0x1234_5678L, 0xa988));
        }
        for (int type : new int[] {R_AARCH64_MOVW_PREL_G1_NC, R_AARCH64_TLSLD_MOVW_DTPREL_G1_NC, R_AARCH64_TLSLE_MOVW_TPREL_G1_NC}) {
            cases.add(new Case(type, "movk x3, #0, lsl 16", "movk x3, #%d, lsl 16", 0x1234_5678L, 0x1234));
        }
        cases.add(new Case(R_AARCH64_MOVW_PREL_G2_NC, "movk x3, #0, lsl 32", "movk x3, #%d, lsl 32", 0x9abc_1234_5678L, 0x9abc));
        String[] shifts = {"", ", lsl 16", ", lsl 32", ", lsl 48"};
        int[][] signed = {
                {R_AARCH64_MOVW_SABS_G0, R_AARCH64_MOVW_PREL_G0, R_AARCH64_TLSLD_MOVW_DTPREL_G0, R_AARCH64_TLSLE_MOVW_TPREL_G0},
                {R_AARCH64_MOVW_SABS_G1, R_AARCH64_MOVW_PREL_G1, R_AARCH64_TLSGD_MOVW_G1, R_AARCH64_TLSLD_MOVW_G1,
                        R_AARCH64_TLSLD_MOVW_DTPREL_G1, R_AARCH64_TLSIE_MOVW_GOTTPREL_G1, R_AARCH64_TLSLE_MOVW_TPREL_G1,
                        R_AARCH64_TLSDESC_OFF_G1},
                {R_AARCH64_MOVW_SABS_G2, R_AARCH64_MOVW_PREL_G2, R_AARCH64_TLSLD_MOVW_DTPREL_G2, R_AARCH64_TLSLE_MOVW_TPREL_G2},
                {R_AARCH64_MOVW_PREL_G3}};
        for (int group = 0; group < signed.length; group++) {
            long positive = 0x1234L << (16 * group);
            for (int type : signed[group]) {
                cases.add(new Case(type, "movz x3, #0" + shifts[group], "movz x3, #%d" + shifts[group], positive, 0x1234));
                cases.add(new Case(type, "movz x3, #0" + shifts[group], "movn x3, #%d" + shifts[group], ~positive, 0x1234));
            }
        }
        for (int type : new int[] {R_AARCH64_ABS32, R_AARCH64_PREL32, R_AARCH64_GOTREL32}) {
            cases.add(new Case(type, ".word 0", ".word %d", -0x1234_5678L, -0x1234_5678L));
        }
        return cases;
    }

    /** The 64-bit data kinds write the whole value, little-endian, between untouched guard bytes. */
    @Test
    void sixtyFourBitKindsWriteTheWholeValue() {
        for (int type : new int[] {R_AARCH64_ABS64, R_AARCH64_PREL64, R_AARCH64_GOTREL64, R_AARCH64_TLS_DTPMOD64,
                R_AARCH64_TLS_DTPREL64, R_AARCH64_TLS_TPREL64}) {
            MemorySegment bytes = MemorySegment.ofArray(new byte[16]);
            bytes.fill((byte) 0x5a);
            Aarch64Relocation.write(bytes, 4, type, 0x0123_4567_89ab_cdefL, Location.NONE);
            assertThat(bytes.get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 4)).as(Aarch64Relocation.name(type))
                    .isEqualTo(0x0123_4567_89ab_cdefL);
            assertThat(bytes.get(JAVA_INT_UNALIGNED, 0)).isEqualTo(0x5a5a5a5a);
            assertThat(bytes.get(JAVA_INT_UNALIGNED, 12)).isEqualTo(0x5a5a5a5a);
        }
    }

    /** Every kind jdyld applies has a name, a width, and a case here or above: none is left untested. */
    @Test
    void everyKindIsCovered() {
        java.util.Set<Integer> covered = new java.util.HashSet<>();
        cases().forEach(c -> covered.add(c.type()));
        covered.addAll(List.of(R_AARCH64_ABS64, R_AARCH64_PREL64, R_AARCH64_GOTREL64, R_AARCH64_TLS_DTPMOD64,
                R_AARCH64_TLS_DTPREL64, R_AARCH64_TLS_TPREL64, R_AARCH64_NONE, R_AARCH64_TLSDESC_LDR, R_AARCH64_TLSDESC_ADD,
                R_AARCH64_TLSDESC_CALL, R_AARCH64_ABS16, R_AARCH64_PREL16, R_AARCH64_MOVW_UABS_G0_NC,
                R_AARCH64_MOVW_UABS_G1_NC, R_AARCH64_MOVW_UABS_G2, R_AARCH64_ADR_PREL_PG_HI21_NC));
        for (java.lang.reflect.Field field : Aarch64Relocation.class.getDeclaredFields()) {
            if (field.getName().startsWith("R_AARCH64_")) {
                try {
                    assertThat(covered).as(field.getName()).contains(field.getInt(null));
                } catch (IllegalAccessException e) {
                    throw new AssertionError(e);
                }
            }
        }
    }

    /**
     * Every case twice in one .text: the instruction with a zero immediate, then as GNU as encodes it
     * with the value. Writing the value into the first must give the second. Each instruction
     * stands at a page-aligned place, so that ADRP's page difference is the value as written.
     */
    @Test
    void eachKindEncodesItsFieldAsGnuAsDoes() throws Exception {
        assumeThat(Path.of("/usr/bin/aarch64-linux-gnu-as")).as("GNU as for AArch64 (installed by .ci/run)").exists();
        List<Case> cases = cases();
        List<String> lines = new ArrayList<>(List.of(".text"));
        for (Case c : cases) {
            lines.add(".balign 4096");
            lines.add(c.template());
            lines.add(".balign 4096");
            lines.add(String.format(c.withValue(), c.asValue()));
        }
        byte[] text = GnuAs.assembleText(dir, lines, 0);
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            MemorySegment instruction = MemorySegment.ofArray(new byte[12]);
            instruction.fill((byte) 0x5a); // guard bytes around the word
            MemorySegment assembled = MemorySegment.ofArray(text);
            instruction.set(JAVA_INT_UNALIGNED, 4, assembled.get(JAVA_INT_UNALIGNED, (2L * i) * 4096));
            Aarch64Relocation.write(instruction, 4, c.type(), c.value(), Location.NONE);
            int expected = assembled.get(JAVA_INT_UNALIGNED, (2L * i + 1) * 4096);
            assertThat(Integer.toHexString(instruction.get(JAVA_INT_UNALIGNED, 4)))
                    .as("%s %s with %#x", Aarch64Relocation.name(c.type()), c.template(), c.value())
                    .isEqualTo(Integer.toHexString(expected));
            assertThat(instruction.get(JAVA_INT_UNALIGNED, 0)).isEqualTo(0x5a5a5a5a);
            assertThat(instruction.get(JAVA_INT_UNALIGNED, 8)).isEqualTo(0x5a5a5a5a);
        }
    }

    /** Just outside each checked range, and a misaligned branch, are refused with the kind's name. */
    @Test
    void valuesOutsideTheirRangeAreRefusedNeverTruncated() {
        record Bad(int type, long value) {}
        List<Bad> bad = List.of(
                new Bad(Aarch64Relocation.R_AARCH64_CALL26, 0x8000000), new Bad(Aarch64Relocation.R_AARCH64_CALL26, -0x8000004),
                new Bad(Aarch64Relocation.R_AARCH64_JUMP26, 0x102),
                new Bad(Aarch64Relocation.R_AARCH64_CONDBR19, 0x100000), new Bad(Aarch64Relocation.R_AARCH64_TSTBR14, 0x8000),
                new Bad(Aarch64Relocation.R_AARCH64_LD_PREL_LO19, -0x100004),
                new Bad(Aarch64Relocation.R_AARCH64_ADR_PREL_LO21, 0x100000),
                new Bad(Aarch64Relocation.R_AARCH64_ADR_PREL_PG_HI21, 0x100000000L),
                new Bad(Aarch64Relocation.R_AARCH64_ABS32, 0x100000000L), new Bad(Aarch64Relocation.R_AARCH64_PREL32, -0x80000001L),
                new Bad(Aarch64Relocation.R_AARCH64_ABS16, 0x10000), new Bad(Aarch64Relocation.R_AARCH64_MOVW_UABS_G0, 0x10000),
                new Bad(Aarch64Relocation.R_AARCH64_MOVW_UABS_G1, 0x1_0000_0000L),
                new Bad(Aarch64Relocation.R_AARCH64_LDST64_ABS_LO12_NC, 0x1004),
                new Bad(R_AARCH64_TLSLE_ADD_TPREL_HI12, 0x1000000), new Bad(R_AARCH64_TLSLE_ADD_TPREL_HI12, -1),
                new Bad(R_AARCH64_TLSLE_ADD_TPREL_LO12, 0x1000), new Bad(R_AARCH64_TLSLD_LDST32_DTPREL_LO12, 0x1002),
                new Bad(R_AARCH64_LD64_GOTPAGE_LO15, 0x8000), new Bad(R_AARCH64_LD64_GOTOFF_LO15, 0x7ff4),
                new Bad(R_AARCH64_MOVW_PREL_G0, 0x10000), new Bad(R_AARCH64_MOVW_SABS_G1, -0x1_0000_0001L),
                new Bad(R_AARCH64_TLSLE_MOVW_TPREL_G2, 1L << 48), new Bad(R_AARCH64_TLSIE_LD_GOTTPREL_PREL19, 0x100000),
                new Bad(R_AARCH64_TLSDESC_ADR_PAGE21, 0x100000000L), new Bad(R_AARCH64_GOTREL32, 0x80000000L),
                new Bad(R_AARCH64_TLSGD_ADR_PREL21, -0x100001), new Bad(999, 0));
        Random random = new Random(24);
        for (Bad b : bad) {
            MemorySegment word = MemorySegment.ofArray(new byte[8]);
            int before = random.nextInt();
            word.set(JAVA_INT_UNALIGNED, 0, before);
            assertThatThrownBy(() -> Aarch64Relocation.write(word, 0, b.type(), b.value(), Location.NONE))
                    .as("%s %#x", Aarch64Relocation.name(b.type()), b.value())
                    .isInstanceOf(RelocationException.class)
                    .hasMessageContaining(b.type() == 999 ? "AArch64 relocation type 999" : Aarch64Relocation.name(b.type()));
            assertThat(word.get(JAVA_INT_UNALIGNED, 0)).as("nothing written").isEqualTo(before);
        }
    }
}
