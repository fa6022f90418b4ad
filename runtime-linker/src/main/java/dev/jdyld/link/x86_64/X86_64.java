package dev.jdyld.link;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * x86-64 relocation rules, after the System V psABI ("AMD64 Architecture Processor Supplement",
 * section 4.4, table "Relocation Types").
 *
 * <p>Notation as in the psABI: {@code S} symbol address, {@code A} addend, {@code P} address of
 * the field being relocated, {@code GOT} address of the set's GOT, {@code G} offset of the
 * symbol's GOT slot from {@code GOT}, {@code L} address of the symbol's stub (or the symbol
 * itself when it is inside the set), {@code Z} symbol size.
 *
 * <p>Quirks worth knowing:
 * <ul>
 *   <li>{@code R_X86_64_32} is zero-extended and {@code R_X86_64_32S} sign-extended by the CPU, so
 *       both only work when the set lives in the low 2 GiB; the planner detects them and asks
 *       the memory manager for such a place.</li>
 *   <li>Stubs may clobber {@code %r11} by the ABI, but ours need no register: a stub is
 *       {@code jmp *slot(%rip)} through the symbol's GOT slot, so the GOT slot is the one place a
 *       target address lives (and the one place a later rebind would write).</li>
 *   <li>{@code GOTPCRELX}/{@code REX_GOTPCRELX} are applied like {@code GOTPCREL}: the
 *       instructions are left as the compiler wrote them, so a GOT slot is always present and
 *       GOT counts equal the number of distinct symbols referenced through the GOT.</li>
 * </ul>
 */
final class X86_64 extends Architecture {
    static final X86_64 INSTANCE = new X86_64();

    private static final ValueLayout.OfLong U64 = ElfObject.U64;
    private static final ValueLayout.OfInt U32 = ElfObject.U32;
    private static final ValueLayout.OfShort U16 = ElfObject.U16;

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
    /** Thread-pointer offset, 64 bits (refused: needs static TLS). */
    static final int R_X86_64_TPOFF64 = 18;
    /** {@code GD + A - P}: the symbol's {@code tls_index} pair in the GOT, 32-bit signed. */
    static final int R_X86_64_TLSGD = 19;
    /** {@code LD + A - P}: the set's {@code tls_index} pair (offset 0), 32-bit signed. */
    static final int R_X86_64_TLSLD = 20;
    /** {@code S + A}, the offset in the TLS block, 32-bit signed. */
    static final int R_X86_64_DTPOFF32 = 21;
    /** {@code G + GOT + A - P}: a GOT slot holding the thread-pointer offset (host TLS only), 32-bit signed. */
    static final int R_X86_64_GOTTPOFF = 22;
    /** Thread-pointer offset, 32-bit signed (refused: needs static TLS). */
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

    private X86_64() {}

    @Override
    int machine() {
        return Elf.EM_X86_64;
    }

    @Override
    String relocationName(int type) {
        return type >= 0 && type < NAMES.length && NAMES[type] != null ? NAMES[type] : "relocation type " + type;
    }

    @Override
    int classify(int type) {
        return switch (type) {
            case R_X86_64_NONE, R_X86_64_64, R_X86_64_PC64, R_X86_64_GOTOFF64, R_X86_64_GOTPC32,
                 R_X86_64_GOTPC64, R_X86_64_SIZE32, R_X86_64_SIZE64 -> 0;
            case R_X86_64_PC32, R_X86_64_PC16, R_X86_64_PC8 -> PC_RELATIVE_32;
            case R_X86_64_32, R_X86_64_32S, R_X86_64_16, R_X86_64_8 -> ABSOLUTE_32;
            case R_X86_64_PLT32, R_X86_64_PLTOFF64 -> CALL;
            case R_X86_64_GOTPCREL, R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX, R_X86_64_GOT32,
                 R_X86_64_GOT64, R_X86_64_GOTPCREL64, R_X86_64_GOTPLT64 -> NEEDS_GOT;
            case R_X86_64_TLSGD -> TLS | TLS_GENERAL_DYNAMIC;
            case R_X86_64_TLSLD -> TLS | TLS_LOCAL_DYNAMIC;
            case R_X86_64_GOTPC32_TLSDESC -> TLS | TLS_DESCRIPTOR;
            case R_X86_64_DTPOFF32, R_X86_64_DTPOFF64, R_X86_64_DTPMOD64, R_X86_64_TLSDESC_CALL -> TLS;
            case R_X86_64_GOTTPOFF -> TLS | TLS_INITIAL_EXEC;
            case R_X86_64_TPOFF32, R_X86_64_TPOFF64 -> TLS | TLS_LOCAL_EXEC;
            default -> UNSUPPORTED;
        };
    }

