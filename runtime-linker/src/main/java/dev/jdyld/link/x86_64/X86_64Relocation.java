package dev.jdyld.link.x86_64;

/**
 * The x86-64 relocation types, after the System V psABI ("AMD64 Architecture Processor
 * Supplement", section 4.4, table "Relocation Types"), each with its formula and field.
 *
 * <p>Notation as in the psABI: {@code S} symbol address, {@code A} addend, {@code P} address of
 * the field being relocated, {@code GOT} address of the set's GOT, {@code G} offset of the
 * symbol's GOT slot from {@code GOT}, {@code L} address of the symbol's stub (or the symbol
 * itself when it is inside the set), {@code Z} symbol size.
 */
final class X86_64Relocation {
    private X86_64Relocation() {}

    /** No relocation. */
    static final int R_X86_64_NONE = 0;
    /** {@code S + A}, 64 bits. */
    static final int R_X86_64_64 = 1;
    /** {@code S + A - P}, 32-bit signed. */
    static final int R_X86_64_PC32 = 2;
    /** {@code G + A}, 32-bit signed. */
    static final int R_X86_64_GOT32 = 3;
    /** {@code L + A - P}, 32-bit signed. */
    static final int R_X86_64_PLT32 = 4;
    static final int R_X86_64_COPY = 5;
    static final int R_X86_64_GLOB_DAT = 6;
    static final int R_X86_64_JUMP_SLOT = 7;
    static final int R_X86_64_RELATIVE = 8;
    /** {@code G + GOT + A - P}, 32-bit signed. */
    static final int R_X86_64_GOTPCREL = 9;
    /** {@code S + A}, 32-bit zero-extended. */
    static final int R_X86_64_32 = 10;
    /** {@code S + A}, 32-bit sign-extended. */
    static final int R_X86_64_32S = 11;
    /** {@code S + A}, 16 bits (signed or unsigned). */
    static final int R_X86_64_16 = 12;
    /** {@code S + A - P}, 16-bit signed. */
    static final int R_X86_64_PC16 = 13;
    /** {@code S + A}, 8 bits (signed or unsigned). */
    static final int R_X86_64_8 = 14;
    /** {@code S + A - P}, 8-bit signed. */
    static final int R_X86_64_PC8 = 15;
    /** Module id of the symbol's TLS block (the set's pthread key), 64 bits. */
    static final int R_X86_64_DTPMOD64 = 16;
    /** {@code S + A}, the offset in the TLS block, 64 bits. */
    static final int R_X86_64_DTPOFF64 = 17;
    /** {@code S + A + TP}: offset from the thread pointer, the set's block being in static TLS at {@code TP}, 64 bits. */
    static final int R_X86_64_TPOFF64 = 18;
    /** {@code GD + A - P}: the symbol's {@code tls_index} pair in the GOT, 32-bit signed. */
    static final int R_X86_64_TLSGD = 19;
    /** {@code LD + A - P}: the set's {@code tls_index} pair (offset 0), 32-bit signed. */
    static final int R_X86_64_TLSLD = 20;
    /** {@code S + A}, the offset in the TLS block, 32-bit signed. */
    static final int R_X86_64_DTPOFF32 = 21;
    /** {@code G + GOT + A - P}: a GOT slot holding the thread-pointer offset (host TLS, or the set's in static TLS), 32-bit signed. */
    static final int R_X86_64_GOTTPOFF = 22;
    /** {@code S + A + TP}: offset from the thread pointer, the set's block being in static TLS at {@code TP}, 32-bit signed. */
    static final int R_X86_64_TPOFF32 = 23;
    /** {@code S + A - P}, 64 bits. */
    static final int R_X86_64_PC64 = 24;
    /** {@code S + A - GOT}, 64 bits. */
    static final int R_X86_64_GOTOFF64 = 25;
    /** {@code GOT + A - P}, 32-bit signed. */
    static final int R_X86_64_GOTPC32 = 26;
    /** {@code G + A}, 64 bits. */
    static final int R_X86_64_GOT64 = 27;
    /** {@code G + GOT - P + A}, 64 bits. */
    static final int R_X86_64_GOTPCREL64 = 28;
    /** {@code GOT - P + A}, 64 bits. */
    static final int R_X86_64_GOTPC64 = 29;
    /** {@code G + A}, 64 bits (deprecated alias of GOT64). */
    static final int R_X86_64_GOTPLT64 = 30;
    /** {@code L - GOT + A}, 64 bits. */
    static final int R_X86_64_PLTOFF64 = 31;
    /** {@code Z + A}, 32-bit zero-extended. */
    static final int R_X86_64_SIZE32 = 32;
    /** {@code Z + A}, 64 bits. */
    static final int R_X86_64_SIZE64 = 33;
    /** {@code DESC + A - P}: the symbol's TLS descriptor in the GOT, 32-bit signed. */
    static final int R_X86_64_GOTPC32_TLSDESC = 34;
    /** Marks the descriptor call; nothing is written. */
    static final int R_X86_64_TLSDESC_CALL = 35;
    static final int R_X86_64_TLSDESC = 36;
    static final int R_X86_64_IRELATIVE = 37;
    static final int R_X86_64_RELATIVE64 = 38;
    /** {@code G + GOT + A - P}, 32-bit signed; relaxable, applied as GOTPCREL. */
    static final int R_X86_64_GOTPCRELX = 41;
    /** {@code G + GOT + A - P}, 32-bit signed; relaxable, applied as GOTPCREL. */
    static final int R_X86_64_REX_GOTPCRELX = 42;

