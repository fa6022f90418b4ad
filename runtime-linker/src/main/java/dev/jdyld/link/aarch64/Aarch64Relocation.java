package dev.jdyld.link.aarch64;

import dev.jdyld.core.Location;
import dev.jdyld.core.RelocationException;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.Map;


/**
 * The AArch64 relocation types of "ELF for the Arm 64-bit Architecture" (AAELF64, section 5.7),
 * each with its formula, the field it writes and the range it checks.
 * {@link Aarch64Fields} writes the fields.
 *
 * <p>Notation as in AAELF64: {@code S} symbol address, {@code A} addend, {@code P} address of the
 * place, {@code Page(x)} is {@code x & ~0xfff}, {@code GOT} the set's GOT, {@code G(GOT(S))} the
 * address of the symbol's GOT slot, {@code L} its stub, {@code TPREL} the offset from the thread
 * pointer (the set's block is in static TLS: its offset plus the variable's), {@code DTPREL} the
 * offset in the set's block.
 */
final class Aarch64Relocation {
    private Aarch64Relocation() {}

    /** No relocation. */
    static final int R_AARCH64_NONE = 0;
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
    /** {@code S + A}, bits [15:0] into MOVN/MOVZ (MOVN for X < 0), -2^16 <= X < 2^16. */
    static final int R_AARCH64_MOVW_SABS_G0 = 270;
    /** {@code S + A}, bits [31:16] into MOVN/MOVZ, -2^32 <= X < 2^32. */
    static final int R_AARCH64_MOVW_SABS_G1 = 271;
    /** {@code S + A}, bits [47:32] into MOVN/MOVZ, -2^48 <= X < 2^48. */
    static final int R_AARCH64_MOVW_SABS_G2 = 272;
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
    /** {@code S + A - P}, bits [27:2] into B imm26, ±128 MiB, 4-byte aligned; a symbol outside the set goes through its stub ({@code L + A - P}). */
    static final int R_AARCH64_JUMP26 = 282;
    /** {@code S + A - P}, bits [27:2] into BL imm26, ±128 MiB, 4-byte aligned; a symbol outside the set goes through its stub ({@code L + A - P}). */
    static final int R_AARCH64_CALL26 = 283;
    /** {@code S + A}, bits [11:1] into LDRH/STRH imm12, no check (2-byte aligned). */
    static final int R_AARCH64_LDST16_ABS_LO12_NC = 284;
    /** {@code S + A}, bits [11:2] into LDR/STR (32-bit) imm12, no check (4-byte aligned). */
    static final int R_AARCH64_LDST32_ABS_LO12_NC = 285;
    /** {@code S + A}, bits [11:3] into LDR/STR (64-bit) imm12, no check (8-byte aligned). */
    static final int R_AARCH64_LDST64_ABS_LO12_NC = 286;
    /** {@code S + A - P}, bits [15:0] into MOVN/MOVZ, -2^16 <= X < 2^16. */
    static final int R_AARCH64_MOVW_PREL_G0 = 287;
    /** {@code S + A - P}, bits [15:0] into MOVK imm16, no check. */
    static final int R_AARCH64_MOVW_PREL_G0_NC = 288;
    /** {@code S + A - P}, bits [31:16] into MOVN/MOVZ, -2^32 <= X < 2^32. */
    static final int R_AARCH64_MOVW_PREL_G1 = 289;
    /** {@code S + A - P}, bits [31:16] into MOVK imm16, no check. */
    static final int R_AARCH64_MOVW_PREL_G1_NC = 290;
    /** {@code S + A - P}, bits [47:32] into MOVN/MOVZ, -2^48 <= X < 2^48. */
    static final int R_AARCH64_MOVW_PREL_G2 = 291;
    /** {@code S + A - P}, bits [47:32] into MOVK imm16, no check. */
    static final int R_AARCH64_MOVW_PREL_G2_NC = 292;
    /** {@code S + A - P}, bits [63:48] into MOVN/MOVZ. */
    static final int R_AARCH64_MOVW_PREL_G3 = 293;
    /** {@code S + A}, bits [11:4] into LDR/STR (128-bit) imm12, no check (16-byte aligned). */
    static final int R_AARCH64_LDST128_ABS_LO12_NC = 299;
    /** {@code G(GOT(S)) - GOT}, bits [14:3] into LDR (64-bit) imm12, 0 <= X < 2^15, 8-byte aligned. */
    static final int R_AARCH64_LD64_GOTOFF_LO15 = 300;
    /** {@code S + A - GOT}, 64 bits. */
    static final int R_AARCH64_GOTREL64 = 307;
    /** {@code S + A - GOT}, 32 bits, -2^31 <= X < 2^31. */
    static final int R_AARCH64_GOTREL32 = 308;
    /** {@code G(GOT(S)) - P}, bits [20:2] into LDR (literal), ±1 MiB. */
    static final int R_AARCH64_GOT_LD_PREL19 = 309;
    /** {@code Page(G(GOT(S))) - Page(P)}, bits [32:12] into ADRP, ±4 GiB. */
    static final int R_AARCH64_ADR_GOT_PAGE = 311;
    /** {@code G(GOT(S))}, bits [11:3] into LDR (64-bit) imm12, no check (8-byte aligned). */
    static final int R_AARCH64_LD64_GOT_LO12_NC = 312;
    /** {@code G(GOT(S)) - Page(GOT)}, bits [14:3] into LDR (64-bit) imm12, 0 <= X < 2^15. */
    static final int R_AARCH64_LD64_GOTPAGE_LO15 = 313;
    /** {@code G(GTLSIDX(S, A)) - P}: the symbol's {@code tls_index} pair, into ADR, ±1 MiB. */
    static final int R_AARCH64_TLSGD_ADR_PREL21 = 512;
    /** {@code Page(G(GTLSIDX(S, A))) - Page(P)}, into ADRP, ±4 GiB. */
    static final int R_AARCH64_TLSGD_ADR_PAGE21 = 513;
    /** {@code G(GTLSIDX(S, A))}, bits [11:0] into ADD imm12, no check. */
    static final int R_AARCH64_TLSGD_ADD_LO12_NC = 514;
    /** {@code G(GTLSIDX(S, A)) - GOT}, bits [31:16] into MOVN/MOVZ, -2^32 <= X < 2^32. */
    static final int R_AARCH64_TLSGD_MOVW_G1 = 515;
    /** {@code G(GTLSIDX(S, A)) - GOT}, bits [15:0] into MOVK imm16, no check. */
    static final int R_AARCH64_TLSGD_MOVW_G0_NC = 516;
    /** {@code G(GLDM(S)) - P}: the set's local-dynamic module pair, into ADR, ±1 MiB. */
    static final int R_AARCH64_TLSLD_ADR_PREL21 = 517;
    /** {@code Page(G(GLDM(S))) - Page(P)}, into ADRP, ±4 GiB. */
    static final int R_AARCH64_TLSLD_ADR_PAGE21 = 518;
    /** {@code G(GLDM(S))}, bits [11:0] into ADD imm12, no check. */
    static final int R_AARCH64_TLSLD_ADD_LO12_NC = 519;
    /** {@code G(GLDM(S)) - GOT}, bits [31:16] into MOVN/MOVZ, -2^32 <= X < 2^32. */
    static final int R_AARCH64_TLSLD_MOVW_G1 = 520;
    /** {@code G(GLDM(S)) - GOT}, bits [15:0] into MOVK imm16, no check. */
    static final int R_AARCH64_TLSLD_MOVW_G0_NC = 521;
    /** {@code G(GLDM(S)) - P}, into LDR (literal), ±1 MiB. */
    static final int R_AARCH64_TLSLD_LD_PREL19 = 522;
    /** {@code DTPREL(S + A)}, bits [47:32] into MOVN/MOVZ, -2^48 <= X < 2^48. */
    static final int R_AARCH64_TLSLD_MOVW_DTPREL_G2 = 523;
    /** {@code DTPREL(S + A)}, bits [31:16] into MOVN/MOVZ, -2^32 <= X < 2^32. */
    static final int R_AARCH64_TLSLD_MOVW_DTPREL_G1 = 524;
    /** {@code DTPREL(S + A)}, bits [31:16] into MOVK imm16, no check. */
    static final int R_AARCH64_TLSLD_MOVW_DTPREL_G1_NC = 525;
    /** {@code DTPREL(S + A)}, bits [15:0] into MOVN/MOVZ, -2^16 <= X < 2^16. */
    static final int R_AARCH64_TLSLD_MOVW_DTPREL_G0 = 526;
    /** {@code DTPREL(S + A)}, bits [15:0] into MOVK imm16, no check. */
    static final int R_AARCH64_TLSLD_MOVW_DTPREL_G0_NC = 527;
    /** {@code DTPREL(S + A)}, bits [23:12] into ADD imm12, 0 <= X < 2^24. */
    static final int R_AARCH64_TLSLD_ADD_DTPREL_HI12 = 528;
    /** {@code DTPREL(S + A)}, bits [11:0] into ADD imm12, 0 <= X < 2^12. */
    static final int R_AARCH64_TLSLD_ADD_DTPREL_LO12 = 529;
    /** {@code DTPREL(S + A)}, bits [11:0] into ADD imm12, no check. */
    static final int R_AARCH64_TLSLD_ADD_DTPREL_LO12_NC = 530;
    /** {@code DTPREL(S + A)}, bits [11:0] into LDRB/STRB imm12, 0 <= X < 2^12. */
    static final int R_AARCH64_TLSLD_LDST8_DTPREL_LO12 = 531;
    /** {@code DTPREL(S + A)}, bits [11:0] into LDRB/STRB imm12, no check. */
    static final int R_AARCH64_TLSLD_LDST8_DTPREL_LO12_NC = 532;
    /** {@code DTPREL(S + A)}, bits [11:1] into LDRH/STRH imm12, 0 <= X < 2^12. */
    static final int R_AARCH64_TLSLD_LDST16_DTPREL_LO12 = 533;
    /** {@code DTPREL(S + A)}, bits [11:1] into LDRH/STRH imm12, no check. */
    static final int R_AARCH64_TLSLD_LDST16_DTPREL_LO12_NC = 534;
    /** {@code DTPREL(S + A)}, bits [11:2] into LDR (32-bit) imm12, 0 <= X < 2^12. */
    static final int R_AARCH64_TLSLD_LDST32_DTPREL_LO12 = 535;
    /** {@code DTPREL(S + A)}, bits [11:2] into LDR (32-bit) imm12, no check. */
    static final int R_AARCH64_TLSLD_LDST32_DTPREL_LO12_NC = 536;
    /** {@code DTPREL(S + A)}, bits [11:3] into LDR (64-bit) imm12, 0 <= X < 2^12. */
    static final int R_AARCH64_TLSLD_LDST64_DTPREL_LO12 = 537;
    /** {@code DTPREL(S + A)}, bits [11:3] into LDR (64-bit) imm12, no check. */
    static final int R_AARCH64_TLSLD_LDST64_DTPREL_LO12_NC = 538;
    /** {@code G(GTPREL(S + A)) - GOT}, bits [31:16] into MOVN/MOVZ, -2^32 <= X < 2^32. */
    static final int R_AARCH64_TLSIE_MOVW_GOTTPREL_G1 = 539;
    /** {@code G(GTPREL(S + A)) - GOT}, bits [15:0] into MOVK imm16, no check. */
    static final int R_AARCH64_TLSIE_MOVW_GOTTPREL_G0_NC = 540;
    /** {@code Page(G(GTPREL(S + A))) - Page(P)}: the GOT slot holding the offset from the thread pointer, into ADRP, ±4 GiB. */
    static final int R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21 = 541;
    /** {@code G(GTPREL(S + A))}, bits [11:3] into LDR (64-bit) imm12, no check. */
    static final int R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC = 542;
    /** {@code G(GTPREL(S + A)) - P}, into LDR (literal), ±1 MiB. */
    static final int R_AARCH64_TLSIE_LD_GOTTPREL_PREL19 = 543;
    /** {@code TPREL(S + A)}, bits [47:32] into MOVN/MOVZ, -2^48 <= X < 2^48. */
    static final int R_AARCH64_TLSLE_MOVW_TPREL_G2 = 544;
    /** {@code TPREL(S + A)}, bits [31:16] into MOVN/MOVZ, -2^32 <= X < 2^32. */
    static final int R_AARCH64_TLSLE_MOVW_TPREL_G1 = 545;
    /** {@code TPREL(S + A)}, bits [31:16] into MOVK imm16, no check. */
    static final int R_AARCH64_TLSLE_MOVW_TPREL_G1_NC = 546;
    /** {@code TPREL(S + A)}, bits [15:0] into MOVN/MOVZ, -2^16 <= X < 2^16. */
    static final int R_AARCH64_TLSLE_MOVW_TPREL_G0 = 547;
    /** {@code TPREL(S + A)}, bits [15:0] into MOVK imm16, no check. */
    static final int R_AARCH64_TLSLE_MOVW_TPREL_G0_NC = 548;
    /** {@code TPREL(S + A)}, bits [23:12] into ADD imm12, 0 <= X < 2^24. */
    static final int R_AARCH64_TLSLE_ADD_TPREL_HI12 = 549;
    /** {@code TPREL(S + A)}, bits [11:0] into ADD imm12, 0 <= X < 2^12. */
    static final int R_AARCH64_TLSLE_ADD_TPREL_LO12 = 550;
    /** {@code TPREL(S + A)}, bits [11:0] into ADD imm12, no check. */
    static final int R_AARCH64_TLSLE_ADD_TPREL_LO12_NC = 551;
    /** {@code TPREL(S + A)}, bits [11:0] into LDRB/STRB imm12, 0 <= X < 2^12. */
    static final int R_AARCH64_TLSLE_LDST8_TPREL_LO12 = 552;
    /** {@code TPREL(S + A)}, bits [11:0] into LDRB/STRB imm12, no check. */
    static final int R_AARCH64_TLSLE_LDST8_TPREL_LO12_NC = 553;
    /** {@code TPREL(S + A)}, bits [11:1] into LDRH/STRH imm12, 0 <= X < 2^12. */
    static final int R_AARCH64_TLSLE_LDST16_TPREL_LO12 = 554;
    /** {@code TPREL(S + A)}, bits [11:1] into LDRH/STRH imm12, no check. */
    static final int R_AARCH64_TLSLE_LDST16_TPREL_LO12_NC = 555;
    /** {@code TPREL(S + A)}, bits [11:2] into LDR (32-bit) imm12, 0 <= X < 2^12. */
    static final int R_AARCH64_TLSLE_LDST32_TPREL_LO12 = 556;
    /** {@code TPREL(S + A)}, bits [11:2] into LDR (32-bit) imm12, no check. */
    static final int R_AARCH64_TLSLE_LDST32_TPREL_LO12_NC = 557;
    /** {@code TPREL(S + A)}, bits [11:3] into LDR (64-bit) imm12, 0 <= X < 2^12. */
    static final int R_AARCH64_TLSLE_LDST64_TPREL_LO12 = 558;
    /** {@code TPREL(S + A)}, bits [11:3] into LDR (64-bit) imm12, no check. */
    static final int R_AARCH64_TLSLE_LDST64_TPREL_LO12_NC = 559;
    /** {@code G(GTLSDESC(S + A)) - P}: the symbol's TLS descriptor, into LDR (literal), ±1 MiB. */
    static final int R_AARCH64_TLSDESC_LD_PREL19 = 560;
    /** {@code G(GTLSDESC(S + A)) - P}, into ADR, ±1 MiB. */
    static final int R_AARCH64_TLSDESC_ADR_PREL21 = 561;
    /** {@code Page(G(GTLSDESC(S + A))) - Page(P)}, into ADRP, ±4 GiB. */
    static final int R_AARCH64_TLSDESC_ADR_PAGE21 = 562;
    /** {@code G(GTLSDESC(S + A))}, bits [11:3] into LDR (64-bit) imm12, no check. */
    static final int R_AARCH64_TLSDESC_LD64_LO12 = 563;
    /** {@code G(GTLSDESC(S + A))}, bits [11:0] into ADD imm12, no check. */
    static final int R_AARCH64_TLSDESC_ADD_LO12 = 564;
    /** {@code G(GTLSDESC(S + A)) - GOT}, bits [31:16] into MOVN/MOVZ, -2^32 <= X < 2^32. */
    static final int R_AARCH64_TLSDESC_OFF_G1 = 565;
    /** {@code G(GTLSDESC(S + A)) - GOT}, bits [15:0] into MOVK imm16, no check. */
    static final int R_AARCH64_TLSDESC_OFF_G0_NC = 566;
    /** Marks the descriptor sequence's LDR for relaxation; nothing to write. */
    static final int R_AARCH64_TLSDESC_LDR = 567;
    /** Marks the descriptor sequence's ADD for relaxation; nothing to write. */
    static final int R_AARCH64_TLSDESC_ADD = 568;
    /** Marks the descriptor sequence's BLR for relaxation; nothing to write. */
    static final int R_AARCH64_TLSDESC_CALL = 569;
    /** {@code TPREL(S + A)}, bits [11:4] into LDR/STR (128-bit) imm12, 0 <= X < 2^12. */
    static final int R_AARCH64_TLSLE_LDST128_TPREL_LO12 = 570;
    /** {@code TPREL(S + A)}, bits [11:4] into LDR/STR (128-bit) imm12, no check. */
    static final int R_AARCH64_TLSLE_LDST128_TPREL_LO12_NC = 571;
    /** {@code DTPREL(S + A)}, bits [11:4] into LDR/STR (128-bit) imm12, 0 <= X < 2^12. */
    static final int R_AARCH64_TLSLD_LDST128_DTPREL_LO12 = 572;
    /** {@code DTPREL(S + A)}, bits [11:4] into LDR/STR (128-bit) imm12, no check. */
    static final int R_AARCH64_TLSLD_LDST128_DTPREL_LO12_NC = 573;
    /** {@code LDM(S)}: the set's TLS module id, 64 bits (data). */
    static final int R_AARCH64_TLS_DTPMOD64 = 1028;
    /** {@code DTPREL(S + A)}: the variable's offset in the set's block, 64 bits (data, debug information). */
    static final int R_AARCH64_TLS_DTPREL64 = 1029;
    /** {@code TPREL(S + A)}: the variable's offset from the thread pointer, 64 bits (data). */
    static final int R_AARCH64_TLS_TPREL64 = 1030;