    @Override
    int width(int type) {
        return switch (type) {
            case R_X86_64_NONE, R_X86_64_TLSDESC_CALL -> 0;
            case R_X86_64_8, R_X86_64_PC8 -> 1;
            case R_X86_64_16, R_X86_64_PC16 -> 2;
            case R_X86_64_64, R_X86_64_PC64, R_X86_64_GOTOFF64, R_X86_64_GOTPC64, R_X86_64_GOT64,
                 R_X86_64_GOTPCREL64, R_X86_64_GOTPLT64, R_X86_64_PLTOFF64, R_X86_64_SIZE64,
                 R_X86_64_DTPMOD64, R_X86_64_DTPOFF64, R_X86_64_TPOFF64, R_X86_64_TLSDESC -> 8;
            default -> 4;
        };
    }

    /** {@code ff 25 <disp32>  jmp *slot(%rip)}, then two {@code int3} bytes of padding. */
    @Override
    int stubSize() {
        return 8;
    }

    @Override
    void writeStub(MemorySegment text, long offset, long stubAddress, long slotAddress) {
        long displacement = slotAddress - (stubAddress + 6);
        if (displacement != (int) displacement) {
            throw new RelocationException("stub at 0x" + Long.toHexString(stubAddress) + " cannot reach its GOT slot at 0x"
                    + Long.toHexString(slotAddress));
        }
        text.set(ValueLayout.JAVA_BYTE, offset, (byte) 0xff);
        text.set(ValueLayout.JAVA_BYTE, offset + 1, (byte) 0x25);
        text.set(U32, offset + 2, (int) displacement);
        text.set(ValueLayout.JAVA_BYTE, offset + 6, (byte) 0xcc);
        text.set(ValueLayout.JAVA_BYTE, offset + 7, (byte) 0xcc);
    }

    @Override
    int glueCodeSize() {
        return X86_64GlueCode.SIZE;
    }

    @Override
    int glueEntry(String name) {
        return switch (name) {
            case "atexit" -> X86_64GlueCode.ATEXIT;
            case "at_quick_exit" -> X86_64GlueCode.AT_QUICK_EXIT;
            case "pthread_atfork" -> X86_64GlueCode.PTHREAD_ATFORK;
            default -> throw new IllegalArgumentException(name);
        };
    }

    @Override
    void writeGlueCode(MemorySegment text, long offset, long address, long dsoHandle) {
        X86_64GlueCode.write(text, offset, address, dsoHandle, CRuntime.CXA_ATEXIT, CRuntime.CXA_AT_QUICK_EXIT,
                CRuntime.REGISTER_ATFORK);
    }

    @Override
    int tlsCodeSize() {
        return X86_64TlsCode.SIZE;
    }

    @Override
    int tlsGetAddrEntry() {
        return X86_64TlsCode.TLS_GET_ADDR;
    }

    @Override
    int tlsDescriptorResolverEntry() {
        return X86_64TlsCode.TLSDESC_RESOLVER;
    }

    @Override
    int tlsDestructorEntry() {
        return X86_64TlsCode.DESTRUCTOR;
    }

    @Override
    void writeTlsCode(MemorySegment text, long offset, long pthreadGetspecific, long slowPath, long free) {
        X86_64TlsCode.write(text, offset, pthreadGetspecific, slowPath, free);
    }