    private static final String[] NAMES = new String[43];

    static {
        String[] names = {
            "NONE", "64", "PC32", "GOT32", "PLT32", "COPY", "GLOB_DAT", "JUMP_SLOT", "RELATIVE", "GOTPCREL",
            "32", "32S", "16", "PC16", "8", "PC8", "DTPMOD64", "DTPOFF64", "TPOFF64", "TLSGD", "TLSLD",
            "DTPOFF32", "GOTTPOFF", "TPOFF32", "PC64", "GOTOFF64", "GOTPC32", "GOT64", "GOTPCREL64", "GOTPC64",
            "GOTPLT64", "PLTOFF64", "SIZE32", "SIZE64", "GOTPC32_TLSDESC", "TLSDESC_CALL", "TLSDESC",
            "IRELATIVE", "RELATIVE64", null, null, "GOTPCRELX", "REX_GOTPCRELX"};
        for (int i = 0; i < names.length; i++) {
            NAMES[i] = names[i] == null ? null : "R_X86_64_" + names[i];
        }
    }

    static String name(int type) {
        return type >= 0 && type < NAMES.length && NAMES[type] != null ? NAMES[type] : "relocation type " + type;
    }

    /** Bytes written at the relocation's offset; -1 for a type jdyld does not apply. */
    static int width(int type) {
        return switch (type) {
            case R_X86_64_NONE, R_X86_64_TLSDESC_CALL -> 0;
            case R_X86_64_8, R_X86_64_PC8 -> 1;
            case R_X86_64_16, R_X86_64_PC16 -> 2;
            case R_X86_64_PC32, R_X86_64_GOT32, R_X86_64_PLT32, R_X86_64_GOTPCREL, R_X86_64_32, R_X86_64_32S,
                 R_X86_64_TLSGD, R_X86_64_TLSLD, R_X86_64_DTPOFF32, R_X86_64_GOTTPOFF, R_X86_64_TPOFF32,
                 R_X86_64_GOTPC32, R_X86_64_SIZE32, R_X86_64_GOTPC32_TLSDESC, R_X86_64_GOTPCRELX,
                 R_X86_64_REX_GOTPCRELX -> 4;
            case R_X86_64_64, R_X86_64_PC64, R_X86_64_GOTOFF64, R_X86_64_GOTPC64, R_X86_64_GOT64,
                 R_X86_64_GOTPCREL64, R_X86_64_GOTPLT64, R_X86_64_PLTOFF64, R_X86_64_SIZE64,
                 R_X86_64_DTPMOD64, R_X86_64_DTPOFF64, R_X86_64_TPOFF64 -> 8;
            default -> -1; // COPY, GLOB_DAT, JUMP_SLOT, RELATIVE, TLSDESC, IRELATIVE, RELATIVE64: output-only types
        };
    }

    static boolean isThreadLocal(int type) {
        return switch (type) {
            case R_X86_64_TLSGD, R_X86_64_TLSLD, R_X86_64_GOTPC32_TLSDESC, R_X86_64_TLSDESC_CALL, R_X86_64_DTPOFF32,
                 R_X86_64_DTPOFF64, R_X86_64_DTPMOD64, R_X86_64_GOTTPOFF, R_X86_64_TPOFF32, R_X86_64_TPOFF64 -> true;
            default -> false;
        };
    }
}