    private static final Map<Integer, String> NAMES = new HashMap<>();

    static {
        // The names are the constants' own: no second list to keep in step.
        for (Field field : Aarch64Relocation.class.getDeclaredFields()) {
            if (field.getName().startsWith("R_AARCH64_") && Modifier.isStatic(field.getModifiers())) {
                try {
                    NAMES.putIfAbsent(field.getInt(null), field.getName());
                } catch (IllegalAccessException e) {
                    throw new AssertionError(e);
                }
            }
        }
        NAMES.put(256, "R_AARCH64_NONE"); // the ABI's other number for it
    }

    /** Its name as AAELF64 spells it, for messages. */
    static String name(int type) {
        String name = NAMES.get(type);
        return name != null ? name : "AArch64 relocation type " + type;
    }

    /**
     * Writes {@code x}, the type's formula result, into its field at {@code offset} of
     * {@code section} (an instruction keeps its other bits): the writers by type, for tests and
     * tools; the apply loop calls the writers directly.
     *
     * @throws RelocationException naming the type when {@code x} is out of range or misaligned,
     *                             or the type has no field here
     */
    static void write(MemorySegment section, long offset, int type, long x, Location where) {
        String error = switch (type) {
            case R_AARCH64_ABS64, R_AARCH64_PREL64, R_AARCH64_GOTREL64, R_AARCH64_TLS_DTPREL64, R_AARCH64_TLS_TPREL64,
                 R_AARCH64_TLS_DTPMOD64 -> Aarch64Fields.word64(section, offset, x);
            case R_AARCH64_ABS32, R_AARCH64_PREL32 -> Aarch64Fields.word32(section, offset, x, -(1L << 31), (1L << 32) - 1);
            case R_AARCH64_GOTREL32 -> Aarch64Fields.word32(section, offset, x, -(1L << 31), (1L << 31) - 1);
            case R_AARCH64_ABS16, R_AARCH64_PREL16 -> Aarch64Fields.word16(section, offset, x);
            case R_AARCH64_MOVW_UABS_G0 -> Aarch64Fields.movk(section, offset, x, 0, true);
            case R_AARCH64_MOVW_UABS_G0_NC, R_AARCH64_MOVW_PREL_G0_NC, R_AARCH64_TLSGD_MOVW_G0_NC, R_AARCH64_TLSLD_MOVW_G0_NC,
                 R_AARCH64_TLSLD_MOVW_DTPREL_G0_NC, R_AARCH64_TLSIE_MOVW_GOTTPREL_G0_NC, R_AARCH64_TLSLE_MOVW_TPREL_G0_NC,
                 R_AARCH64_TLSDESC_OFF_G0_NC -> Aarch64Fields.movk(section, offset, x, 0, false);
            case R_AARCH64_MOVW_UABS_G1 -> Aarch64Fields.movk(section, offset, x, 16, true);
            case R_AARCH64_MOVW_UABS_G1_NC, R_AARCH64_MOVW_PREL_G1_NC, R_AARCH64_TLSLD_MOVW_DTPREL_G1_NC,
                 R_AARCH64_TLSLE_MOVW_TPREL_G1_NC -> Aarch64Fields.movk(section, offset, x, 16, false);
            case R_AARCH64_MOVW_UABS_G2 -> Aarch64Fields.movk(section, offset, x, 32, true);
            case R_AARCH64_MOVW_UABS_G2_NC, R_AARCH64_MOVW_PREL_G2_NC -> Aarch64Fields.movk(section, offset, x, 32, false);
            case R_AARCH64_MOVW_UABS_G3 -> Aarch64Fields.movk(section, offset, x, 48, false);
            case R_AARCH64_MOVW_SABS_G0, R_AARCH64_MOVW_PREL_G0, R_AARCH64_TLSLD_MOVW_DTPREL_G0,
                 R_AARCH64_TLSLE_MOVW_TPREL_G0 -> Aarch64Fields.movnz(section, offset, x, 0);
            case R_AARCH64_MOVW_SABS_G1, R_AARCH64_MOVW_PREL_G1, R_AARCH64_TLSGD_MOVW_G1, R_AARCH64_TLSLD_MOVW_G1,
                 R_AARCH64_TLSLD_MOVW_DTPREL_G1, R_AARCH64_TLSIE_MOVW_GOTTPREL_G1, R_AARCH64_TLSLE_MOVW_TPREL_G1,
                 R_AARCH64_TLSDESC_OFF_G1 -> Aarch64Fields.movnz(section, offset, x, 16);
            case R_AARCH64_MOVW_SABS_G2, R_AARCH64_MOVW_PREL_G2, R_AARCH64_TLSLD_MOVW_DTPREL_G2,
                 R_AARCH64_TLSLE_MOVW_TPREL_G2 -> Aarch64Fields.movnz(section, offset, x, 32);
            case R_AARCH64_MOVW_PREL_G3 -> Aarch64Fields.movnz(section, offset, x, 48);
            case R_AARCH64_LD_PREL_LO19, R_AARCH64_CONDBR19, R_AARCH64_GOT_LD_PREL19, R_AARCH64_TLSLD_LD_PREL19,
                 R_AARCH64_TLSIE_LD_GOTTPREL_PREL19, R_AARCH64_TLSDESC_LD_PREL19 -> Aarch64Fields.branch(section, offset, x, 19, 5);
            case R_AARCH64_TSTBR14 -> Aarch64Fields.branch(section, offset, x, 14, 5);
            case R_AARCH64_JUMP26, R_AARCH64_CALL26 -> Aarch64Fields.branch(section, offset, x, 26, 0);
            case R_AARCH64_ADR_PREL_LO21, R_AARCH64_TLSGD_ADR_PREL21, R_AARCH64_TLSLD_ADR_PREL21,
                 R_AARCH64_TLSDESC_ADR_PREL21 -> Aarch64Fields.adr(section, offset, x);
            case R_AARCH64_ADR_PREL_PG_HI21, R_AARCH64_ADR_GOT_PAGE, R_AARCH64_TLSGD_ADR_PAGE21, R_AARCH64_TLSLD_ADR_PAGE21,
                 R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21, R_AARCH64_TLSDESC_ADR_PAGE21 -> Aarch64Fields.adrp(section, offset, x, true);
            case R_AARCH64_ADR_PREL_PG_HI21_NC -> Aarch64Fields.adrp(section, offset, x, false);
            case R_AARCH64_ADD_ABS_LO12_NC, R_AARCH64_LDST8_ABS_LO12_NC, R_AARCH64_TLSGD_ADD_LO12_NC,
                 R_AARCH64_TLSLD_ADD_LO12_NC, R_AARCH64_TLSLD_ADD_DTPREL_LO12_NC, R_AARCH64_TLSLD_LDST8_DTPREL_LO12_NC,
                 R_AARCH64_TLSLE_ADD_TPREL_LO12_NC, R_AARCH64_TLSLE_LDST8_TPREL_LO12_NC,
                 R_AARCH64_TLSDESC_ADD_LO12 -> Aarch64Fields.lo12(section, offset, x, 0, false);
            case R_AARCH64_LDST16_ABS_LO12_NC, R_AARCH64_TLSLD_LDST16_DTPREL_LO12_NC,
                 R_AARCH64_TLSLE_LDST16_TPREL_LO12_NC -> Aarch64Fields.lo12(section, offset, x, 1, false);
            case R_AARCH64_LDST32_ABS_LO12_NC, R_AARCH64_TLSLD_LDST32_DTPREL_LO12_NC,
                 R_AARCH64_TLSLE_LDST32_TPREL_LO12_NC -> Aarch64Fields.lo12(section, offset, x, 2, false);
            case R_AARCH64_LDST64_ABS_LO12_NC, R_AARCH64_LD64_GOT_LO12_NC, R_AARCH64_TLSLD_LDST64_DTPREL_LO12_NC,
                 R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC, R_AARCH64_TLSLE_LDST64_TPREL_LO12_NC,
                 R_AARCH64_TLSDESC_LD64_LO12 -> Aarch64Fields.lo12(section, offset, x, 3, false);
            case R_AARCH64_LDST128_ABS_LO12_NC, R_AARCH64_TLSLD_LDST128_DTPREL_LO12_NC,
                 R_AARCH64_TLSLE_LDST128_TPREL_LO12_NC -> Aarch64Fields.lo12(section, offset, x, 4, false);
            case R_AARCH64_TLSLD_ADD_DTPREL_LO12, R_AARCH64_TLSLD_LDST8_DTPREL_LO12, R_AARCH64_TLSLE_ADD_TPREL_LO12,
                 R_AARCH64_TLSLE_LDST8_TPREL_LO12 -> Aarch64Fields.lo12(section, offset, x, 0, true);
            case R_AARCH64_TLSLD_LDST16_DTPREL_LO12, R_AARCH64_TLSLE_LDST16_TPREL_LO12 -> Aarch64Fields.lo12(section, offset, x, 1, true);
            case R_AARCH64_TLSLD_LDST32_DTPREL_LO12, R_AARCH64_TLSLE_LDST32_TPREL_LO12 -> Aarch64Fields.lo12(section, offset, x, 2, true);
            case R_AARCH64_TLSLD_LDST64_DTPREL_LO12, R_AARCH64_TLSLE_LDST64_TPREL_LO12 -> Aarch64Fields.lo12(section, offset, x, 3, true);
            case R_AARCH64_TLSLD_LDST128_DTPREL_LO12, R_AARCH64_TLSLE_LDST128_TPREL_LO12 -> Aarch64Fields.lo12(section, offset, x, 4, true);
            case R_AARCH64_TLSLD_ADD_DTPREL_HI12, R_AARCH64_TLSLE_ADD_TPREL_HI12 -> Aarch64Fields.hi12(section, offset, x);
            case R_AARCH64_LD64_GOTOFF_LO15, R_AARCH64_LD64_GOTPAGE_LO15 -> Aarch64Fields.lo15(section, offset, x);
            case R_AARCH64_NONE, 256, R_AARCH64_TLSDESC_LDR, R_AARCH64_TLSDESC_ADD, R_AARCH64_TLSDESC_CALL -> null;
            default -> throw new RelocationException(where, "unsupported relocation type " + name(type));
        };
        if (error != null) {
            throw new RelocationException(where, name(type) + ": " + error);
        }
    }

    /** Bytes a type writes at its offset: 0 for none, -1 for a type jdyld does not apply. */
    static int width(int type) {
        return switch (type) {
            case R_AARCH64_NONE, 256, R_AARCH64_TLSDESC_LDR, R_AARCH64_TLSDESC_ADD, R_AARCH64_TLSDESC_CALL -> 0;
            case R_AARCH64_ABS64, R_AARCH64_PREL64, R_AARCH64_GOTREL64, R_AARCH64_TLS_DTPREL64, R_AARCH64_TLS_TPREL64,
                 R_AARCH64_TLS_DTPMOD64 -> 8;
            case R_AARCH64_ABS16, R_AARCH64_PREL16 -> 2;
            default -> NAMES.containsKey(type) ? 4 : -1;
        };
    }

    /** Whether a type refers to thread-local storage. */
    static boolean isThreadLocal(int type) {
        return (type >= R_AARCH64_TLSGD_ADR_PREL21 && type <= R_AARCH64_TLSLD_LDST128_DTPREL_LO12_NC)
                || (type >= R_AARCH64_TLS_DTPMOD64 && type <= R_AARCH64_TLS_TPREL64);
    }
}