    @Override
    void relocate(ElfObject object, int rela, MemorySegment target, long targetAddress,
                  ResolvedSymbols symbols, long gotAddress) {
        final MemorySegment in = object.data;
        final long[] address = symbols.address;
        final long[] slot = symbols.gotSlot;
        final long[] call = symbols.callTarget;
        final long[] size = symbols.size;
        final long[] tlsGd = symbols.tlsGdSlot;
        final long[] tlsDesc = symbols.tlsDescSlot;
        final long tlsLd = symbols.tlsLdSlot;
        final long tlsModule = symbols.tlsModule;
        final long GOT = gotAddress;
        final long start = object.sectionOffset[rela];
        final long end = start + object.sectionSize[rela];
        for (long entry = start; entry < end; entry += Elf.RELA_SIZE) {
            final long offset = in.get(U64, entry);
            final long info = in.get(U64, entry + 8);
            final long A = in.get(U64, entry + 16);
            final int symbol = (int) (info >>> 32);
            final int type = (int) info;
            final long P = targetAddress + offset;
            final long S = address[symbol];
            switch (type) {
                case R_X86_64_NONE -> { }
                case R_X86_64_64 -> target.set(U64, offset, S + A);
                case R_X86_64_PC32 -> putSigned32(target, offset, S + A - P, object, rela, entry);
                case R_X86_64_PLT32 -> putSigned32(target, offset, call[symbol] + A - P, object, rela, entry);
                case R_X86_64_GOTPCREL, R_X86_64_GOTPCRELX, R_X86_64_REX_GOTPCRELX ->
                        putSigned32(target, offset, slot[symbol] + A - P, object, rela, entry);
                case R_X86_64_32 -> putUnsigned32(target, offset, S + A, object, rela, entry);
                case R_X86_64_32S -> putSigned32(target, offset, S + A, object, rela, entry);
                case R_X86_64_PC64 -> target.set(U64, offset, S + A - P);
                case R_X86_64_GOTOFF64 -> target.set(U64, offset, S + A - GOT);
                case R_X86_64_GOTPC32 -> putSigned32(target, offset, GOT + A - P, object, rela, entry);
                case R_X86_64_GOTPC64 -> target.set(U64, offset, GOT + A - P);
                case R_X86_64_GOT32 -> putSigned32(target, offset, slot[symbol] - GOT + A, object, rela, entry);
                case R_X86_64_GOT64, R_X86_64_GOTPLT64 -> target.set(U64, offset, slot[symbol] - GOT + A);
                case R_X86_64_GOTPCREL64 -> target.set(U64, offset, slot[symbol] - P + A);
                case R_X86_64_PLTOFF64 -> target.set(U64, offset, call[symbol] - GOT + A);
                case R_X86_64_SIZE32 -> putUnsigned32(target, offset, size[symbol] + A, object, rela, entry);
                case R_X86_64_SIZE64 -> target.set(U64, offset, size[symbol] + A);
                case R_X86_64_16 -> put16(target, offset, S + A, object, rela, entry);
                case R_X86_64_PC16 -> putSigned16(target, offset, S + A - P, object, rela, entry);
                case R_X86_64_8 -> put8(target, offset, S + A, object, rela, entry);
                case R_X86_64_PC8 -> putSigned8(target, offset, S + A - P, object, rela, entry);
                case R_X86_64_TLSGD -> putSigned32(target, offset, tlsGd[symbol] + A - P, object, rela, entry);
                case R_X86_64_TLSLD -> putSigned32(target, offset, tlsLd + A - P, object, rela, entry);
                case R_X86_64_GOTPC32_TLSDESC -> putSigned32(target, offset, tlsDesc[symbol] + A - P, object, rela, entry);
                case R_X86_64_GOTTPOFF -> putSigned32(target, offset, slot[symbol] + A - P, object, rela, entry);
                case R_X86_64_DTPOFF32 -> putSigned32(target, offset, S + A, object, rela, entry);
                case R_X86_64_DTPOFF64 -> target.set(U64, offset, S + A);
                case R_X86_64_DTPMOD64 -> target.set(U64, offset, tlsModule);
                case R_X86_64_TLSDESC_CALL -> { }
                default -> throw new RelocationException(object.name + ": section "
                        + object.sectionName[object.sectionInfo[rela]] + " offset 0x" + Long.toHexString(offset)
                        + ": unsupported relocation " + relocationName(type));
            }
        }
    }

    private void putSigned32(MemorySegment target, long offset, long value, ElfObject o, int rela, long entry) {
        if (value != (int) value) {
            if (targetsDroppedGroup(o, entry)) {
                return;
            }
            throw overflow(o, rela, entry, value, "a signed 32-bit field");
        }
        target.set(U32, offset, (int) value);
    }

    private void putUnsigned32(MemorySegment target, long offset, long value, ElfObject o, int rela, long entry) {
        if ((value >>> 32) != 0) {
            throw overflow(o, rela, entry, value, "an unsigned 32-bit field");
        }
        target.set(U32, offset, (int) value);
    }

    private void put16(MemorySegment target, long offset, long value, ElfObject o, int rela, long entry) {
        if (value < Short.MIN_VALUE || value > 0xffff) {
            throw overflow(o, rela, entry, value, "a 16-bit field");
        }
        target.set(U16, offset, (short) value);
    }

    private void putSigned16(MemorySegment target, long offset, long value, ElfObject o, int rela, long entry) {
        if (value != (short) value) {
            throw overflow(o, rela, entry, value, "a signed 16-bit field");
        }
        target.set(U16, offset, (short) value);
    }

    private void put8(MemorySegment target, long offset, long value, ElfObject o, int rela, long entry) {
        if (value < Byte.MIN_VALUE || value > 0xff) {
            throw overflow(o, rela, entry, value, "an 8-bit field");
        }
        target.set(ValueLayout.JAVA_BYTE, offset, (byte) value);
    }

    private void putSigned8(MemorySegment target, long offset, long value, ElfObject o, int rela, long entry) {
        if (value != (byte) value) {
            throw overflow(o, rela, entry, value, "a signed 8-bit field");
        }
        target.set(ValueLayout.JAVA_BYTE, offset, (byte) value);
    }
}
