package dev.jdyld.link.aarch64;

import dev.jdyld.elf.Elf;
import dev.jdyld.link.arch.RelocationTarget;
import dev.jdyld.link.arch.ResolvedSymbols;

import java.lang.foreign.MemorySegment;

import static dev.jdyld.elf.Elf.U64;
import static dev.jdyld.link.aarch64.Aarch64Fields.*;
import static dev.jdyld.link.aarch64.Aarch64Relocation.*;

/**
 * The apply loop: each type's formula (see {@link Aarch64Relocation}) into its field. The loop
 * reads primitives and allocates nothing unless a value does not fit, which is an error naming
 * the object, section, offset, type and symbol. A GOT-indirect kind's addend is added to the
 * slot's address, as lld does.
 */
final class Aarch64Apply {
    private Aarch64Apply() {}

    private static long page(long address) {
        return address & ~0xfffL;
    }

    static void relocate(RelocationTarget target, long gotAddress) {
        final MemorySegment in = target.object.data;
        final MemorySegment b = target.bytes;
        final ResolvedSymbols symbols = target.symbols;
        final long[] address = symbols.address;
        final long[] slot = symbols.gotSlot;
        final long[] call = symbols.callTarget;
        final long[] tlsGd = symbols.tlsGdSlot;
        final long[] tlsDesc = symbols.tlsDescSlot;
        final long tlsLd = symbols.tlsLdSlot;
        final long TP = symbols.tlsThreadPointerOffset;
        final long GOT = gotAddress;
        final long start = target.object.sectionOffset[target.rela];
        final long end = start + target.object.sectionSize[target.rela];
        for (long entry = start; entry < end; entry += Elf.RELA_SIZE) {
            final long o = in.get(U64, entry);
            final long info = in.get(U64, entry + 8);
            final long A = in.get(U64, entry + 16);
            final int symbol = (int) (info >>> 32);
            final int type = (int) info;
            final long P = target.address + o;
            final long S = address[symbol];
            final String error = switch (type) {
                case R_AARCH64_NONE, 256, R_AARCH64_TLSDESC_LDR, R_AARCH64_TLSDESC_ADD, R_AARCH64_TLSDESC_CALL -> null;
                case R_AARCH64_ABS64, R_AARCH64_TLS_DTPREL64 -> word64(b, o, S + A);
                case R_AARCH64_ABS32 -> word32(b, o, S + A, -(1L << 31), (1L << 32) - 1);
                case R_AARCH64_ABS16 -> word16(b, o, S + A);
                case R_AARCH64_PREL64 -> word64(b, o, S + A - P);
                case R_AARCH64_PREL32 -> word32(b, o, S + A - P, -(1L << 31), (1L << 32) - 1);
                case R_AARCH64_PREL16 -> word16(b, o, S + A - P);
                case R_AARCH64_GOTREL64 -> word64(b, o, S + A - GOT);
                case R_AARCH64_GOTREL32 -> word32(b, o, S + A - GOT, -(1L << 31), (1L << 31) - 1);
                case R_AARCH64_MOVW_UABS_G0 -> movk(b, o, S + A, 0, true);
                case R_AARCH64_MOVW_UABS_G0_NC -> movk(b, o, S + A, 0, false);
                case R_AARCH64_MOVW_UABS_G1 -> movk(b, o, S + A, 16, true);
                case R_AARCH64_MOVW_UABS_G1_NC -> movk(b, o, S + A, 16, false);
                case R_AARCH64_MOVW_UABS_G2 -> movk(b, o, S + A, 32, true);
                case R_AARCH64_MOVW_UABS_G2_NC -> movk(b, o, S + A, 32, false);
                case R_AARCH64_MOVW_UABS_G3 -> movk(b, o, S + A, 48, false);
                case R_AARCH64_MOVW_SABS_G0 -> movnz(b, o, S + A, 0);
                case R_AARCH64_MOVW_SABS_G1 -> movnz(b, o, S + A, 16);
                case R_AARCH64_MOVW_SABS_G2 -> movnz(b, o, S + A, 32);
                case R_AARCH64_MOVW_PREL_G0 -> movnz(b, o, S + A - P, 0);
                case R_AARCH64_MOVW_PREL_G0_NC -> movk(b, o, S + A - P, 0, false);
                case R_AARCH64_MOVW_PREL_G1 -> movnz(b, o, S + A - P, 16);
                case R_AARCH64_MOVW_PREL_G1_NC -> movk(b, o, S + A - P, 16, false);
                case R_AARCH64_MOVW_PREL_G2 -> movnz(b, o, S + A - P, 32);
                case R_AARCH64_MOVW_PREL_G2_NC -> movk(b, o, S + A - P, 32, false);
                case R_AARCH64_MOVW_PREL_G3 -> movnz(b, o, S + A - P, 48);
                case R_AARCH64_LD_PREL_LO19, R_AARCH64_CONDBR19 -> branch(b, o, S + A - P, 19, 5);
                case R_AARCH64_TSTBR14 -> branch(b, o, S + A - P, 14, 5);
                case R_AARCH64_JUMP26, R_AARCH64_CALL26 -> {
                    String direct = branch(b, o, call[symbol] + A - P, 26, 0);
                    long thunk = direct == null || target.rangeExtensions == null ? 0
                            : target.rangeExtensions.thunk(symbol, A);
                    yield thunk == 0 ? direct : branch(b, o, thunk - P, 26, 0);
                }
                case R_AARCH64_ADR_PREL_LO21 -> adr(b, o, S + A - P);
                case R_AARCH64_ADR_PREL_PG_HI21 -> adrp(b, o, page(S + A) - page(P), true);
                case R_AARCH64_ADR_PREL_PG_HI21_NC -> adrp(b, o, page(S + A) - page(P), false);
                case R_AARCH64_ADD_ABS_LO12_NC, R_AARCH64_LDST8_ABS_LO12_NC -> lo12(b, o, S + A, 0, false);
                case R_AARCH64_LDST16_ABS_LO12_NC -> lo12(b, o, S + A, 1, false);
                case R_AARCH64_LDST32_ABS_LO12_NC -> lo12(b, o, S + A, 2, false);
                case R_AARCH64_LDST64_ABS_LO12_NC -> lo12(b, o, S + A, 3, false);
                case R_AARCH64_LDST128_ABS_LO12_NC -> lo12(b, o, S + A, 4, false);
                case R_AARCH64_ADR_GOT_PAGE -> adrp(b, o, page(slot[symbol] + A) - page(P), true);
                case R_AARCH64_LD64_GOT_LO12_NC -> lo12(b, o, slot[symbol] + A, 3, false);
                case R_AARCH64_LD64_GOTPAGE_LO15 -> lo15(b, o, slot[symbol] + A - page(GOT));
                case R_AARCH64_LD64_GOTOFF_LO15 -> lo15(b, o, slot[symbol] + A - GOT);
                case R_AARCH64_GOT_LD_PREL19 -> branch(b, o, slot[symbol] + A - P, 19, 5);
                case R_AARCH64_TLSGD_ADR_PREL21 -> adr(b, o, tlsGd[symbol] + A - P);
                case R_AARCH64_TLSGD_ADR_PAGE21 -> adrp(b, o, page(tlsGd[symbol] + A) - page(P), true);
                case R_AARCH64_TLSGD_ADD_LO12_NC -> lo12(b, o, tlsGd[symbol] + A, 0, false);
                case R_AARCH64_TLSGD_MOVW_G1 -> movnz(b, o, tlsGd[symbol] + A - GOT, 16);
                case R_AARCH64_TLSGD_MOVW_G0_NC -> movk(b, o, tlsGd[symbol] + A - GOT, 0, false);
                case R_AARCH64_TLSLD_ADR_PREL21 -> adr(b, o, tlsLd + A - P);
                case R_AARCH64_TLSLD_ADR_PAGE21 -> adrp(b, o, page(tlsLd + A) - page(P), true);
                case R_AARCH64_TLSLD_ADD_LO12_NC -> lo12(b, o, tlsLd + A, 0, false);
                case R_AARCH64_TLSLD_MOVW_G1 -> movnz(b, o, tlsLd + A - GOT, 16);
                case R_AARCH64_TLSLD_MOVW_G0_NC -> movk(b, o, tlsLd + A - GOT, 0, false);
                case R_AARCH64_TLSLD_LD_PREL19 -> branch(b, o, tlsLd + A - P, 19, 5);
                case R_AARCH64_TLSLD_MOVW_DTPREL_G2 -> movnz(b, o, S + A, 32);
                case R_AARCH64_TLSLD_MOVW_DTPREL_G1 -> movnz(b, o, S + A, 16);
                case R_AARCH64_TLSLD_MOVW_DTPREL_G1_NC -> movk(b, o, S + A, 16, false);
                case R_AARCH64_TLSLD_MOVW_DTPREL_G0 -> movnz(b, o, S + A, 0);
                case R_AARCH64_TLSLD_MOVW_DTPREL_G0_NC -> movk(b, o, S + A, 0, false);
                case R_AARCH64_TLSLD_ADD_DTPREL_HI12 -> hi12(b, o, S + A);
                case R_AARCH64_TLSLD_ADD_DTPREL_LO12, R_AARCH64_TLSLD_LDST8_DTPREL_LO12 -> lo12(b, o, S + A, 0, true);
                case R_AARCH64_TLSLD_ADD_DTPREL_LO12_NC, R_AARCH64_TLSLD_LDST8_DTPREL_LO12_NC -> lo12(b, o, S + A, 0, false);
                case R_AARCH64_TLSLD_LDST16_DTPREL_LO12 -> lo12(b, o, S + A, 1, true);
                case R_AARCH64_TLSLD_LDST16_DTPREL_LO12_NC -> lo12(b, o, S + A, 1, false);
                case R_AARCH64_TLSLD_LDST32_DTPREL_LO12 -> lo12(b, o, S + A, 2, true);
                case R_AARCH64_TLSLD_LDST32_DTPREL_LO12_NC -> lo12(b, o, S + A, 2, false);
                case R_AARCH64_TLSLD_LDST64_DTPREL_LO12 -> lo12(b, o, S + A, 3, true);
                case R_AARCH64_TLSLD_LDST64_DTPREL_LO12_NC -> lo12(b, o, S + A, 3, false);
                case R_AARCH64_TLSLD_LDST128_DTPREL_LO12 -> lo12(b, o, S + A, 4, true);
                case R_AARCH64_TLSLD_LDST128_DTPREL_LO12_NC -> lo12(b, o, S + A, 4, false);
                case R_AARCH64_TLSIE_MOVW_GOTTPREL_G1 -> movnz(b, o, slot[symbol] + A - GOT, 16);
                case R_AARCH64_TLSIE_MOVW_GOTTPREL_G0_NC -> movk(b, o, slot[symbol] + A - GOT, 0, false);
                case R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21 -> adrp(b, o, page(slot[symbol] + A) - page(P), true);
                case R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC -> lo12(b, o, slot[symbol] + A, 3, false);
                case R_AARCH64_TLSIE_LD_GOTTPREL_PREL19 -> branch(b, o, slot[symbol] + A - P, 19, 5);
                case R_AARCH64_TLSLE_MOVW_TPREL_G2 -> movnz(b, o, S + A + TP, 32);
                case R_AARCH64_TLSLE_MOVW_TPREL_G1 -> movnz(b, o, S + A + TP, 16);
                case R_AARCH64_TLSLE_MOVW_TPREL_G1_NC -> movk(b, o, S + A + TP, 16, false);
                case R_AARCH64_TLSLE_MOVW_TPREL_G0 -> movnz(b, o, S + A + TP, 0);
                case R_AARCH64_TLSLE_MOVW_TPREL_G0_NC -> movk(b, o, S + A + TP, 0, false);
                case R_AARCH64_TLSLE_ADD_TPREL_HI12 -> hi12(b, o, S + A + TP);
                case R_AARCH64_TLSLE_ADD_TPREL_LO12, R_AARCH64_TLSLE_LDST8_TPREL_LO12 -> lo12(b, o, S + A + TP, 0, true);
                case R_AARCH64_TLSLE_ADD_TPREL_LO12_NC, R_AARCH64_TLSLE_LDST8_TPREL_LO12_NC -> lo12(b, o, S + A + TP, 0, false);
                case R_AARCH64_TLSLE_LDST16_TPREL_LO12 -> lo12(b, o, S + A + TP, 1, true);
                case R_AARCH64_TLSLE_LDST16_TPREL_LO12_NC -> lo12(b, o, S + A + TP, 1, false);
                case R_AARCH64_TLSLE_LDST32_TPREL_LO12 -> lo12(b, o, S + A + TP, 2, true);
                case R_AARCH64_TLSLE_LDST32_TPREL_LO12_NC -> lo12(b, o, S + A + TP, 2, false);
                case R_AARCH64_TLSLE_LDST64_TPREL_LO12 -> lo12(b, o, S + A + TP, 3, true);
                case R_AARCH64_TLSLE_LDST64_TPREL_LO12_NC -> lo12(b, o, S + A + TP, 3, false);
                case R_AARCH64_TLSLE_LDST128_TPREL_LO12 -> lo12(b, o, S + A + TP, 4, true);
                case R_AARCH64_TLSLE_LDST128_TPREL_LO12_NC -> lo12(b, o, S + A + TP, 4, false);
                case R_AARCH64_TLSDESC_LD_PREL19 -> branch(b, o, tlsDesc[symbol] + A - P, 19, 5);
                case R_AARCH64_TLSDESC_ADR_PREL21 -> adr(b, o, tlsDesc[symbol] + A - P);
                case R_AARCH64_TLSDESC_ADR_PAGE21 -> adrp(b, o, page(tlsDesc[symbol] + A) - page(P), true);
                case R_AARCH64_TLSDESC_LD64_LO12 -> lo12(b, o, tlsDesc[symbol] + A, 3, false);
                case R_AARCH64_TLSDESC_ADD_LO12 -> lo12(b, o, tlsDesc[symbol] + A, 0, false);
                case R_AARCH64_TLSDESC_OFF_G1 -> movnz(b, o, tlsDesc[symbol] + A - GOT, 16);
                case R_AARCH64_TLSDESC_OFF_G0_NC -> movk(b, o, tlsDesc[symbol] + A - GOT, 0, false);
                case R_AARCH64_TLS_DTPMOD64 -> word64(b, o, symbols.tlsModule);
                case R_AARCH64_TLS_TPREL64 -> word64(b, o, S + A + TP);
                default -> throw target.unsupported(entry);
            };
            if (error != null && !symbols.inDroppedGroup[symbol]) {
                // (A reference to a dropped COMDAT group, which only .eh_frame has, stays unapplied as static linkers leave it.)
                throw target.error(entry, error);
            }
        }
    }
}
